package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/gameday/gameday/reference-app/api"
	"github.com/gameday/gameday/reference-app/api/apitest"
	"github.com/gameday/gameday/reference-app/server"
	"github.com/gameday/gameday/reference-app/telemetry"
)

// forever is a health interval long enough that only the first check runs:
// the upstream states then change only through proxying.
const forever = time.Hour

// apiSecret is the JWT key of the api replicas; apiToken is valid for them.
var (
	apiSecret   = []byte("gateway-test-secret-0123456789abcdef")
	apiToken, _ = jwtlib.NewWithClaims(jwtlib.SigningMethodHS256, jwtlib.RegisteredClaims{
		Issuer: api.DefaultIssuer, Subject: "u-gateway-test", ExpiresAt: jwtlib.NewNumericDate(time.Now().Add(24 * time.Hour)),
	}).SignedString(apiSecret)
)

// apiMux returns the routes of a real api replica named name over a fake
// store of its own, with /healthz.
func apiMux(t testing.TB, name string) *http.ServeMux {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", server.Healthz)
	a, err := api.New(api.Deps{Store: api.NewStoreClient(api.FixedPrimary(apitest.NewStore(t).URL()))}, apiSecret, name)
	if err != nil {
		t.Fatal(err)
	}
	a.Register(mux)
	return mux
}

// newAPI starts a real api replica named name on 127.0.0.1:0.
func newAPI(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(telemetry.WithInstance(name, apiMux(t, name)))
	t.Cleanup(srv.Close)
	return srv
}

// harness is a running gateway in front of backends.
type harness struct {
	g        *Gateway
	reg      *prometheus.Registry
	url      string // the gateway's base URL
	backends []*httptest.Server
}

