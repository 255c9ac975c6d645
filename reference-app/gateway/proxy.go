package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// IdempotencyKeyHeader marks a POST as safe to retry.
const IdempotencyKeyHeader = "Idempotency-Key"

// StatusClientClosedRequest is the status recorded when the client went
// away before the upstream answered (nginx's 499); nobody receives it.
const StatusClientClosedRequest = 499

// ServeHTTP proxies r to an upstream chosen by the balance policy among
// those it may route to. In order:
//
//   - a client over its rate limit gets 429 with Retry-After and a JSON
//     error, and nothing is proxied;
//   - a body over MaxBodyBytes gets 413;
//   - with no upstream to route to, 503 with Retry-After;
//   - a retryable request (see Retryable) that gets a connection error or a
//     502, 503 or 504 is sent once more, to another upstream, if the retry
//     budget allows and there is one, before anything is written to the
//     client;
//   - 502 when the upstream could not be reached, 504 when the upstream
//     timeout expired; otherwise the upstream's answer, as it came.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.limiter != nil {
		if ok, wait := g.limiter.admit(ClientKey(r), g.opts.now()); !ok {
			g.metrics.rateLimited.Inc()
			w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(wait), 10))
			writeError(w, http.StatusTooManyRequests, "rate limit exceeded")
			return
		}
	}
	body, err := readBody(w, r)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "reading the request body failed")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.opts.upstreamTimeout)
	defer cancel()

	now := g.opts.now()
	u := g.pick(now, nil)
	if u == nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "no healthy upstream")
		return
	}
	g.budget.request(now)
	resp, err := g.attempt(ctx, r, u, body)
	if Retryable(r) && failed(ctx, resp, err) {
		now := g.opts.now()
		switch alt := g.pick(now, u); {
		case alt == nil:
			g.metrics.retries.WithLabelValues(RetryNoOtherUpstream).Inc()
		case !g.budget.allowRetry(now):
			g.metrics.retries.WithLabelValues(RetryBudgetExhausted).Inc()
		default:
			g.metrics.retries.WithLabelValues(RetryRetried).Inc()
			if resp != nil {
				resp.Body.Close()
			}
			resp, err = g.attempt(ctx, r, alt, body)
		}
	}
	if err != nil {
		g.answerError(ctx, w, r, err)
		return
	}
	defer resp.Body.Close()
	copyResponse(w, resp)
}

// Retryable reports whether r may be sent twice: its method is idempotent
// (GET, HEAD, OPTIONS, PUT, DELETE) or it is a POST carrying an
// Idempotency-Key header. Idempotent means that a second copy leaves the
// state the first left, not that it costs the upstream nothing: a retried
// PUT /v1/kv/{key} whose first copy reached the store anyway (its answer
// was lost, or the store logged it without acknowledging it) is a second
// store write of the same value.
func Retryable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	case http.MethodPost:
		return r.Header.Get(IdempotencyKeyHeader) != ""
	}
	return false
}

// failed reports whether an attempt failed in a way worth a retry: a
// connection error while the request still has time, or a 502/503/504.
func failed(ctx context.Context, resp *http.Response, err error) bool {
	if err != nil {
		return ctx.Err() == nil
	}
	return gatewayFailure(resp.StatusCode)
}

// gatewayFailure reports whether an upstream's status says it could not
// serve the request (502, 503, 504): worth a retry elsewhere, and a strike
// towards ejection.
func gatewayFailure(status int) bool {
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// readBody reads r's whole body, up to MaxBodyBytes, so that it can be sent
// more than once.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > MaxBodyBytes {
		// Refused before a byte of it is read: a client that sent
		// "Expect: 100-continue" never sends the body at all.
		return nil, fmt.Errorf("read request body: %w", &http.MaxBytesError{Limit: MaxBodyBytes})
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return b, nil
}

// attempt sends r with body to u and records the outcome for outlier
// ejection. A response's body counts as outstanding on u until closed.
func (g *Gateway) attempt(ctx context.Context, r *http.Request, u *upstream, body []byte) (*http.Response, error) {
	out := r.Clone(ctx)
	out.RequestURI = ""
	out.URL.Scheme = u.url.Scheme
	out.URL.Host = u.url.Host
	out.Host = u.url.Host
	out.Close = false
	out.TransferEncoding = nil
	out.Trailer = nil
	out.ContentLength = int64(len(body))
	out.Body = http.NoBody
	out.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	if len(body) > 0 {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	removeHopHeaders(out.Header)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		out.Header.Set("X-Forwarded-For", ip)
	}
	out.Header.Set("X-Forwarded-Host", r.Host)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	out.Header.Set("X-Forwarded-Proto", proto)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // do not let the transport add Go's
	}

	u.outstanding.Add(1)
	start := time.Now()
	busy := g.metrics.busy.WithLabelValues(u.name)
	resp, err := g.transport.RoundTrip(out)
	if err != nil {
		u.outstanding.Add(-1)
		busy.Add(time.Since(start).Seconds())
		code := codeError
		switch {
		case r.Context().Err() != nil:
			code = codeCanceled
		case ctx.Err() != nil:
			code = codeTimeout
		default:
			g.attemptFailed(u, g.opts.now(), true, err.Error())
		}
		g.metrics.requests.WithLabelValues(u.name, code).Inc()
		return nil, fmt.Errorf("proxy to %s: %w", u.name, err)
	}
	resp.Body = &trackedBody{ReadCloser: resp.Body, u: u, done: func() { busy.Add(time.Since(start).Seconds()) }}
	g.metrics.requests.WithLabelValues(u.name, strconv.Itoa(resp.StatusCode)).Inc()
	if gatewayFailure(resp.StatusCode) {
		g.attemptFailed(u, g.opts.now(), false, "status "+strconv.Itoa(resp.StatusCode))
	} else {
		g.attemptSucceeded(u, g.opts.now())
	}
	return resp, nil
}

// answerError answers a request whose last attempt got no response.
func (g *Gateway) answerError(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case r.Context().Err() != nil:
		w.WriteHeader(StatusClientClosedRequest)
	case ctx.Err() != nil:
		writeError(w, http.StatusGatewayTimeout, "upstream timed out")
	default:
		g.opts.log.Warn("proxy failed", "method", r.Method, "err", err)
		writeError(w, http.StatusBadGateway, "upstream unreachable")
	}
}

// copyResponse streams resp to w. Once the status is written nothing can be
// retried; a body cut short aborts the client's connection so that the
// client cannot mistake a truncated body for a whole one.
func copyResponse(w http.ResponseWriter, resp *http.Response) {
	removeHopHeaders(resp.Header)
	h := w.Header()
	for k, vv := range resp.Header {
		h[k] = vv
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// writeError writes the gateway's own JSON error answer.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg}) // the status is sent: a write error means the client left
}
