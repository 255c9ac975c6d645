package action

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/chaostest"
)

// serve starts h on 127.0.0.1:0 for the length of t.
func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPConformance(t *testing.T) {
	// The target: an admin API whose /failover sets a flag and /failback
	// clears it; the effect is the flag.
	var failedOver *atomic.Bool
	chaostest.Run(t, chaostest.Harness{
		New: func(t *testing.T) chaos.Fault {
			flag := new(atomic.Bool)
			failedOver = flag
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodPost && r.URL.Path == "/failover":
					flag.Store(true)
				case r.Method == http.MethodPost && r.URL.Path == "/failback":
					flag.Store(false)
				default:
					http.NotFound(w, r)
				}
			})
			return NewHTTP("failover", HTTPSpec{
				Inject:  HTTPRequest{Method: http.MethodPost, URL: srv.URL + "/failover"},
				Recover: &HTTPRequest{Method: http.MethodPost, URL: srv.URL + "/failback"},
			})
		},
		Observed: func(t *testing.T) bool { return failedOver.Load() },
	})
}

func TestHTTPExpect(t *testing.T) {
	// The server answers /status/N with status N and the body "answer N".
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if code/100 == 3 {
			w.Header().Set("Location", "/status/200")
		}
		w.WriteHeader(code)
		io.WriteString(w, "answer "+strconv.Itoa(code))
	})
	tests := []struct {
		name   string
		status int
		expect []int
		want   string // the record's Action after the URL; "" when Inject must fail
		errs   string // in Inject's error when it must fail
	}{
		// No Expect: any 2xx.
		{"2xx by default", 201, nil, " → 201", ""},
		{"200 by default", 200, nil, " → 200", ""},
		// A listed code.
		{"listed", 202, []int{200, 202}, " → 202", ""},
		// A 2xx that is not listed fails.
		{"2xx not listed", 202, []int{200}, "", " → 202 (1 attempt), want 200; output:\nanswer 202"},
		// A redirect is not followed: with no Expect it is not a 2xx...
		{"redirect fails", 302, nil, "", " → 302 (1 attempt), want 2xx; output:\nanswer 302"},
		// ...and it is the answer when listed.
		{"redirect listed", 307, []int{307}, " → 307", ""},
		// Several codes in the error.
		{"several", 404, []int{200, 201, 204}, "", " → 404 (1 attempt), want 200, 201 or 204"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := srv.URL + "/status/" + strconv.Itoa(tt.status)
			f := NewHTTP("expect", HTTPSpec{Inject: HTTPRequest{Method: http.MethodPost, URL: url, Expect: tt.expect}})
			recs, err := f.Inject(t.Context())
			if tt.errs != "" {
				if err == nil || len(recs) != 0 {
					t.Fatalf("Inject() = %+v, %v; want no records and an error", recs, err)
				}
				contains(t, "Inject() error", err.Error(), `inject "expect": POST `+url+tt.errs)
				return
			}
			if err != nil || len(recs) != 1 {
				t.Fatalf("Inject() = %+v, %v; want one record", recs, err)
			}
			if want := "POST " + url + tt.want; recs[0].Action != want {
				t.Errorf("Inject() Action = %q; want %q", recs[0].Action, want)
			}
			if want := "answer " + strconv.Itoa(tt.status); recs[0].Output != want {
				t.Errorf("Inject() Output = %q; want %q", recs[0].Output, want)
			}
		})
	}
}

func TestHTTPServerError(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database is read-only", http.StatusInternalServerError)
	})
	f := NewHTTP("failover", HTTPSpec{
		Inject:  HTTPRequest{Method: http.MethodPost, URL: srv.URL + "/failover"},
		Recover: &HTTPRequest{Method: http.MethodPost, URL: srv.URL + "/failback"},
	})
	recs, err := f.Inject(t.Context())
	if err == nil || len(recs) != 0 {
		t.Fatalf("Inject() = %+v, %v; want no records and an error", recs, err)
	}
	want := `inject "failover": POST ` + srv.URL + "/failover → 500 (1 attempt), want 2xx; output:\ndatabase is read-only"
	if err.Error() != want {
		t.Errorf("Inject() error = %q; want %q", err, want)
	}
	var ae *Error
	if !errors.As(err, &ae) || ae.Output != "database is read-only\n" {
		t.Errorf("Inject() error = %#v; want an *Error with the body as Output", err)
	}
	// Nothing is open: Recover sends nothing and closes nothing.
	if recs, err := f.Recover(t.Context()); err != nil || len(recs) != 0 {
		t.Errorf("Recover() after a failed Inject = %+v, %v; want nothing, no error", recs, err)
	}
}