// newHarness starts a gateway over backends, named api-0, api-1, ..., runs
// its health checks until the test ends, and waits until every backend is up.
// Rate limiting is off unless opts turn it on: every test client shares one
// IP.
func newHarness(t *testing.T, backends []*httptest.Server, opts ...Option) *harness {
	t.Helper()
	var urls, names []string
	for i, b := range backends {
		urls = append(urls, b.URL)
		names = append(names, fmt.Sprintf("api-%d", i))
	}
	ups, err := ParseUpstreams(urls, names)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g, err := New(ups, append([]Option{WithRegisterer(reg), WithRateLimit(0, 0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { g.Run(ctx); close(stopped) }()
	mux := http.NewServeMux()
	g.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-stopped
		g.Close()
	})
	h := &harness{g: g, reg: reg, url: srv.URL, backends: backends}
	h.waitFor(t, "every upstream up", func() bool { return h.upCount() == len(backends) })
	return h
}

func (h *harness) upCount() int {
	n := 0
	for _, s := range h.g.Status() {
		if s.Up {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds, failing the test after 10 s.
func (h *harness) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s; status %+v", what, h.g.Status())
		}
		time.Sleep(2 * time.Millisecond) // poll interval
	}
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type answer struct {
	status   int
	instance string
	header   http.Header
	body     string
}

func (h *harness) send(t *testing.T, method, path, body string, header map[string]string) answer {
	t.Helper()
	a, err := h.do(method, path, body, header)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// do is send for goroutines other than the test's: it returns the error.
func (h *harness) do(method, path, body string, header map[string]string) (answer, error) {
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return answer{resp.StatusCode, resp.Header.Get(telemetry.InstanceHeader), resp.Header, string(b)}, nil
}

// retries returns refapp_gateway_retries_total{result="retried"}.
func (h *harness) retries() float64 { return h.retriesBy(RetryRetried) }

func (h *harness) retriesBy(result string) float64 {
	return testutil.ToFloat64(h.g.metrics.retries.WithLabelValues(result))
}

// gauge returns the value of the gateway's gauge name{upstream=upstream},
// as a scrape would read it, or -1 when the series is absent.
func (h *harness) gauge(t *testing.T, name, upstream string) float64 {
	t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "upstream" && l.GetValue() == upstream {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// TestSequentialRequestsSpreadEvenly: one request at a time, round robin
// takes turns, and least-outstanding (every upstream idle, a tie each time)
// breaks its ties in turn, so both spread evenly.
func TestSequentialRequestsSpreadEvenly(t *testing.T) {
	for _, b := range []Balance{RoundRobin, LeastOutstanding} {
		t.Run(b.String(), func(t *testing.T) {
			h := newHarness(t, []*httptest.Server{newAPI(t, "api-0"), newAPI(t, "api-1"), newAPI(t, "api-2")},
				WithHealthInterval(forever), WithBalance(b))
			counts := map[string]int{}
			for range 30 {
				a := h.send(t, "GET", "/v1/feed", "", nil)
				if a.status != http.StatusOK {
					t.Fatalf("GET /v1/feed = %d %s; want 200", a.status, a.body)
				}
				counts[a.instance]++
			}
			for _, name := range []string{"api-0", "api-1", "api-2"} {
				if counts[name] != 10 {
					t.Errorf("30 GETs over 3 upstreams (%v): %s answered %d; want 10 (all: %v)", b, name, counts[name], counts)
				}
			}
		})
	}
}

func TestHealthCheckEjectsDeadUpstream(t *testing.T) {
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-0"), newAPI(t, "api-1"), newAPI(t, "api-2")},
		WithHealthInterval(5*time.Millisecond))
	h.backends[0].Close()
	h.waitFor(t, "api-0 down", func() bool { return !h.g.Status()[0].Up })
	if got := h.gauge(t, "refapp_gateway_upstream_up", "api-0"); got != 0 {
		t.Errorf("refapp_gateway_upstream_up{upstream=api-0} = %v; want 0", got)
	}
	if got := testutil.ToFloat64(h.g.metrics.checks.WithLabelValues("api-0", "failure")); got < DefaultUnhealthyThreshold {
		t.Errorf("refapp_gateway_health_checks_total{upstream=api-0,result=failure} = %v; want >= %d", got, DefaultUnhealthyThreshold)
	}
	for i := range 100 {
		a := h.send(t, "GET", "/v1/feed", "", nil)
		if a.status != http.StatusOK || a.instance == "api-0" {
			t.Fatalf("GET #%d after api-0 died = %d from %q; want 200 from a live replica", i, a.status, a.instance)
		}
	}
	if got := h.upCount(); got != 2 {
		t.Errorf("up upstreams after api-0 died = %d; want 2", got)
	}
	if got := h.gauge(t, "refapp_gateway_upstream_up", "api-1"); got != 1 {
		t.Errorf("refapp_gateway_upstream_up{upstream=api-1} = %v; want 1", got)
	}
}

func TestRecoveredUpstreamRejoins(t *testing.T) {
	// A replica that fails its health checks for a while, then passes.
	var failing = make(chan bool, 1)
	failing <- false
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		f := <-failing
		failing <- f
		if f {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	flaky := httptest.NewServer(mux)
	t.Cleanup(flaky.Close)
	h := newHarness(t, []*httptest.Server{flaky, newAPI(t, "api-1")}, WithHealthInterval(5*time.Millisecond))
	<-failing
	failing <- true
	h.waitFor(t, "api-0 down", func() bool { return !h.g.Status()[0].Up })
	<-failing
	failing <- false
	h.waitFor(t, "api-0 up again", func() bool { return h.g.Status()[0].Up })
}

func TestRetryOnRefusedConnection(t *testing.T) {
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-0"), newAPI(t, "api-1")}, WithHealthInterval(forever))
	h.backends[0].Close() // still marked up: no health check runs again
	for i := range 4 {
		if a := h.send(t, "GET", "/v1/feed", "", nil); a.status != http.StatusOK || a.instance != "api-1" {
			t.Fatalf("GET #%d with api-0 refusing = %d from %q; want 200 from api-1", i, a.status, a.instance)
		}
	}
	if got := h.retries(); got != 1 {
		t.Errorf("refapp_gateway_retries_total = %v; want 1 (the first request that met api-0)", got)
	}
	if s := h.g.Status()[0]; s.Up || s.EjectedUntil.IsZero() {
		t.Errorf("api-0 after a refused connection: %+v; want ejected, not up (passive check)", s)
	}
	if got := testutil.ToFloat64(h.g.metrics.ejections.WithLabelValues("api-0", ReasonConnectionError)); got != 1 {
		t.Errorf(`refapp_gateway_ejections_total{upstream="api-0",reason="connection_error"} = %v; want 1`, got)
	}
	if got := testutil.ToFloat64(h.g.metrics.requests.WithLabelValues("api-0", codeError)); got != 1 {
		t.Errorf(`refapp_gateway_upstream_requests_total{upstream="api-0",code="error"} = %v; want 1`, got)
	}
}

func TestPostRetriedOnlyWithIdempotencyKey(t *testing.T) {
	tests := []struct {
		name        string
		header      map[string]string
		wantRetries float64
		want502     int // answers 502 out of two POSTs
	}{
		{"without key: not retried", nil, 0, 1},
		{"with key: retried", map[string]string{IdempotencyKeyHeader: "k1"}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, []*httptest.Server{newAPI(t, "api-0"), newAPI(t, "api-1")}, WithHealthInterval(forever))
			h.backends[0].Close()
			// Round robin over two up upstreams: one of two POSTs meets api-0.
			got502 := 0
			for i := range 2 {
				a := h.send(t, "POST", "/v1/posts", fmt.Sprintf(`{"text":"t%d"}`, i), tt.header)
				switch a.status {
				case http.StatusBadGateway:
					got502++
				case http.StatusCreated:
				default:
					t.Errorf("POST #%d = %d %s; want 201 or 502", i, a.status, a.body)
				}
			}
			if got502 != tt.want502 {
				t.Errorf("two POSTs, api-0 refusing: %d answered 502; want %d", got502, tt.want502)
			}
			if got := h.retries(); got != tt.wantRetries {
				t.Errorf("refapp_gateway_retries_total = %v; want %v", got, tt.wantRetries)
			}
		})
	}
}

// hangUpServer passes health checks and closes every other connection
// without answering, as Toxiproxy does in front of a dead replica.
func hangUpServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", server.Healthz)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestUpstreamHangsUp(t *testing.T) {
	tests := []struct {
		method, key string
		want        int
		wantRetries float64
	}{
		{"GET", "", http.StatusOK, 1},
		{"POST", "k", http.StatusCreated, 1},
		{"POST", "", http.StatusBadGateway, 0},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.key, func(t *testing.T) {
			h := newHarness(t, []*httptest.Server{hangUpServer(t), newAPI(t, "api-1")}, WithHealthInterval(forever))
			path, body := "/v1/feed", ""
			if tt.method == "POST" {
				path, body = "/v1/posts", `{"text":"t"}`
			}
			// The first request of a fresh round robin goes to api-0.
			var header map[string]string
			if tt.key != "" {
				header = map[string]string{IdempotencyKeyHeader: tt.key}
			}
			a := h.send(t, tt.method, path, body, header)
			if a.status != tt.want {
				t.Errorf("%s %s (key %q) meeting a hang-up = %d %s; want %d", tt.method, path, tt.key, a.status, a.body, tt.want)
			}
			if got := h.retries(); got != tt.wantRetries {
				t.Errorf("refapp_gateway_retries_total = %v; want %v", got, tt.wantRetries)
			}
			if h.g.Status()[0].Up {
				t.Errorf("api-0 after hanging up: up; want down (passive check)")
			}
		})
	}
}

// statusServer is a replica that passes health checks and answers every
// other request with status.
func statusServer(t *testing.T, status int) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", server.Healthz)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(telemetry.InstanceHeader, "broken")
		w.WriteHeader(status)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRetryOnUpstreamStatus(t *testing.T) {
	tests := []struct {
		status    int
		method    string
		wantRetry bool
	}{
		{http.StatusBadGateway, "GET", true},
		{http.StatusServiceUnavailable, "GET", true},
		{http.StatusGatewayTimeout, "GET", true},
		{http.StatusServiceUnavailable, "POST", false}, // no Idempotency-Key
		{http.StatusInternalServerError, "GET", false}, // not a retryable status
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d", tt.method, tt.status), func(t *testing.T) {
			h := newHarness(t, []*httptest.Server{statusServer(t, tt.status), newAPI(t, "api-1")}, WithHealthInterval(forever))
			for i := range 2 { // one of the two meets the broken replica first
				a := h.send(t, tt.method, "/v1/posts/none-"+fmt.Sprint(i), "", nil)
				if a.instance == "broken" && (tt.wantRetry || a.status != tt.status) {
					t.Errorf("%s #%d = %d from broken; want a retry: %v", tt.method, i, a.status, tt.wantRetry)
				}
			}
			want := 0.0
			if tt.wantRetry {
				want = 1
			}
			if got := h.retries(); got != want {
				t.Errorf("refapp_gateway_retries_total = %v; want %v", got, want)
			}
			if !h.g.Status()[0].Up {
				t.Errorf("a replica answering %d once was taken out; only a connection error does that at once", tt.status)
			}
		})
	}
}

