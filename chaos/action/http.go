package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gameday/gameday/chaos"
)

// Backoff between the attempts of a request: FirstBackoff after the first
// failed attempt, doubling after each further one, at most MaxBackoff.
const (
	FirstBackoff = 100 * time.Millisecond
	MaxBackoff   = 2 * time.Second
)

// HTTPRequest is one request of an HTTP action fault, sent as given: the
// scenario layer fills it complete and valid.
type HTTPRequest struct {
	// Method is the request's method, e.g. "POST"; "" sends GET, as net/http
	// does.
	Method string
	// URL is the absolute http or https URL, already rendered. Its query,
	// fragment and userinfo are never recorded nor put in an error: they may
	// carry secrets.
	URL string
	// Body is the request's body; "" sends none.
	Body string
	// Header is added to the request, "Host" included; it is never recorded.
	Header http.Header
	// Expect lists the status codes that mean success; empty means any 2xx.
	Expect []int
	// Timeout bounds each attempt, from sending the request to reading the
	// whole response body; 0 means no bound besides ctx.
	Timeout time.Duration
	// Retries is how many further attempts follow a failed one (no response,
	// or a status not in Expect), each after a backoff (see FirstBackoff),
	// all within ctx; below 1, the request is sent once.
	Retries int
}

// HTTPSpec says what an HTTP action fault sends.
type HTTPSpec struct {
	// Inject is the request Inject sends.
	Inject HTTPRequest
	// Recover is the request Recover sends; nil means none: the fault ends by
	// itself (see HTTPFault.EndsByItself).
	Recover *HTTPRequest
	// Client sends the requests, with its own redirect policy; nil means a
	// client from NewClient.
	Client *http.Client
}

// NewClient returns the client an HTTP action fault uses when its spec names
// none. It follows no redirect: a 3xx is the answer, judged against Expect,
// so that a redirect to a login page never passes for a successful admin
// call. It keeps no connection alive between requests, and otherwise behaves
// as http.DefaultTransport (proxies from the environment included).
func NewClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableKeepAlives = true
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// HTTPFault is an action fault that sends HTTP requests: Inject sends the
// inject request, retried as its spec says, and opens one record when the
// answer has an expected status; Recover sends the recover request, if any,
// and closes the record when that answer does.
//
// The record's Target is the inject request's method and URL without query,
// fragment and userinfo ("POST http://127.0.0.1:8080/failover"); its Action
// adds the status and the number of attempts when more than one ("POST
// http://127.0.0.1:8080/failover → 200 (2 attempts)"); its Output is the
// response body, bounded by MaxOutput. The closed record's Output adds the
// recover request's result and body below a RecoverHeader line.
//
// It is safe for use by one Inject or Recover at a time; a call made while
// another runs waits for it, or for ctx to end.
type HTTPFault struct {
	core fault
}

var _ chaos.Fault = (*HTTPFault)(nil)

// NewHTTP returns the HTTP action fault named name that sends what spec says.
// Nothing is sent until Inject.
func NewHTTP(name string, spec HTTPSpec) *HTTPFault {
	c := spec.Client
	if c == nil {
		c = NewClient()
	}
	inj := newSender(spec.Inject, c)
	var rcv act
	if spec.Recover != nil {
		rcv = newSender(*spec.Recover, c).send
	}
	return &HTTPFault{core: newFault(name, inj.what, inj.send, rcv)}
}

// Name returns the fault's name in the scenario.
func (f *HTTPFault) Name() string { return f.core.name }

// EndsByItself reports whether the fault has no recover request: its effect
// is the inject request alone, so the orchestrator calls Recover right after
// Inject, and Recover closes the record at once.
func (f *HTTPFault) EndsByItself() bool { return f.core.recover == nil }

// Inject sends the inject request and returns the one record it opened,
// InjectedAt being when the first attempt started. When the last attempt got
// no answer or one with an unexpected status, or ctx ended, it returns an
// *Error, wrapped, with the status and the response body, and opens no
// record. It is an error while the record is open.
func (f *HTTPFault) Inject(ctx context.Context) ([]chaos.Record, error) {
	return f.core.doInject(ctx)
}

// Recover sends the recover request, if the spec has one, and closes the
// record: RecoveredAt is when the expected answer was read, or now when there
// is no recover request. When the recover request fails it returns an
// *Error, wrapped, and the record stays open, so that a later Recover sends
// it again. With no open record (before Inject, after a failed Inject, or a
// second time) it sends nothing and returns no record and no error.
func (f *HTTPFault) Recover(ctx context.Context) ([]chaos.Record, error) {
	return f.core.doRecover(ctx)
}