func TestHTTPRetries(t *testing.T) {
	tests := []struct {
		name     string
		failures int // answers 503 to that many requests first, then 200
		retries  int
		attempts int64  // requests the server must see
		want     string // the record's Action after "POST URL"; "" when Inject must fail
		errs     string // in Inject's error after "POST URL" when it must fail
	}{
		// Fails twice, then answers 200 on the third attempt.
		{"succeeds on the third", 2, 2, 3, " → 200 (3 attempts)", ""},
		// More retries than needed: stops at the first success.
		{"stops at success", 2, 5, 3, " → 200 (3 attempts)", ""},
		// Not enough retries: the last failure is the error.
		{"runs out", 2, 1, 2, "", " → 503 (2 attempts), want 2xx; output:\nbusy 2"},
		// No retries: one attempt.
		{"none", 1, 0, 1, "", " → 503 (1 attempt), want 2xx; output:\nbusy 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen atomic.Int64
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				n := seen.Add(1)
				if n <= int64(tt.failures) {
					http.Error(w, "busy "+strconv.FormatInt(n, 10), http.StatusServiceUnavailable)
				}
			})
			url := srv.URL + "/flush"
			f := NewHTTP("flush", HTTPSpec{Inject: HTTPRequest{Method: http.MethodPost, URL: url, Retries: tt.retries}})
			recs, err := f.Inject(t.Context())
			if got := seen.Load(); got != tt.attempts {
				t.Errorf("server saw %d requests; want %d", got, tt.attempts)
			}
			if tt.errs != "" {
				if err == nil || len(recs) != 0 {
					t.Fatalf("Inject() = %+v, %v; want no records and an error", recs, err)
				}
				contains(t, "Inject() error", err.Error(), "POST "+url+tt.errs)
				return
			}
			if err != nil || len(recs) != 1 || recs[0].Action != "POST "+url+tt.want {
				t.Fatalf("Inject() = %+v, %v; want one record with Action %q", recs, err, "POST "+url+tt.want)
			}
		})
	}
}

func TestHTTPNoResponse(t *testing.T) {
	// A server that is gone: its port refuses connections.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/failover"
	srv.Close()
	f := NewHTTP("failover", HTTPSpec{Inject: HTTPRequest{Method: http.MethodPost, URL: url, Retries: 1}})
	recs, err := f.Inject(t.Context())
	if err == nil || len(recs) != 0 {
		t.Fatalf("Inject() = %+v, %v; want no records and an error", recs, err)
	}
	contains(t, "Inject() error", err.Error(), "POST "+url+" → no response (2 attempts): ", "connection refused")
}

func TestHTTPTimeoutPerAttempt(t *testing.T) {
	// The server answers nothing until the client gives up (or the test ends).
	var seen atomic.Int64
	release := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	url := srv.URL + "/failover"
	f := NewHTTP("failover", HTTPSpec{Inject: HTTPRequest{Method: http.MethodPost, URL: url, Timeout: 200 * time.Millisecond, Retries: 1}})
	recs, err := f.Inject(t.Context())
	if err == nil || len(recs) != 0 {
		t.Fatalf("Inject() = %+v, %v; want no records and an error", recs, err)
	}
	contains(t, "Inject() error", err.Error(), "POST "+url+" → no response (2 attempts): attempt timed out after 200ms")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Inject() error = %v; want one that is context.DeadlineExceeded", err)
	}
	if got := seen.Load(); got != 2 {
		t.Errorf("server saw %d requests; want 2", got)
	}
}