// TestSyncReadStaysUnavailable: the read-back of a write probe, GET
// /v1/sync/{clientId}, is retried once on a 503 and, when every replica
// answers 503, reaches the client as a 503: never a 404, which would count
// a write as lost.
func TestSyncReadStaysUnavailable(t *testing.T) {
	h := newHarness(t, []*httptest.Server{statusServer(t, http.StatusServiceUnavailable), statusServer(t, http.StatusServiceUnavailable)}, WithHealthInterval(forever))
	if a := h.send(t, "GET", "/v1/sync/probe-1", "", nil); a.status != http.StatusServiceUnavailable {
		t.Errorf("GET /v1/sync/probe-1 with every replica answering 503 = %d %s; want 503", a.status, a.body)
	}
	if got := h.retries(); got != 1 {
		t.Errorf("refapp_gateway_retries_total{result=retried} = %v; want 1", got)
	}
}

func TestUpstreamStatusPassedThroughWhenNoOtherReplica(t *testing.T) {
	h := newHarness(t, []*httptest.Server{statusServer(t, http.StatusServiceUnavailable)}, WithHealthInterval(forever))
	if a := h.send(t, "GET", "/v1/feed", "", nil); a.status != http.StatusServiceUnavailable || a.instance != "broken" {
		t.Errorf("GET with the only replica answering 503 = %d from %q; want its 503", a.status, a.instance)
	}
	if got := h.retries(); got != 0 {
		t.Errorf("refapp_gateway_retries_total{result=retried} = %v; want 0 (nowhere else to go)", got)
	}
	if got := h.retriesBy(RetryNoOtherUpstream); got != 1 {
		t.Errorf("refapp_gateway_retries_total{result=no_other_upstream} = %v; want 1", got)
	}
}

