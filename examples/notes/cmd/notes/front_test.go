package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// fakeBackend is a backend of a front under test. It records what it is
// sent and answers by kind.
type fakeBackend struct {
	kind string // "ok": 200; "503": 503; "closed": refuses connections; "hang": never answers
	url  string

	mu  sync.Mutex // guards got
	got []seen
}

// seen is a request a fakeBackend got.
type seen struct {
	method, path, body, forwardedFor string
}

func (b *fakeBackend) requests() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seen(nil), b.got...)
}

// startFakes starts one fakeBackend per kind on 127.0.0.1.
func startFakes(t *testing.T, kinds ...string) []*fakeBackend {
	t.Helper()
	var fakes []*fakeBackend
	for _, kind := range kinds {
		b := &fakeBackend{kind: kind}
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			b.mu.Lock()
			b.got = append(b.got, seen{r.Method, r.URL.RequestURI(), string(body), r.Header.Get("X-Forwarded-For")})
			b.mu.Unlock()
			switch kind {
			case "503":
				writeError(w, http.StatusServiceUnavailable, "fake 503")
			case "hang":
				select {
				case <-r.Context().Done():
				case <-release:
				}
			default:
				writeJSON(w, http.StatusOK, map[string]string{"from": b.url})
			}
		}))
		b.url = srv.URL
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) }) // runs before srv.Close
		if kind == "closed" {
			srv.Close()
		}
		fakes = append(fakes, b)
	}
	return fakes
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testFront is a front under test.
type testFront struct {
	url   string
	reg   *prometheus.Registry
	clock *fakeClock
}

// startFront serves a front over fakes on 127.0.0.1; its clock stands still
// until told.
func startFront(t *testing.T, fakes []*fakeBackend, timeout, ejectFor time.Duration) testFront {
	t.Helper()
	var backends backendList
	for _, f := range fakes {
		u, err := url.Parse(f.url)
		if err != nil {
			t.Fatal(err)
		}
		backends = append(backends, u)
	}
	f := testFront{reg: prometheus.NewRegistry(), clock: &fakeClock{now: t0}}
	h, err := newFront(frontConfig{backends: backends, timeout: timeout, ejectFor: ejectFor, now: f.clock.Now},
		f.reg, promhttp.HandlerFor(f.reg, promhttp.HandlerOpts{}), discardLog)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// metric returns the value of the counter or gauge name{labels} in reg, or
// -1 when there is no such series.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if len(got) == len(labels) && (len(labels) == 0 || reflect.DeepEqual(got, labels)) {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func TestFrontRoundRobin(t *testing.T) {
	fakes := startFakes(t, "ok", "ok")
	f := startFront(t, fakes, time.Second, time.Minute)
	var order []string
	for range 4 {
		code, _, h := send(t, "GET", f.url+"/v1/notes?limit=1", "")
		if code != 200 {
			t.Fatalf("GET /v1/notes = %d; want 200", code)
		}
		order = append(order, h.Get(upstreamHeader))
	}
	if want := []string{fakes[0].url, fakes[1].url, fakes[0].url, fakes[1].url}; !reflect.DeepEqual(order, want) {
		t.Errorf("4 GETs answered by %v; want %v", order, want)
	}
	for _, b := range fakes {
		got := b.requests()
		if len(got) != 2 || got[0] != (seen{"GET", "/v1/notes?limit=1", "", "127.0.0.1"}) {
			t.Errorf("backend %s got %+v; want 2 of GET /v1/notes?limit=1 forwarded for 127.0.0.1", b.url, got)
		}
	}
	if got := metric(t, f.reg, "notes_front_requests_total", map[string]string{"code": "200"}); got != 4 {
		t.Errorf("notes_front_requests_total{code=200} = %v; want 4", got)
	}
	if got := metric(t, f.reg, "notes_front_retries_total", nil); got != 0 {
		t.Errorf("notes_front_retries_total = %v; want 0", got)
	}
}