func TestHTTPCtxEndsDuringBackoff(t *testing.T) {
	// The spec's client answers 503 and ends ctx: the fault waits for its
	// backoff, sees ctx end, and stops.
	ctx, cancel := context.WithCancel(t.Context())
	var seen atomic.Int64
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen.Add(1)
		cancel()
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: io.NopCloser(strings.NewReader("busy")), Request: r}, nil
	})}
	f := NewHTTP("flush", HTTPSpec{Inject: HTTPRequest{Method: http.MethodPost, URL: "http://127.0.0.1:1/flush", Retries: 10}, Client: client})
	recs, err := f.Inject(ctx)
	if err == nil || len(recs) != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Inject() = %+v, %v; want no records and an error that is context.Canceled", recs, err)
	}
	contains(t, "Inject() error", err.Error(), "POST http://127.0.0.1:1/flush → 503 (1 attempt), want 2xx: stopped retrying: context canceled; output:\nbusy")
	if got := seen.Load(); got != 1 {
		t.Errorf("client sent %d requests; want 1", got)
	}
}

// roundTripFunc is an http.RoundTripper that calls itself.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHTTPSecretsNeverRecorded(t *testing.T) {
	const secret, password = "s3cret-token", "hunter2"
	tests := []struct {
		name   string
		status int  // the server's answer
		gone   bool // the server is gone: no response
	}{
		// A record opens: Target and Action hold the URL without query and userinfo.
		{"success", 200, false},
		// The error of an unexpected status.
		{"failure", 500, false},
		// The error of no response, which net/http words with the whole URL.
		{"no response", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
			}))
			base := srv.URL
			if tt.gone {
				srv.Close()
			} else {
				t.Cleanup(srv.Close)
			}
			host := strings.TrimPrefix(base, "http://")
			url := "http://admin:" + password + "@" + host + "/failover?token=" + secret + "#frag-" + secret
			f := NewHTTP("failover", HTTPSpec{Inject: HTTPRequest{Method: http.MethodPost, URL: url}})
			recs, err := f.Inject(t.Context())
			var said []string
			for _, r := range recs {
				said = append(said, r.Target, r.Action)
				if want := "POST " + base + "/failover"; r.Target != want {
					t.Errorf("Inject() Target = %q; want %q", r.Target, want)
				}
			}
			if err != nil {
				said = append(said, err.Error())
			}
			if len(said) == 0 {
				t.Fatalf("Inject() = %+v, %v; want a record or an error", recs, err)
			}
			for _, s := range said {
				if strings.Contains(s, secret) || strings.Contains(s, password) {
					t.Errorf("Inject() says %q; want no query, fragment or password in it", s)
				}
			}
		})
	}
}

func TestHTTPSendsAsGiven(t *testing.T) {
	type seen struct{ method, host, path, query, token, body string }
	got := make(chan seen, 1)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Host, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Token"), string(b)}
	})
	f := NewHTTP("drain", HTTPSpec{Inject: HTTPRequest{
		Method: http.MethodPut,
		URL:    srv.URL + "/nodes/2/drain?now=1",
		Body:   `{"reason":"gameday"}`,
		Header: http.Header{"X-Token": {"t0k"}, "Host": {"admin.internal"}},
	}})
	if _, err := f.Inject(t.Context()); err != nil {
		t.Fatalf("Inject() = _, %v; want no error", err)
	}
	want := seen{"PUT", "admin.internal", "/nodes/2/drain", "now=1", "t0k", `{"reason":"gameday"}`}
	if s := <-got; s != want {
		t.Errorf("server saw %+v; want %+v", s, want)
	}
}

func TestHTTPOutputTruncated(t *testing.T) {
	body := strings.Repeat("x", MaxOutput+1000)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	f := NewHTTP("dump", HTTPSpec{Inject: HTTPRequest{URL: srv.URL}})
	recs, err := f.Inject(t.Context())
	if err != nil || len(recs) != 1 {
		t.Fatalf("Inject() = %+v, %v; want one record", recs, err)
	}
	if want := body[:MaxOutput] + "\n" + Truncated + " 1000 more bytes"; recs[0].Output != want {
		t.Errorf("Inject() Output = %d bytes ending %q; want %d bytes ending %q",
			len(recs[0].Output), tail(recs[0].Output), len(want), tail(want))
	}
	if want := "GET " + srv.URL + " → 200"; recs[0].Action != want {
		t.Errorf("Inject() Action = %q; want %q (an empty Method is GET)", recs[0].Action, want)
	}
}

