package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// statusClientClosed is the code counted for a request whose client went
// away before an answer (nginx's 499).
const statusClientClosed = 499

// upstreamHeader names, on every proxied answer, the backend that gave it.
const upstreamHeader = "X-Notes-Upstream"

// setupFront is the front mode: a reverse proxy over --backends.
func setupFront(c config, env env) (http.Handler, func() error, error) {
	h, err := newFront(frontConfig{
		backends: c.backends,
		timeout:  c.upstreamTimeout,
		ejectFor: c.ejectFor,
		now:      time.Now,
	}, env.registry, env.metrics, env.log)
	return h, nil, err
}

// frontConfig configures a front.
type frontConfig struct {
	backends []*url.URL    // base URLs, at least one
	timeout  time.Duration // of one attempt on one backend, body included
	ejectFor time.Duration // how long a failed backend is skipped; 0: never
	now      func() time.Time
}

// upstream is one backend of the front.
type upstream struct {
	index        int
	url          *url.URL
	name         string       // url.String(): the backend label, the upstreamHeader value
	ejectedUntil atomic.Int64 // Unix nanoseconds; skipped before then
}

// up reports whether u is not ejected at now.
func (u *upstream) up(now time.Time) bool { return now.UnixNano() >= u.ejectedUntil.Load() }

// front balances requests over upstreams. Each request goes to the next
// backend in turn that is not ejected (to the next in turn when all are).
// When that attempt fails, with a connection error, a timeout or a 5xx, the
// backend is ejected for ejectFor, and a GET, HEAD or PUT is sent once more,
// to the next backend in turn after it:
//
//	request ─▶ pick ─▶ attempt on A ──ok──▶ answer from A
//	                       │ fails: eject A
//	                       ▼ (GET, HEAD, PUT only)
//	            attempt on the next after A ──▶ its answer, or 502/504
type front struct {
	ups      []*upstream
	next     atomic.Uint64 // round-robin cursor
	inner    http.RoundTripper
	timeout  time.Duration
	ejectFor time.Duration
	now      func() time.Time
	log      *slog.Logger
	retries  prometheus.Counter
}

// newFront returns the front's handler: /healthz, /metrics (served by
// metrics) and every other request proxied, counted in
// notes_front_requests_total{code} and timed in
// notes_front_request_duration_seconds; retries count in
// notes_front_retries_total, and notes_front_upstream_up{backend} is 0 while
// a backend is ejected. The metrics are registered on reg.
func newFront(c frontConfig, reg prometheus.Registerer, metrics http.Handler, log *slog.Logger) (http.Handler, error) {
	if len(c.backends) == 0 {
		return nil, errors.New("no backends")
	}
	f := &front{
		inner: &http.Transport{
			Proxy:               nil, // loopback and private addresses: never through an environment proxy
			DialContext:         (&net.Dialer{Timeout: c.timeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		},
		timeout:  c.timeout,
		ejectFor: c.ejectFor,
		now:      c.now,
		log:      log,
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "notes_front_retries_total",
			Help: "Requests the front sent to a second backend after the first failed.",
		}),
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "notes_front_requests_total",
		Help: "Requests the front proxied, by the status code it answered.",
	}, []string{"code"})
	duration := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "notes_front_request_duration_seconds",
		Help:    "Time the front took to answer a proxied request, retries included.",
		Buckets: durationBuckets(),
	})
	collectors := []prometheus.Collector{requests, duration, f.retries}
	for i, b := range c.backends {
		u := &upstream{index: i, url: b, name: b.String()}
		f.ups = append(f.ups, u)
		collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "notes_front_upstream_up",
			Help:        "1 while the front sends requests to the backend, 0 while it is ejected.",
			ConstLabels: prometheus.Labels{"backend": u.name},
		}, func() float64 {
			if u.up(f.now()) {
				return 1
			}
			return 0
		}))
	}
	for _, col := range collectors {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("register front metrics: %w", err)
		}
	}

	proxy := &httputil.ReverseProxy{
		Rewrite:      func(pr *httputil.ProxyRequest) { pr.SetXForwarded() },
		Transport:    f,
		ErrorHandler: f.proxyError,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", f.healthz)
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			elapsed := time.Since(start)
			code := rec.status()
			requests.WithLabelValues(strconv.Itoa(code)).Inc()
			duration.Observe(elapsed.Seconds())
			log.Debug("request", "method", r.Method, "path", r.URL.Path, "code", code,
				"upstream", rec.Header().Get(upstreamHeader), "duration", elapsed.String())
		}()
		// Buffer the body, so that a retry can send it again.
		body, err := readBody(rec, r)
		if err != nil {
			bodyError(rec, err)
			return
		}
		r.Body, r.ContentLength, r.TransferEncoding = io.NopCloser(bytes.NewReader(body)), int64(len(body)), nil
		proxy.ServeHTTP(rec, r)
	})
	return mux, nil
}

