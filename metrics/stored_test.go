package metrics

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// t0 is the start of the synthetic data.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// writeSynthetic writes a TSDB in dir as a run would leave it: n counters
// x{instance="i-NN",job="synthetic"}, one sample per second over dur from t0,
// series i growing by i+1 per second. It appends through the DB's appender.
func writeSynthetic(tb testing.TB, dir string, n int, dur time.Duration) {
	tb.Helper()
	db, err := tsdb.Open(dir, nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	app := db.AppenderV2(context.Background())
	steps := int(dur / time.Second)
	for i := range n {
		ls := labels.FromStrings("__name__", "x", "instance", fmt.Sprintf("i-%02d", i), "job", "synthetic")
		var ref storage.SeriesRef
		for k := 0; k <= steps; k++ {
			ref, err = app.Append(ref, ls, 0, t0.Add(time.Duration(k)*time.Second).UnixMilli(), float64(k*(i+1)), nil, nil, storage.AOptions{})
			if err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

func openSynthetic(tb testing.TB, n int, dur time.Duration) *Stored {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "tsdb")
	writeSynthetic(tb, dir, n, dur)
	s, err := OpenStored(dir)
	if err != nil {
		tb.Fatalf("OpenStored(%q) error: %v", dir, err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func at(d time.Duration) time.Time { return t0.Add(d) }

func pt(d time.Duration, v float64) Point { return Point{T: at(d), V: v} }

func inst(i string) map[string]string {
	return map[string]string{"__name__": "x", "instance": i, "job": "synthetic"}
}

// queryTests are answers any Querier must give over writeSynthetic(3, 2m).
var queryTests = []struct {
	name  string
	expr  string
	start time.Duration // Query evaluates at start; QueryRange when step > 0
	end   time.Duration
	step  time.Duration
	want  []Series
}{
	{name: "instant vector", expr: `x{instance=~"i-0[01]"}`, start: 10 * time.Second, want: []Series{
		{Labels: inst("i-00"), Points: []Point{pt(10*time.Second, 10)}},
		{Labels: inst("i-01"), Points: []Point{pt(10*time.Second, 20)}},
	}},
	{name: "aggregation drops the name", expr: `sum(x)`, start: 100 * time.Second, want: []Series{
		{Labels: map[string]string{}, Points: []Point{pt(100*time.Second, 600)}},
	}},
	{name: "scalar", expr: `1 + 1`, start: 5 * time.Second, want: []Series{
		{Labels: map[string]string{}, Points: []Point{pt(5*time.Second, 2)}},
	}},
	{name: "no series", expr: `nothing_here`, start: 5 * time.Second, want: []Series{}},
	{name: "range", expr: `x{instance="i-02"}`, start: 0, end: 2 * time.Second, step: time.Second, want: []Series{
		{Labels: inst("i-02"), Points: []Point{pt(0, 0), pt(time.Second, 3), pt(2*time.Second, 6)}},
	}},
	{name: "range of a scalar", expr: `time()`, start: 0, end: time.Second, step: time.Second, want: []Series{
		{Labels: map[string]string{}, Points: []Point{pt(0, float64(t0.Unix())), pt(time.Second, float64(t0.Unix()+1))}},
	}},
	{name: "range with a gap at the end of the data", expr: `max(x)`, start: 119 * time.Second, end: 121 * time.Second, step: time.Second, want: []Series{
		// No staleness marker ends the synthetic series: the lookback delta
		// carries the last sample forward.
		{Labels: map[string]string{}, Points: []Point{pt(119*time.Second, 357), pt(120*time.Second, 360), pt(121*time.Second, 360)}},
	}},
}

// runQueryTests checks q against queryTests.
func runQueryTests(t *testing.T, q Querier) {
	t.Helper()
	for _, tt := range queryTests {
		var got []Series
		var err error
		if tt.step > 0 {
			got, err = q.QueryRange(t.Context(), tt.expr, at(tt.start), at(tt.end), tt.step)
		} else {
			got, err = q.Query(t.Context(), tt.expr, at(tt.start))
		}
		if err != nil {
			t.Errorf("%s: query %q error: %v", tt.name, tt.expr, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: query %q = %v; want %v", tt.name, tt.expr, got, tt.want)
		}
	}
}

// queryErrorTests are expressions any Querier must refuse, with the error
// naming the expression.
var queryErrorTests = []struct {
	name  string
	expr  string
	step  time.Duration // QueryRange when > 0, else Query
	want  string        // substring of the error besides the expression
	isErr error         // if set, errors.Is must hold
}{
	{name: "unclosed paren", expr: `sum(rate(x[5s])`, want: "unclosed"},
	{name: "unclosed paren in a range", expr: `sum(rate(x[5s])`, step: time.Second, want: "unclosed"},
	{name: "unknown function", expr: `nope(x)`, want: "nope"},
	{name: "string result", expr: `"hello"`, want: "string"},
	{name: "range vector in Query", expr: `x[1m]`, isErr: errRangeVector},
	{name: "range vector in QueryRange", expr: `x[1m]`, step: time.Second, want: "range"},
	{name: "string in QueryRange", expr: `"hello"`, step: time.Second, want: "string"},
}

func runQueryErrorTests(t *testing.T, q Querier) {
	t.Helper()
	for _, tt := range queryErrorTests {
		var got []Series
		var err error
		if tt.step > 0 {
			got, err = q.QueryRange(t.Context(), tt.expr, at(0), at(10*time.Second), tt.step)
		} else {
			got, err = q.Query(t.Context(), tt.expr, at(10*time.Second))
		}
		if err == nil {
			t.Errorf("%s: query %q = %v; want an error", tt.name, tt.expr, got)
			continue
		}
		prefix := fmt.Sprintf("query %q: ", tt.expr)
		if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: query %q error = %q; want it to start with %q and contain %q", tt.name, tt.expr, err, prefix, tt.want)
		}
		if tt.isErr != nil && !errors.Is(err, tt.isErr) {
			t.Errorf("%s: query %q error = %v; want errors.Is %v", tt.name, tt.expr, err, tt.isErr)
		}
	}
	// Arguments refused before evaluation.
	if _, err := q.QueryRange(t.Context(), "x", at(0), at(time.Second), 0); err == nil {
		t.Error("QueryRange(x, step 0) error = nil; want one")
	}
	if _, err := q.QueryRange(t.Context(), "x", at(time.Second), at(0), time.Second); err == nil {
		t.Error("QueryRange(x, end before start) error = nil; want one")
	}
}

func TestStoredQueries(t *testing.T) {
	s := openSynthetic(t, 3, 2*time.Minute)
	runQueryTests(t, s)
	runQueryErrorTests(t, s)
}

func TestStoredRate(t *testing.T) {
	s := openSynthetic(t, 50, 2*time.Minute)
	const expr = `sum(rate(x[10s]))`
	got, err := s.QueryRange(t.Context(), expr, at(30*time.Second), at(90*time.Second), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Series i grows by i+1 per second: the sum of rates is 1+2+...+50.
	const want = 50 * 51 / 2
	if len(got) != 1 || len(got[0].Points) != 7 {
		t.Fatalf("QueryRange(%q) = %v; want one series of 7 points", expr, got)
	}
	for _, p := range got[0].Points {
		if diff := p.V - want; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("QueryRange(%q) at %v = %v; want %v", expr, p.T, p.V, want)
		}
	}
}

func TestStoredClose(t *testing.T) {
	s := openSynthetic(t, 1, time.Minute)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() error: %v", err)
	}
	if _, err := s.QueryRange(t.Context(), "x", at(0), at(time.Second), time.Second); !errors.Is(err, errClosed) {
		t.Errorf("QueryRange after Close error = %v; want %v", err, errClosed)
	}
}

// BenchmarkQueryRange evaluates sum(rate(x[10s])) over a stored hour of 50
// series scraped every second, at a 1s step (3600 steps).
func BenchmarkQueryRange(b *testing.B) {
	s := openSynthetic(b, 50, time.Hour)
	const expr = `sum(rate(x[10s]))`
	ctx := context.Background()
	for b.Loop() {
		got, err := s.QueryRange(ctx, expr, at(0), at(time.Hour), time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != 1 || len(got[0].Points) != 3600 {
			b.Fatalf("QueryRange(%q) = %d series; want 1 of 3600 points", expr, len(got))
		}
	}
}