func TestHTTPRecover(t *testing.T) {
	// /inject answers "injected"; /recover fails until healthy is set.
	var healthy atomic.Bool
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/inject":
			io.WriteString(w, "injected\n")
		case healthy.Load():
			io.WriteString(w, "recovered\n")
		default:
			http.Error(w, "not yet", http.StatusConflict)
		}
	})
	inject := HTTPRequest{Method: http.MethodPost, URL: srv.URL + "/inject"}

	t.Run("none", func(t *testing.T) {
		f := NewHTTP("flush", HTTPSpec{Inject: inject})
		if !f.EndsByItself() {
			t.Errorf("EndsByItself() = false; want true with no recover request")
		}
		injected, err := f.Inject(t.Context())
		if err != nil {
			t.Fatalf("Inject() = _, %v; want no error", err)
		}
		closed, err := f.Recover(t.Context())
		if err != nil || len(closed) != 1 || !closed[0].Recovered() || closed[0].Output != injected[0].Output {
			t.Fatalf("Recover() = %+v, %v; want Inject's record %+v closed as it is", closed, err, injected[0])
		}
	})

	t.Run("fails then succeeds", func(t *testing.T) {
		f := NewHTTP("failover", HTTPSpec{Inject: inject, Recover: &HTTPRequest{Method: http.MethodPost, URL: srv.URL + "/recover"}})
		if f.EndsByItself() {
			t.Errorf("EndsByItself() = true; want false with a recover request")
		}
		if _, err := f.Inject(t.Context()); err != nil {
			t.Fatalf("Inject() = _, %v; want no error", err)
		}
		closed, err := f.Recover(t.Context())
		if err == nil || len(closed) != 0 {
			t.Fatalf("Recover() = %+v, %v; want no records and an error", closed, err)
		}
		contains(t, "Recover() error", err.Error(), `recover "failover": POST `+srv.URL+"/recover → 409 (1 attempt), want 2xx; output:\nnot yet")
		// The record is still open: a second Inject is refused, a later Recover retries.
		if recs, err := f.Inject(t.Context()); err == nil || len(recs) != 0 {
			t.Errorf("Inject() while open = %+v, %v; want no records and an error", recs, err)
		}
		healthy.Store(true)
		closed, err = f.Recover(t.Context())
		if err != nil || len(closed) != 1 || !closed[0].Recovered() {
			t.Fatalf("Recover() = %+v, %v; want the record closed", closed, err)
		}
		want := "injected\n" + RecoverHeader + "POST " + srv.URL + "/recover → 200 ---\nrecovered\n"
		if closed[0].Output != want {
			t.Errorf("Recover() Output = %q; want %q", closed[0].Output, want)
		}
	})
}

func TestHTTPOneCallAtATime(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
	})
	f := NewHTTP("slow", HTTPSpec{Inject: HTTPRequest{URL: srv.URL}})
	done := make(chan error, 1)
	go func() {
		_, err := f.Inject(context.Background())
		done <- err
	}()
	<-arrived
	// Inject runs: Recover waits for it, and gives up when its ctx ends.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if recs, err := f.Recover(ctx); !errors.Is(err, context.DeadlineExceeded) || len(recs) != 0 {
		t.Errorf("Recover() during Inject = %+v, %v; want no records and ctx's error", recs, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Inject() = _, %v; want no error", err)
	}
	if recs, err := f.Recover(t.Context()); err != nil || len(recs) != 1 {
		t.Errorf("Recover() after Inject = %+v, %v; want the record closed", recs, err)
	}
}

// tail returns the last 40 bytes of s.
func tail(s string) string { return s[max(0, len(s)-40):] }
