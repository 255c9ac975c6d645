package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// testInterval is the scrape interval of the scrape tests.
const testInterval = 100 * time.Millisecond

// waitDeadline bounds every wait for a condition in these tests.
const waitDeadline = 10 * time.Second

// waitFor polls cond until it reports true, and fails the test after
// waitDeadline with the last state cond described.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.NewTimer(waitDeadline)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("waiting for %s: gave up after %v; last: %s", what, waitDeadline, state)
		case <-tick.C:
		}
	}
}

// target is a process's /metrics endpoint: a real client_golang registry
// with one counter, served on loopback.
type target struct {
	srv     *httptest.Server
	counter prometheus.Counter
}

func newTarget(t *testing.T) *target {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_requests_total", Help: "Requests served."})
	reg.MustRegister(c)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return &target{srv: srv, counter: c}
}

// host is the target's host:port.
func (tg *target) host(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(tg.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// valueIs is a waitFor condition: expr at now yields exactly one series
// whose value is want.
func valueIs(ctx context.Context, q Querier, expr string, want float64) func() (bool, string) {
	return func() (bool, string) {
		got, err := q.Query(ctx, expr, time.Now())
		if err != nil {
			return false, err.Error()
		}
		if len(got) != 1 || got[0].Points[0].V != want {
			return false, fmt.Sprintf("Query(%q) = %v; want one series of value %v", expr, got, want)
		}
		return true, ""
	}
}

func queryOne(t *testing.T, q Querier, expr string, at time.Time) Series {
	t.Helper()
	got, err := q.Query(t.Context(), expr, at)
	if err != nil {
		t.Fatalf("Query(%q) error: %v", expr, err)
	}
	if len(got) != 1 {
		t.Fatalf("Query(%q) = %v; want one series", expr, got)
	}
	return got[0]
}

// TestEmbeddedScrapeStopReopen runs one embedded Prometheus through its
// whole life: scrape two targets, see one die, stop, close, and re-open the
// directory with OpenStored.
func TestEmbeddedScrapeStopReopen(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "tsdb")
	e, err := OpenEmbedded(dir, WithScrapeInterval(testInterval))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })

	api, side := newTarget(t), newTarget(t)
	begin := time.Now()
	err = e.Start(ctx, []Target{
		{URL: api.srv.URL + "/metrics", Labels: map[string]string{"role": "api", "instance": "api-1"}},
		{URL: side.srv.URL + "/metrics?x=1", Labels: map[string]string{"job": "sidecar"}},
	})
	if err != nil {
		t.Fatalf("Start() error: %v", err)
	}

	api.counter.Add(5)
	waitFor(t, "the counter at 5", valueIs(ctx, e, `test_requests_total{role="api"}`, 5))
	waitFor(t, "both targets up", valueIs(ctx, e, `count(up == 1)`, 2))

	// Target labels: Labels win over the defaults; job defaults to DefaultJob
	// and instance to host:port.
	labelTests := []struct {
		expr string
		want map[string]string
	}{
		{`test_requests_total{role="api"}`, map[string]string{
			"__name__": "test_requests_total", "role": "api", "instance": "api-1", "job": "gameday"}},
		{`up{role="api"}`, map[string]string{"__name__": "up", "role": "api", "instance": "api-1", "job": "gameday"}},
		{`up{job="sidecar"}`, map[string]string{"__name__": "up", "instance": side.host(t), "job": "sidecar"}},
	}
	for _, tt := range labelTests {
		s := queryOne(t, e, tt.expr, time.Now())
		if !reflect.DeepEqual(s.Labels, tt.want) {
			t.Errorf("Query(%q) labels = %v; want %v", tt.expr, s.Labels, tt.want)
		}
	}
	if s := queryOne(t, e, `up{role="api"}`, time.Now()); s.Points[0].V != 1 {
		t.Errorf("Query(`up{role=\"api\"}`) = %v; want 1", s.Points[0].V)
	}

	// A second increment gives rate() something to see.
	api.counter.Add(5)
	waitFor(t, "the counter at 10", valueIs(ctx, e, `test_requests_total{role="api"}`, 10))
	rateExpr := `rate(test_requests_total{role="api"}[1s])`
	waitFor(t, "a positive rate", func() (bool, string) {
		rates, err := e.QueryRange(ctx, rateExpr, begin, time.Now(), testInterval)
		if err != nil {
			return false, err.Error()
		}
		return maxValue(rates) > 0, fmt.Sprintf("QueryRange(%q) = %v; want a positive rate somewhere", rateExpr, rates)
	})

	// A target that dies reports up == 0.
	side.srv.Close()
	waitFor(t, "up == 0 for the dead target", valueIs(ctx, e, `up{job="sidecar"}`, 0))

	stop := e.Stop()
	if again := e.Stop(); !again.Equal(stop) {
		t.Errorf("second Stop() = %v; want the first stop time %v", again, stop)
	}
	// Staleness markers at the stop time: the series is gone from an instant
	// selector, although its last sample is within the lookback delta.
	if got, err := e.Query(ctx, `test_requests_total`, stop); err != nil || len(got) != 0 {
		t.Errorf("Query(`test_requests_total`, stop) = %v, %v; want no series (stale)", got, err)
	}
	if s := queryOne(t, e, `last_over_time(test_requests_total{role="api"}[1m])`, stop); s.Points[0].V != 10 {
		t.Errorf("Query(`last_over_time(test_requests_total{role=\"api\"}[1m])`, stop) = %v; want 10", s.Points[0].V)
	}

	// Close, re-open: the same queries give the same answers.
	exprs := []string{
		`test_requests_total`,
		`up`,
		rateExpr,
		`sum by (job) (up)`,
		`max_over_time(up[1s:100ms])`,
	}
	before := make([][]Series, len(exprs))
	for i, expr := range exprs {
		before[i], err = e.QueryRange(ctx, expr, begin, stop, testInterval)
		if err != nil {
			t.Fatalf("Embedded.QueryRange(%q) error: %v", expr, err)
		}
		if len(before[i]) == 0 {
			t.Fatalf("Embedded.QueryRange(%q) = no series; want some", expr)
		}
	}
	beforeAt, err := e.Query(ctx, `last_over_time(up[1m])`, stop)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close() error: %v", err)
	}
	if _, err := e.Query(ctx, "up", stop); !errors.Is(err, errClosed) {
		t.Errorf("Query after Close error = %v; want %v", err, errClosed)
	}

	s, err := OpenStored(dir)
	if err != nil {
		t.Fatalf("OpenStored(%q) error: %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for i, expr := range exprs {
		after, err := s.QueryRange(ctx, expr, begin, stop, testInterval)
		if err != nil {
			t.Fatalf("Stored.QueryRange(%q) error: %v", expr, err)
		}
		if !reflect.DeepEqual(after, before[i]) {
			t.Errorf("Stored.QueryRange(%q) = %v; want what Embedded answered: %v", expr, after, before[i])
		}
	}
	afterAt, err := s.Query(ctx, `last_over_time(up[1m])`, stop)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(afterAt, beforeAt) {
		t.Errorf("Stored.Query(`last_over_time(up[1m])`) = %v; want %v", afterAt, beforeAt)
	}
}