func TestFrontFailover(t *testing.T) {
	const note = `{"text":"resend me"}`
	tests := []struct {
		name        string
		backends    []string // fakeBackend kinds
		ejectFor    time.Duration
		method      string
		body        string
		requests    int
		wantCode    int // of every request
		wantRetries float64
		wantUp      []float64 // notes_front_upstream_up by backend
		wantHealth  int
	}{
		// The first GET goes to the closed backend, is retried on the
		// other and ejects the closed one; the next ones skip it.
		{name: "closed backend", backends: []string{"closed", "ok"}, method: "GET", requests: 4,
			wantCode: 200, wantRetries: 1, wantUp: []float64{0, 1}, wantHealth: 200},
		{name: "backend answering 5xx", backends: []string{"503", "ok"}, method: "GET", requests: 4,
			wantCode: 200, wantRetries: 1, wantUp: []float64{0, 1}, wantHealth: 200},
		{name: "backend timing out", backends: []string{"hang", "ok"}, method: "GET", requests: 2,
			wantCode: 200, wantRetries: 1, wantUp: []float64{0, 1}, wantHealth: 200},
		// A PUT of a note by id is idempotent: its body goes again.
		{name: "PUT resent", backends: []string{"503", "ok"}, method: "PUT", body: note, requests: 1,
			wantCode: 200, wantRetries: 1, wantUp: []float64{0, 1}, wantHealth: 200},
		{name: "PUT to a closed backend resent", backends: []string{"closed", "ok"}, method: "PUT", body: note, requests: 1,
			wantCode: 200, wantRetries: 1, wantUp: []float64{0, 1}, wantHealth: 200},
		// A POST is not: the client gets the 5xx.
		{name: "POST not resent", backends: []string{"503", "ok"}, method: "POST", body: note, requests: 1,
			wantCode: 503, wantRetries: 0, wantUp: []float64{0, 1}, wantHealth: 200},
		{name: "both down", backends: []string{"closed", "closed"}, method: "GET", requests: 1,
			wantCode: 502, wantRetries: 1, wantUp: []float64{0, 0}, wantHealth: 503},
		// With every backend ejected the front still asks them, in turn.
		{name: "both down and ejected", backends: []string{"closed", "closed"}, method: "GET", requests: 3,
			wantCode: 502, wantRetries: 3, wantUp: []float64{0, 0}, wantHealth: 503},
		{name: "both timing out", backends: []string{"hang", "hang"}, method: "GET", requests: 1,
			wantCode: 504, wantRetries: 1, wantUp: []float64{0, 0}, wantHealth: 503},
		{name: "both answering 5xx", backends: []string{"503", "503"}, method: "PUT", body: note, requests: 1,
			wantCode: 503, wantRetries: 1, wantUp: []float64{0, 0}, wantHealth: 503},
		// No other backend to retry on.
		{name: "single backend down", backends: []string{"closed"}, method: "GET", requests: 2,
			wantCode: 502, wantRetries: 0, wantUp: []float64{0}, wantHealth: 503},
		// --eject-for=0: a failed backend keeps its turn, so every other
		// request is retried.
		{name: "no ejection", backends: []string{"closed", "ok"}, ejectFor: -1, method: "GET", requests: 4,
			wantCode: 200, wantRetries: 2, wantUp: []float64{1, 1}, wantHealth: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakes := startFakes(t, tt.backends...)
			ejectFor := time.Minute
			if tt.ejectFor < 0 {
				ejectFor = 0
			}
			f := startFront(t, fakes, 200*time.Millisecond, ejectFor)
			for i := range tt.requests {
				if code, body, _ := send(t, tt.method, f.url+"/v1/notes/n1", tt.body); code != tt.wantCode {
					t.Errorf("request %d: %s /v1/notes/n1 = %d %s; want %d", i, tt.method, code, body, tt.wantCode)
				}
			}
			if got := metric(t, f.reg, "notes_front_retries_total", nil); got != tt.wantRetries {
				t.Errorf("notes_front_retries_total = %v; want %v", got, tt.wantRetries)
			}
			if got := metric(t, f.reg, "notes_front_requests_total", map[string]string{"code": strconv.Itoa(tt.wantCode)}); got != float64(tt.requests) {
				t.Errorf("notes_front_requests_total{code=%d} = %v; want %d", tt.wantCode, got, tt.requests)
			}
			for i, b := range fakes {
				if got := metric(t, f.reg, "notes_front_upstream_up", map[string]string{"backend": b.url}); got != tt.wantUp[i] {
					t.Errorf("notes_front_upstream_up{backend=%s (%s)} = %v; want %v", b.url, b.kind, got, tt.wantUp[i])
				}
				for _, s := range b.requests() {
					if s.method != tt.method || s.path != "/v1/notes/n1" || s.body != tt.body {
						t.Errorf("backend %s (%s) got %s %s %q; want %s /v1/notes/n1 %q", b.url, b.kind, s.method, s.path, s.body, tt.method, tt.body)
					}
				}
			}
			if code, body, _ := send(t, "GET", f.url+"/healthz", ""); code != tt.wantHealth {
				t.Errorf("GET /healthz = %d %s; want %d", code, body, tt.wantHealth)
			}
		})
	}
}

func TestFrontEjectionExpires(t *testing.T) {
	fakes := startFakes(t, "closed", "ok")
	f := startFront(t, fakes, time.Second, 2*time.Second)
	retries := func() float64 { return metric(t, f.reg, "notes_front_retries_total", nil) }
	get := func() {
		t.Helper()
		if code, body, _ := send(t, "GET", f.url+"/v1/notes", ""); code != 200 {
			t.Fatalf("GET /v1/notes = %d %s; want 200", code, body)
		}
	}
	get() // turn of the closed backend: retried, and it is ejected
	if retries() != 1 {
		t.Fatalf("notes_front_retries_total after the first GET = %v; want 1", retries())
	}
	f.clock.Add(2*time.Second - time.Nanosecond)
	get()
	get() // its turn again, but still ejected
	if retries() != 1 {
		t.Errorf("notes_front_retries_total within --eject-for = %v; want 1", retries())
	}
	f.clock.Add(time.Nanosecond)
	if up := metric(t, f.reg, "notes_front_upstream_up", map[string]string{"backend": fakes[0].url}); up != 1 {
		t.Errorf("notes_front_upstream_up of the closed backend after --eject-for = %v; want 1", up)
	}
	get()
	get() // its turn: tried again, retried, ejected again
	if retries() != 2 {
		t.Errorf("notes_front_retries_total after --eject-for = %v; want 2", retries())
	}
	if up := metric(t, f.reg, "notes_front_upstream_up", map[string]string{"backend": fakes[0].url}); up != 0 {
		t.Errorf("notes_front_upstream_up of the closed backend = %v; want 0", up)
	}
}

func TestFrontBodyTooLarge(t *testing.T) {
	fakes := startFakes(t, "ok")
	f := startFront(t, fakes, time.Second, time.Minute)
	code, body, _ := send(t, "PUT", f.url+"/v1/notes/n1", strings.Repeat("x", maxBody+1))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "over 65536 bytes") {
		t.Errorf("PUT of %d bytes = %d %s; want 413", maxBody+1, code, body)
	}
	if got := fakes[0].requests(); len(got) != 0 {
		t.Errorf("backend got %d requests; want none", len(got))
	}
	if code, _, _ := send(t, "PUT", f.url+"/v1/notes/n1", strings.Repeat("x", maxBody)); code != 200 {
		t.Errorf("PUT of %d bytes = %d; want 200", maxBody, code)
	}
}