// healthz answers 200 while at least one backend is not ejected, else 503.
func (f *front) healthz(w http.ResponseWriter, _ *http.Request) {
	now, up := f.now(), 0
	for _, u := range f.ups {
		if u.up(now) {
			up++
		}
	}
	code, status := http.StatusOK, "ok"
	if up == 0 {
		code, status = http.StatusServiceUnavailable, "every backend ejected"
	}
	writeJSON(w, code, map[string]any{"status": status, "backends_up": up, "backends": len(f.ups)})
}

// retryable reports whether a request with method may be sent twice.
func retryable(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodPut
}

// RoundTrip sends req, whose URL has no host yet, to a backend, and once
// more to the next backend when the first attempt fails and req may be sent
// twice. It returns the last attempt's answer or error.
func (f *front) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body) // already in memory: see newFront
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		body = b
	}
	first := f.pick()
	resp, err := f.attempt(req, first, body)
	if err == nil && resp.StatusCode < 500 || !retryable(req.Method) || req.Context().Err() != nil || len(f.ups) < 2 {
		return resp, err
	}
	if resp != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)) // lets the connection be reused
		resp.Body.Close()
	}
	second := f.after(first)
	f.retries.Inc()
	f.log.Debug("retry", "method", req.Method, "path", req.URL.Path, "failed", first.name, "next", second.name)
	return f.attempt(req, second, body)
}

// pick returns the next backend in turn that is not ejected; when all are,
// the next in turn: asking a backend that may have recovered beats failing
// without asking.
func (f *front) pick() *upstream {
	start := f.next.Add(1) - 1
	return f.firstUp(int(start % uint64(len(f.ups)))) //nolint:gosec // G115: the remainder is below len(f.ups)
}

// after returns the backend to retry on when failed failed: the first one
// after it in turn that is not ejected, else the one right after it.
func (f *front) after(failed *upstream) *upstream {
	return f.firstUp((failed.index + 1) % len(f.ups))
}

// firstUp returns the first backend from index i on, wrapping around, that
// is not ejected; ups[i] when all are.
func (f *front) firstUp(i int) *upstream {
	now := f.now()
	for k := range len(f.ups) {
		if u := f.ups[(i+k)%len(f.ups)]; u.up(now) {
			return u
		}
	}
	return f.ups[i]
}

// attempt sends req with body to u within the per-attempt timeout and ejects
// u when it fails (unless the client went away). The timeout runs until the
// answer's body is closed.
func (f *front) attempt(req *http.Request, u *upstream, body []byte) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), f.timeout)
	out := req.Clone(ctx)
	out.URL.Scheme, out.URL.Host, out.Host = u.url.Scheme, u.url.Host, ""
	out.Body, out.GetBody, out.ContentLength = nil, nil, int64(len(body))
	if len(body) > 0 {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := f.inner.RoundTrip(out)
	if err != nil {
		cancel()
		if req.Context().Err() == nil {
			f.eject(u, err.Error())
		}
		return nil, &upstreamError{backend: u.name, err: err}
	}
	if resp.StatusCode >= 500 {
		f.eject(u, "status "+strconv.Itoa(resp.StatusCode))
	}
	resp.Header.Set(upstreamHeader, u.name)
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// eject skips u for ejectFor from now.
func (f *front) eject(u *upstream, why string) {
	if f.ejectFor == 0 {
		return
	}
	now := f.now()
	was := u.up(now)
	u.ejectedUntil.Store(now.Add(f.ejectFor).UnixNano())
	if was {
		f.log.Warn("backend ejected", "backend", u.name, "for", f.ejectFor.String(), "why", why)
	}
}

// proxyError answers a request whose last attempt got no answer: 504 when
// it timed out, 502 otherwise, 499 (unread) when the client went away.
func (f *front) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		w.WriteHeader(statusClientClosed) // for the metrics: nobody reads it
		return
	}
	code := http.StatusBadGateway
	if errors.Is(err, context.DeadlineExceeded) {
		code = http.StatusGatewayTimeout
	}
	var ue *upstreamError
	if errors.As(err, &ue) {
		w.Header().Set(upstreamHeader, ue.backend)
	}
	f.log.Warn("no answer from a backend", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	writeError(w, code, err.Error())
}

// upstreamError is a failed attempt on a backend.
type upstreamError struct {
	backend string
	err     error
}

func (e *upstreamError) Error() string { return fmt.Sprintf("backend %s: %v", e.backend, e.err) }
func (e *upstreamError) Unwrap() error { return e.err }

// cancelOnClose calls cancel once the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