func TestAllDown(t *testing.T) {
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-0"), newAPI(t, "api-1")}, WithHealthInterval(5*time.Millisecond))
	if err := h.g.Ready(context.Background()); err != nil {
		t.Fatalf("Ready with every upstream up = %v; want nil", err)
	}
	for _, b := range h.backends {
		b.Close()
	}
	h.waitFor(t, "every upstream down", func() bool { return h.upCount() == 0 })
	a := h.send(t, "GET", "/v1/feed", "", nil)
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(a.body), &e); err != nil || a.status != http.StatusServiceUnavailable || e.Error == "" {
		t.Errorf("GET with every upstream down = %d %q; want 503 with a JSON error", a.status, a.body)
	}
	if got := a.header.Get("Retry-After"); got != "1" {
		t.Errorf("GET with every upstream down: Retry-After = %q; want 1", got)
	}
	if err := h.g.Ready(context.Background()); err == nil {
		t.Errorf("Ready with every upstream down = nil; want an error")
	}
}

func TestUpstreamTimeout(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", server.Healthz)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	slow := httptest.NewServer(mux)
	t.Cleanup(slow.Close)
	h := newHarness(t, []*httptest.Server{slow}, WithHealthInterval(forever), WithUpstreamTimeout(50*time.Millisecond))
	if a := h.send(t, "GET", "/v1/feed", "", nil); a.status != http.StatusGatewayTimeout {
		t.Errorf("GET to a replica slower than the upstream timeout = %d %s; want 504", a.status, a.body)
	}
	if got := testutil.ToFloat64(h.g.metrics.requests.WithLabelValues("api-0", codeTimeout)); got != 1 {
		t.Errorf(`refapp_gateway_upstream_requests_total{code="timeout"} = %v; want 1`, got)
	}
	if !h.g.Status()[0].Up {
		t.Errorf("a slow replica was marked down by a timeout; only connection errors mark down")
	}
}