// sender sends one HTTPRequest.
type sender struct {
	req    HTTPRequest
	client *http.Client
	// what is the method and the URL without query, fragment and userinfo:
	// "POST http://127.0.0.1:8080/failover".
	what string
	// badURL, when set, is why the URL does not parse (without the URL).
	badURL error
}

func newSender(r HTTPRequest, c *http.Client) *sender {
	r.Header = r.Header.Clone()
	r.Expect = slices.Clone(r.Expect)
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	s := &sender{req: r, client: c}
	u, err := url.Parse(r.URL)
	if err != nil {
		s.what, s.badURL = method+" (invalid URL)", unwrapURLError(err)
		return s
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	s.what = method + " " + u.String()
	return s
}

// send sends the request, again after each failed attempt while retries are
// left, and returns the first expected answer.
func (s *sender) send(ctx context.Context) (result, error) {
	if s.badURL != nil {
		return result{}, &Error{Action: s.what + " → not sent", Err: s.badURL}
	}
	backoff := FirstBackoff
	for n := 1; ; n++ {
		code, output, err := s.attempt(ctx)
		if err == nil && s.expected(code) {
			return result{action: s.what + " → " + strconv.Itoa(code) + attempts(n, false), output: output}, nil
		}
		failed := &Error{Action: s.what + " → no response" + attempts(n, true), Err: err}
		if err == nil {
			failed = &Error{Action: s.what + " → " + strconv.Itoa(code) + attempts(n, true) + ", want " + s.want(), Output: output}
		}
		if n > s.req.Retries {
			return result{}, failed
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			switch {
			case failed.Err == nil:
				failed.Err = fmt.Errorf("stopped retrying: %w", ctx.Err())
			case !errors.Is(failed.Err, ctx.Err()):
				failed.Err = fmt.Errorf("%w; stopped retrying: %w", failed.Err, ctx.Err())
			}
			return result{}, failed
		}
		backoff = min(2*backoff, MaxBackoff)
	}
}

// attempt sends the request once and reads the whole answer, keeping the
// first MaxOutput bytes of its body. A body that cannot be read to its end
// is noted in the output: the status still decides.
func (s *sender) attempt(ctx context.Context) (code int, output string, err error) {
	actx := ctx
	if s.req.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, s.req.Timeout)
		defer cancel()
	}
	var body io.Reader
	if s.req.Body != "" {
		body = strings.NewReader(s.req.Body)
	}
	req, err := http.NewRequestWithContext(actx, s.req.Method, s.req.URL, body)
	if err != nil {
		return 0, "", unwrapURLError(err)
	}
	for k, vs := range s.req.Header {
		req.Header[k] = slices.Clone(vs)
	}
	if h := s.req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	req.Close = true
	resp, err := s.client.Do(req)
	if err != nil {
		err = unwrapURLError(err)
		if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("attempt timed out after %v: %w", s.req.Timeout, err)
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	out := &headWriter{max: MaxOutput}
	_, rerr := io.Copy(out, resp.Body)
	output = out.String()
	if rerr != nil {
		if output != "" && !strings.HasSuffix(output, "\n") {
			output += "\n"
		}
		output += "[body not read to its end: " + rerr.Error() + "]"
	}
	return resp.StatusCode, output, nil
}

// expected reports whether code means success.
func (s *sender) expected(code int) bool {
	if len(s.req.Expect) == 0 {
		return code >= 200 && code <= 299
	}
	return slices.Contains(s.req.Expect, code)
}

// want says which codes mean success: "2xx", "200", "200 or 202", "200, 201
// or 204".
func (s *sender) want() string {
	if len(s.req.Expect) == 0 {
		return "2xx"
	}
	codes := make([]string, len(s.req.Expect))
	for i, c := range s.req.Expect {
		codes[i] = strconv.Itoa(c)
	}
	if len(codes) == 1 {
		return codes[0]
	}
	return strings.Join(codes[:len(codes)-1], ", ") + " or " + codes[len(codes)-1]
}

// attempts says how many attempts were made: nothing for one that
// succeeded, " (1 attempt)" for one that failed, " (3 attempts)".
func attempts(n int, failed bool) string {
	switch {
	case n == 1 && !failed:
		return ""
	case n == 1:
		return " (1 attempt)"
	default:
		return " (" + strconv.Itoa(n) + " attempts)"
	}
}

// unwrapURLError returns the error a *url.Error wraps, whose message does not
// hold the URL (its query may carry a secret); any other error as it is.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