func maxValue(ss []Series) float64 {
	m := 0.0
	for _, s := range ss {
		for _, p := range s.Points {
			m = max(m, p.V)
		}
	}
	return m
}

// TestEmbeddedStartContextStops checks that the end of Start's context stops
// scraping, as Stop does (staleness markers included).
func TestEmbeddedStartContextStops(t *testing.T) {
	e, err := OpenEmbedded(t.TempDir(), WithScrapeInterval(testInterval))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	tg := newTarget(t)
	ctx, cancel := context.WithCancel(t.Context())
	if err := e.Start(ctx, []Target{{URL: tg.srv.URL + "/metrics"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "up == 1", valueIs(t.Context(), e, "up", 1))
	cancel()
	waitFor(t, "up to go stale", func() (bool, string) {
		got, err := e.Query(t.Context(), "up", time.Now())
		return err == nil && len(got) == 0, fmt.Sprintf("Query(up) = %v, %v", got, err)
	})
	if err := e.Start(t.Context(), []Target{{URL: tg.srv.URL}}); err == nil {
		t.Error("Start() after the context stopped scraping: error = nil; want one")
	}
}

func TestEmbeddedStartRefuses(t *testing.T) {
	tests := []struct {
		name    string
		targets []Target
		want    string // substring of the error
	}{
		{"scheme", []Target{{URL: "ftp://127.0.0.1:1/metrics"}}, `scheme "ftp"`},
		{"no host", []Target{{URL: "http:///metrics"}}, "no host"},
		{"unparsable", []Target{{URL: "http://[::1"}}, "target 0"},
		{"credentials", []Target{{URL: "http://u:p@127.0.0.1:1/metrics"}}, "credentials"},
		{"reserved label", []Target{{URL: "http://127.0.0.1:1/metrics", Labels: map[string]string{"__address__": "x"}}}, "reserved"},
		{"second target", []Target{{URL: "http://127.0.0.1:1/metrics"}, {URL: "127.0.0.1:1"}}, "target 1"},
	}
	e, err := OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	for _, tt := range tests {
		err := e.Start(t.Context(), tt.targets)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Start(%v) error = %v; want one containing %q", tt.name, tt.targets, err, tt.want)
		}
	}
	// Refused targets start nothing: a valid Start still works, once.
	if err := e.Start(t.Context(), nil); err != nil {
		t.Errorf("Start(nil) error = %v; want nil", err)
	}
	if err := e.Start(t.Context(), nil); err == nil {
		t.Error("second Start() error = nil; want one")
	}
}

func TestOpenEmbeddedRefusesInterval(t *testing.T) {
	if _, err := OpenEmbedded(t.TempDir(), WithScrapeInterval(0)); err == nil {
		t.Error("OpenEmbedded(dir, WithScrapeInterval(0)) error = nil; want one")
	}
}

func TestOpenStoredRefusesMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	if _, err := OpenStored(dir); err == nil {
		t.Fatalf("OpenStored(%q) error = nil; want one", dir)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenStored(%q) created the directory (stat error %v)", dir, err)
	}
}

// TestStopBeforeStart checks that Stop and Close work on an Embedded that
// never scraped.
func TestStopBeforeStart(t *testing.T) {
	e, err := OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stop := e.Stop()
	if again := e.Stop(); !again.Equal(stop) {
		t.Errorf("second Stop() = %v; want %v", again, stop)
	}
	if err := e.Start(t.Context(), nil); err == nil {
		t.Error("Start() after Stop() error = nil; want one")
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close() error = %v", err)
	}
}