func TestForwarding(t *testing.T) {
	var got *http.Request
	var gotBody string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", server.Healthz)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, gotBody = r, string(b)
		w.Header().Set(telemetry.InstanceHeader, "api-0")
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "not forwarded")
		w.Header().Set("X-End", "forwarded")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "brewed")
	})
	backend := httptest.NewServer(mux)
	t.Cleanup(backend.Close)
	h := newHarness(t, []*httptest.Server{backend}, WithHealthInterval(forever))

	a := h.send(t, "PUT", "/some/path?q=1", `{"x":1}`, map[string]string{
		"Authorization": "Bearer secret", "Connection": "X-Client-Hop", "X-Client-Hop": "1", "X-Forwarded-For": "10.0.0.1",
	})
	if a.status != http.StatusTeapot || a.body != "brewed" || a.instance != "api-0" || a.header.Get("X-End") != "forwarded" || a.header.Get("X-Hop") != "" {
		t.Errorf("PUT through the gateway = %d %q, headers %v; want 418 brewed, X-Refapp-Instance and X-End forwarded, X-Hop dropped", a.status, a.body, a.header)
	}
	if got == nil {
		t.Fatal("backend saw no request")
	}
	checks := []struct{ what, got, want string }{
		{"method", got.Method, "PUT"},
		{"URI", got.RequestURI, "/some/path?q=1"},
		{"body", gotBody, `{"x":1}`},
		{"Authorization", got.Header.Get("Authorization"), "Bearer secret"},
		{"X-Client-Hop", got.Header.Get("X-Client-Hop"), ""},
		{"X-Forwarded-For", got.Header.Get("X-Forwarded-For"), "10.0.0.1, 127.0.0.1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("backend saw %s %q; want %q", c.what, c.got, c.want)
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-0")}, WithHealthInterval(forever))
	a := h.send(t, "POST", "/v1/posts", strings.Repeat("a", MaxBodyBytes+1), nil)
	if a.status != http.StatusRequestEntityTooLarge {
		t.Errorf("POST of %d bytes = %d %s; want 413", MaxBodyBytes+1, a.status, a.body)
	}
	if got := testutil.CollectAndCount(h.g.metrics.requests); got != 0 {
		t.Errorf("upstream attempts for a refused body = %d series; want none", got)
	}
}

// A body whose declared length is over the limit is refused before a byte
// of it is read: a client that asks "Expect: 100-continue" never sends it.
func TestBodyTooLargeRefusedBeforeItIsSent(t *testing.T) {
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-0")}, WithHealthInterval(forever))
	body := &countingReader{r: strings.NewReader(strings.Repeat("a", 4*MaxBodyBytes))}
	req, err := http.NewRequest("POST", h.url+"/v1/posts", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 4 * MaxBodyBytes
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Expect", "100-continue")
	resp, err := (&http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST declaring %d bytes = %s; want 413", req.ContentLength, resp.Status)
	}
	if body.n.Load() != 0 {
		t.Errorf("the client sent %d bytes of the refused body; want none", body.n.Load())
	}
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		method string
		key    string
		want   bool
	}{
		{"GET", "", true},
		{"HEAD", "", true},
		{"OPTIONS", "", true},
		{"PUT", "", true},
		{"DELETE", "", true},
		{"POST", "", false},
		{"POST", "k", true},
		{"PATCH", "k", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "/", nil)
		if tt.key != "" {
			r.Header.Set(IdempotencyKeyHeader, tt.key)
		}
		if got := Retryable(r); got != tt.want {
			t.Errorf("Retryable(%s, key %q) = %v; want %v", tt.method, tt.key, got, tt.want)
		}
	}
}

func TestParseUpstreams(t *testing.T) {
	tests := []struct {
		urls, names []string
		want        string // names and URLs, or "error"
	}{
		{[]string{"http://127.0.0.1:1", "http://127.0.0.1:2/"}, nil, "0=http://127.0.0.1:1 1=http://127.0.0.1:2"},
		{[]string{"http://127.0.0.1:1", "http://127.0.0.1:2"}, []string{"api-1", "api-2"}, "api-1=http://127.0.0.1:1 api-2=http://127.0.0.1:2"},
		{nil, nil, "error"},
		{[]string{"http://127.0.0.1:1"}, []string{"a", "b"}, "error"},                       // count mismatch
		{[]string{"http://127.0.0.1:1", "http://127.0.0.1:2"}, []string{"a", "a"}, "error"}, // repeated name
		{[]string{"http://127.0.0.1:1"}, []string{""}, "error"},                             // empty name
		{[]string{"127.0.0.1:1"}, nil, "error"},                                             // no scheme
		{[]string{"http://127.0.0.1:1/api"}, nil, "error"},                                  // path
		{[]string{"ftp://127.0.0.1:1"}, nil, "error"},                                       // scheme
	}
	for _, tt := range tests {
		ups, err := ParseUpstreams(tt.urls, tt.names)
		got := "error"
		if err == nil {
			var parts []string
			for _, u := range ups {
				parts = append(parts, u.Name+"="+u.URL.String())
			}
			got = strings.Join(parts, " ")
		}
		if got != tt.want {
			t.Errorf("ParseUpstreams(%q, %q) = %s (%v); want %s", tt.urls, tt.names, got, err, tt.want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	ups := []Upstream{{Name: "a", URL: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}}}
	tests := []struct {
		name string
		ups  []Upstream
		opt  Option
	}{
		{"no upstreams", nil, WithHealthInterval(time.Second)},
		{"zero interval", ups, WithHealthInterval(0)},
		{"negative health timeout", ups, WithHealthTimeout(-1)},
		{"zero upstream timeout", ups, WithUpstreamTimeout(0)},
		{"zero unhealthy threshold", ups, WithUnhealthyThreshold(0)},
		{"zero healthy threshold", ups, WithHealthyThreshold(0)},
		{"unknown balance", ups, WithBalance(Balance(7))},
		{"zero ejection threshold", ups, WithEjection(0, time.Second, time.Minute)},
		{"zero ejection base", ups, WithEjection(3, 0, time.Minute)},
		{"ejection max below base", ups, WithEjection(3, time.Minute, time.Second)},
		{"retry budget above 1", ups, WithRetryBudget(1.5, 10)},
		{"negative retry budget", ups, WithRetryBudget(-0.1, 10)},
		{"NaN retry budget", ups, WithRetryBudget(math.NaN(), 10)},
		{"negative retry minimum", ups, WithRetryBudget(0.2, -1)},
		{"negative rate limit", ups, WithRateLimit(-1, 10)},
		{"infinite rate limit", ups, WithRateLimit(math.Inf(1), 10)},
		{"zero burst", ups, WithRateLimit(10, 0)},
		{"zero tracked clients", ups, WithRateLimitClients(0)},
		{"nil clock", ups, WithClock(nil)},
	}
	for _, tt := range tests {
		if _, err := New(tt.ups, tt.opt); err == nil {
			t.Errorf("New(%s) = nil error; want an error", tt.name)
		}
	}
	if _, err := New(ups); err != nil {
		t.Errorf("New(one upstream, defaults) = %v; want nil", err)
	}
	if _, err := New(ups, WithRateLimit(0, 0), WithRetryBudget(0, 0)); err != nil {
		t.Errorf("New(rate limit and retries off) = %v; want nil", err)
	}
}

// BenchmarkProxy measures the gateway's proxying overhead: each iteration
// sends the same GET to one api replica on loopback directly and through
// the gateway (default options: least-outstanding, ejection, retry budget,
// and a rate limit high enough never to refuse, so that its cost counts),
// interleaved so that both see the same machine. It reports the mean of
// each and their ratio, gateway/direct.
func BenchmarkProxy(b *testing.B) {
	backend := httptest.NewServer(apiMux(b, "api-0"))
	defer backend.Close()
	ups, err := ParseUpstreams([]string{backend.URL}, nil)
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(ups, WithHealthInterval(forever), WithRateLimit(1e9, 1_000_000_000))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Run(ctx)
	for deadline := time.Now().Add(10 * time.Second); g.Ready(ctx) != nil; {
		if time.Now().After(deadline) {
			b.Fatal("upstream not up after 10s")
		}
		time.Sleep(time.Millisecond) // poll interval
	}
	gmux := http.NewServeMux()
	g.Register(gmux)
	front := httptest.NewServer(gmux)
	defer front.Close()

	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func(url string) {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s = %d; want 200", url, resp.StatusCode)
		}
	}
	direct, gateway := backend.URL+"/v1/feed", front.URL+"/v1/feed"
	get(direct) // open the keep-alive connections before timing
	get(gateway)
	var tDirect, tGateway time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		get(direct)
		t1 := time.Now()
		get(gateway)
		tGateway += time.Since(t1)
		tDirect += t1.Sub(t0)
		n++
	}
	b.ReportMetric(float64(tDirect.Nanoseconds())/float64(n), "direct-ns/req")
	b.ReportMetric(float64(tGateway.Nanoseconds())/float64(n), "gateway-ns/req")
	b.ReportMetric(float64(tGateway)/float64(tDirect), "gateway/direct")
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestKVRoutes: the write probe's PUT and GET /v1/kv/{key} are proxied
// under their own patterns (route label /v1/kv/{key}), and reach the api.
func TestKVRoutes(t *testing.T) {
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-1")}, WithHealthInterval(forever))
	mux := http.NewServeMux()
	h.g.Register(mux)
	for _, tt := range []struct {
		method, path, pattern string
	}{
		{"PUT", "/v1/kv/probe-1", "PUT /v1/kv/{key}"},
		{"GET", "/v1/kv/probe-1", "GET /v1/kv/{key}"},
		// The api has no other method on it: the catch-all.
		{"DELETE", "/v1/kv/probe-1", "/"},
	} {
		if _, got := mux.Handler(httptest.NewRequest(tt.method, tt.path, nil)); got != tt.pattern {
			t.Errorf("gateway pattern of %s %s = %q; want %q", tt.method, tt.path, got, tt.pattern)
		}
	}
	auth := map[string]string{"Authorization": "Bearer " + apiToken}
	if a := h.send(t, "PUT", "/v1/kv/probe-1", `{"value":"probe-1"}`, auth); a.status != http.StatusNoContent {
		t.Fatalf("PUT /v1/kv/probe-1 through the gateway = %d %s; want 204", a.status, a.body)
	}
	if a := h.send(t, "GET", "/v1/kv/probe-1", "", auth); a.status != http.StatusOK || !strings.Contains(a.body, `"value":"probe-1"`) {
		t.Errorf("GET /v1/kv/probe-1 through the gateway = %d %s; want 200 with the value", a.status, a.body)
	}
}

// TestKVPutRetriedAsIdempotent: the gateway's policy treats PUT as
// idempotent, so PUT /v1/kv/{key} answered 503 is sent once more to
// another replica, like every PUT; with every replica answering 503 the
// client gets the 503, and GET /v1/kv/{key} stays a 503, never a 404.
func TestKVPutRetriedAsIdempotent(t *testing.T) {
	h := newHarness(t, []*httptest.Server{statusServer(t, http.StatusServiceUnavailable), statusServer(t, http.StatusServiceUnavailable)}, WithHealthInterval(forever))
	if a := h.send(t, "PUT", "/v1/kv/probe-1", `{"value":"probe-1"}`, nil); a.status != http.StatusServiceUnavailable {
		t.Errorf("PUT /v1/kv/probe-1 with every replica answering 503 = %d %s; want 503", a.status, a.body)
	}
	if a := h.send(t, "GET", "/v1/kv/probe-1", "", nil); a.status != http.StatusServiceUnavailable {
		t.Errorf("GET /v1/kv/probe-1 with every replica answering 503 = %d %s; want 503", a.status, a.body)
	}
	if got := h.retries(); got != 2 {
		t.Errorf("refapp_gateway_retries_total{result=retried} = %v; want 2 (the PUT and the GET, once each)", got)
	}
}
