package slo

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// rtoT0 is the injection time of the RTO and RPO tests.
var rtoT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ms returns rtoT0 plus n milliseconds: integers, so that no instant drifts
// across a bucket boundary by a rounding error.
func ms(n int) time.Time { return rtoT0.Add(time.Duration(n) * time.Millisecond) }

// traffic returns one request completing every 10ms in [from, to) ms after
// rtoT0; shape gives its outcome and latency from its completion time, and
// it started latency earlier.
func traffic(from, to int, shape func(done int) (ok bool, lat time.Duration)) []Request {
	var out []Request
	for done := from; done < to; done += 10 {
		ok, lat := shape(done)
		out = append(out, Request{Stream: "mobile", Route: "feed", Start: ms(done).Add(-lat), Latency: lat, OK: ok})
	}
	return out
}

// failing shapes traffic that fails, 20ms fast, when it completes in one of
// the [from, to) ms ranges, and succeeds in 20ms otherwise.
func failing(ranges ...[2]int) func(int) (bool, time.Duration) {
	return func(done int) (bool, time.Duration) {
		for _, r := range ranges {
			if done >= r[0] && done < r[1] {
				return false, 20 * time.Millisecond
			}
		}
		return true, 20 * time.Millisecond
	}
}

// slowIn shapes traffic that succeeds, in 500ms when it completes in [from,
// to) ms and in 20ms otherwise.
func slowIn(from, to int) func(int) (bool, time.Duration) {
	return func(done int) (bool, time.Duration) {
		if done >= from && done < to {
			return true, 500 * time.Millisecond
		}
		return true, 20 * time.Millisecond
	}
}

// outcome is an expected Recovery, in ms after rtoT0.
type outcome struct {
	detected  int      // -1: not impacted
	recovered int      // -1: never recovered (unbounded)
	impact    int      // ms
	breaches  [][2]int // [start, end) ms; end -1: lasted to the end of the range
	noData    int
}

// check compares got with w, and the invariants every Recovery keeps.
func check(t *testing.T, call string, got Recovery, w outcome) {
	t.Helper()
	var b strings.Builder
	for _, br := range got.Breaches {
		end := -1
		if !br.End.IsZero() {
			end = int(br.End.Sub(rtoT0) / time.Millisecond)
		}
		fmt.Fprintf(&b, "[%d %d]", int(br.Start.Sub(rtoT0)/time.Millisecond), end)
	}
	var wb strings.Builder
	for _, br := range w.breaches {
		fmt.Fprintf(&wb, "[%d %d]", br[0], br[1])
	}
	msOf := func(tm time.Time) int {
		if tm.IsZero() {
			return -1
		}
		return int(tm.Sub(rtoT0) / time.Millisecond)
	}
	if msOf(got.Detected) != w.detected || msOf(got.RecoveredAt) != w.recovered || got.Impact != time.Duration(w.impact)*time.Millisecond ||
		b.String() != wb.String() || got.NoData != w.noData {
		t.Errorf("%s = detected %d recovered %d impact %s breaches %s noData %d (%s); want detected %d recovered %d impact %dms breaches %s noData %d",
			call, msOf(got.Detected), msOf(got.RecoveredAt), got.Impact, b.String(), got.NoData, got.Detail,
			w.detected, w.recovered, w.impact, wb.String(), w.noData)
	}
	// Invariants.
	if got.Impacted != !got.Detected.IsZero() || got.Recovered != !got.RecoveredAt.IsZero() {
		t.Errorf("%s: Impacted %v with Detected %v, Recovered %v with RecoveredAt %v", call, got.Impacted, got.Detected, got.Recovered, got.RecoveredAt)
	}
	if got.Recovered && (got.RTO != got.RecoveredAt.Sub(got.Injected) || got.Detail != "") {
		t.Errorf("%s: RTO %s for RecoveredAt %v, detail %q", call, got.RTO, got.RecoveredAt, got.Detail)
	}
	if !got.Recovered && (got.RTO != 0 || got.Detail == "") {
		t.Errorf("%s: never recovered with RTO %s and detail %q; want 0 and a reason", call, got.RTO, got.Detail)
	}
	if got.Impacted && (got.TimeToDetect != got.Detected.Sub(got.Injected) || (got.Recovered && got.Detected.After(got.RecoveredAt))) {
		t.Errorf("%s: detected %v, time to detect %s, recovered %v", call, got.Detected, got.TimeToDetect, got.RecoveredAt)
	}
	if !got.Impacted && got.Recovered && got.RTO != 0 {
		t.Errorf("%s: no impact but RTO %s", call, got.RTO)
	}
}

// ratio99 is the condition of most tests: 99% success over 1s, for 2s, at
// 100ms. The traffic has 10 requests a bucket, 100 a window: a window holds
// with at most one failure.
var ratio99 = RecoveryCondition{SuccessRatio: 0.99, Window: time.Second, StableFor: 2 * time.Second}

func TestClientRTO(t *testing.T) {
	kill := Span{Fault: "kill", Start: ms(0)}
	latency := RecoveryCondition{MaxLatency: 200 * time.Millisecond, Quantile: 0.99, Window: time.Second, StableFor: 2 * time.Second}
	both := ratio99
	both.MaxLatency, both.Quantile = 200*time.Millisecond, 0.99
	strict := RecoveryCondition{SuccessRatio: 1, Window: time.Second, StableFor: 2 * time.Second}
	fine := strict
	fine.Resolution = 10 * time.Millisecond
	tests := []struct {
		name string
		reqs []Request
		end  int
		cond RecoveryCondition
		want outcome
	}{
		// Nothing fails: no impact, RTO 0, recovered at the injection.
		{"no impact", traffic(-5000, 20000, failing()), 20000, ratio99,
			outcome{detected: -1, recovered: 0}},
		// Failures completing in [500, 3500): the window ending at 500 holds
		// one (99/100), the one ending at 600 eleven: detected at 600. The
		// first window without two failures is (3500, 4500]: recovered at
		// its start, 3500, the truth.
		{"outage", traffic(-5000, 20000, failing([2]int{500, 3500})), 20000, ratio99,
			outcome{detected: 600, recovered: 3500, impact: 2900, breaches: [][2]int{{600, 3500}}}},
		// SuccessRatio 1: every instant is that of the first or the last
		// failure, rounded up to the grid.
		{"strict", traffic(-5000, 20000, failing([2]int{500, 3500})), 20000, strict,
			outcome{detected: 500, recovered: 3500, impact: 3000, breaches: [][2]int{{500, 3500}}}},
		// At 10ms the last failure, at 3490, is the recovery. The last
		// bucket, (19990, 20000], has no request.
		{"resolution 10ms", traffic(-5000, 20000, failing([2]int{500, 3500})), 20000, fine,
			outcome{detected: 500, recovered: 3490, impact: 2990, breaches: [][2]int{{500, 3490}}, noData: 1}},
		// Failing to the end of the load: never recovered, the impact runs to the end.
		{"never recovered", traffic(-5000, 20000, failing([2]int{500, 20000})), 20000, ratio99,
			outcome{detected: 600, recovered: -1, impact: 19400, breaches: [][2]int{{600, -1}}}},
		// Good for [3500, 4600), 1.1s, then failing again: a flap shorter
		// than stableFor (2s) is no recovery; the second breach ends at 6500.
		{"flap shorter than stableFor", traffic(-5000, 20000, failing([2]int{500, 3500}, [2]int{4500, 6500})), 20000, ratio99,
			outcome{detected: 600, recovered: 6500, impact: 2900 + 1900, breaches: [][2]int{{600, 3500}, {4600, 6500}}}},
		// Good for exactly stableFor, [3500, 5500), before the next breach:
		// recovered at 3500; the later breach is listed, not counted.
		{"stable exactly stableFor", traffic(-5000, 20000, failing([2]int{500, 3500}, [2]int{5400, 6000})), 20000, ratio99,
			outcome{detected: 600, recovered: 3500, impact: 2900, breaches: [][2]int{{600, 3500}, {5500, 6000}}}},
		// One step less, [3500, 5400): not stable; recovered after the second breach.
		{"stable one step short", traffic(-5000, 20000, failing([2]int{500, 3500}, [2]int{5300, 6000})), 20000, ratio99,
			outcome{detected: 600, recovered: 6000, impact: 2900 + 600, breaches: [][2]int{{600, 3500}, {5400, 6000}}}},
		// The stable stretch [3500, 5500) ends exactly at the end of the range.
		{"stable to the end", traffic(-5000, 5500, failing([2]int{500, 3500})), 5500, ratio99,
			outcome{detected: 600, recovered: 3500, impact: 2900, breaches: [][2]int{{600, 3500}}}},
		// The range ends at 5400: the recovery cannot be shown.
		{"range ends before stableFor", traffic(-5000, 5400, failing([2]int{500, 3500})), 5400, ratio99,
			outcome{detected: 600, recovered: -1, impact: 2900, breaches: [][2]int{{600, 3500}}}},
		// The range is shorter than stableFor: unbounded even without a breach.
		{"range shorter than stableFor", traffic(-5000, 1500, failing()), 1500, ratio99,
			outcome{detected: -1, recovered: -1}},
		// Nothing completes in (500, 4050): an empty window is not a
		// success. The first empty window ends at 1500; the first that holds
		// again, (3100, 4100], has data from bucket (4000, 4100] on: the
		// breach ends at 4000. Buckets 6 … 40 are empty.
		{"empty windows", append(traffic(-5000, 510, failing()), traffic(4050, 20000, failing())...), 20000, ratio99,
			outcome{detected: 1500, recovered: 4000, impact: 2500, breaches: [][2]int{{1500, 4000}}, noData: 35}},
		// Nothing completes in (1000, 4050): the first empty window ends at
		// 2000, after the condition held for stableFor from the injection.
		// By the definition the fault had no impact; the breach is listed.
		{"breach after stableFor", append(traffic(-5000, 1010, failing()), traffic(4050, 20000, failing())...), 20000, ratio99,
			outcome{detected: -1, recovered: 0, breaches: [][2]int{{2000, 4000}}, noData: 30}},
		// A range of no length (the load ended at the injection), or one
		// that ended before it: nothing to judge, and no recovery shown.
		{"empty range", traffic(-5000, 20000, failing()), 0, ratio99,
			outcome{detected: -1, recovered: -1}},
		{"range ends before the injection", traffic(-5000, 20000, failing()), -1000, ratio99,
			outcome{detected: -1, recovered: -1}},
		// No request at all: every window is empty.
		{"no requests", nil, 3000, ratio99,
			outcome{detected: 100, recovered: -1, impact: 2900, breaches: [][2]int{{100, -1}}, noData: 30}},
		// Requests sent before the fault that fail 2s later, completing in
		// [1000, 1500), count when they complete: after the fault.
		{"placed at completion", append(traffic(-5000, 20000, failing()), lateFailures(-1000, -500, 2*time.Second)...), 20000, ratio99,
			outcome{detected: 1100, recovered: 1500, impact: 400, breaches: [][2]int{{1100, 1500}}}},
		// Successes completing in [1000, 3000) take 500ms: p99 above 200ms.
		{"latency", traffic(-5000, 20000, slowIn(1000, 3000)), 20000, latency,
			outcome{detected: 1100, recovered: 3000, impact: 1900, breaches: [][2]int{{1100, 3000}}}},
		// Fast failures do not make latency look good: windows without a
		// success, ending in [1500, 3400], fail; the breach ends where the
		// successes resume, the bucket (3400, 3500].
		{"latency of failures", traffic(-5000, 20000, failing([2]int{500, 3500})), 20000, latency,
			outcome{detected: 1500, recovered: 3400, impact: 1900, breaches: [][2]int{{1500, 3400}}}},
		// Both bounds: failures in [500, 1500), then slow successes to 3500: one breach.
		{"ratio and latency", traffic(-5000, 20000, func(done int) (bool, time.Duration) {
			if done >= 500 && done < 1500 {
				return false, 20 * time.Millisecond
			}
			return slowIn(1500, 3500)(done)
		}), 20000, both,
			outcome{detected: 600, recovered: 3500, impact: 2900, breaches: [][2]int{{600, 3500}}}},
	}
	for _, tt := range tests {
		got, err := ClientRTO(tt.reqs, kill, ms(tt.end), tt.cond)
		if err != nil {
			t.Errorf("%s: ClientRTO: %v", tt.name, err)
			continue
		}
		check(t, tt.name+": ClientRTO", got, tt.want)
	}
}

// lateFailures returns failing requests sent every 10ms in [from, to) ms
// that each took lat.
func lateFailures(from, to int, lat time.Duration) []Request {
	var out []Request
	for s := from; s < to; s += 10 {
		out = append(out, Request{Stream: "mobile", Route: "feed", Start: ms(s), Latency: lat, OK: false})
	}
	return out
}

func TestClientRTOFields(t *testing.T) {
	reqs := traffic(-5000, 20000, failing([2]int{500, 3500}))
	got, err := ClientRTO(reqs, Span{Fault: "kill", Start: ms(0), End: ms(3000)}, ms(20000), ratio99)
	if err != nil {
		t.Fatal(err)
	}
	// Counted: completions in (x_{-8}, x_200] = (-900, 20000]: -890 … 19990.
	if got.Fault != "kill" || !got.Reverted.Equal(ms(3000)) || !got.End.Equal(ms(20000)) || got.Resolution != DefaultResolution ||
		got.RTO != 3500*time.Millisecond || got.TimeToDetect != 600*time.Millisecond || got.Samples != 2089 || got.Canceled != 0 ||
		!got.Stable().Equal(ms(5500)) {
		t.Errorf("ClientRTO(outage) = %+v; want fault kill reverted at 3000 end 20000 resolution 100ms RTO 3.5s TTD 600ms samples 2089 stable 5500", got)
	}
	// The end of the load off the grid: judged to the last grid instant.
	got, err = ClientRTO(reqs, Span{Fault: "kill", Start: ms(0)}, ms(19950), ratio99)
	if err != nil || !got.End.Equal(ms(19900)) {
		t.Errorf("ClientRTO(end 19950).End = %v, %v; want 19900", got.End, err)
	}
}

// TestWindowSlides: a request completed at t counts in every window ending
// in [t, t+Window), at the grid instants t0 + k·Resolution.
func TestWindowSlides(t *testing.T) {
	b, err := NewRecoveryBuckets(ratio99, Span{Start: ms(0)}, ms(5000))
	if err != nil {
		t.Fatal(err)
	}
	for _, done := range []int{0, 1, 99, 100, 101, 1000, 2550} {
		i, ok := b.index(Request{Start: ms(done)})
		if !ok {
			t.Errorf("index(completed at %d) counted nothing", done)
			continue
		}
		// Window j holds buckets j−n+1 … j: the request is in windows i … i+n−1.
		for j := 1; j <= b.k; j++ {
			in := j >= i && j <= i+b.n-1
			e := b.at(j)
			want := !e.Before(ms(done)) && e.Before(ms(done).Add(ratio99.Window))
			if in != want {
				t.Errorf("request completed at %d in the window ending at %s = %v; want %v", done, e.Sub(rtoT0), in, want)
			}
		}
	}
	// Completed before the window that ends at the first instant after t0, or after the range: not counted.
	for _, done := range []int{-900, 5001} {
		if i, ok := b.index(Request{Start: ms(done)}); ok {
			t.Errorf("index(completed at %d) = %d; want not counted", done, i)
		}
	}
}

func TestCanceledRequests(t *testing.T) {
	// Every other request completing in [500, 3500) was cut by gameday.
	cut := func(r Request) bool {
		d := r.Start.Add(r.Latency).Sub(rtoT0)
		return d >= 500*time.Millisecond && d < 3500*time.Millisecond && (d/(10*time.Millisecond))%2 == 0
	}
	reqs := traffic(-5000, 20000, func(done int) (bool, time.Duration) {
		failing := done >= 500 && done < 3500 && (done/10)%2 == 0
		return !failing, 20 * time.Millisecond
	})
	kill := Span{Fault: "kill", Start: ms(0)}

	b, err := NewRecoveryBuckets(ratio99, kill, ms(20000))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if cut(r) {
			b.AddCanceled(r)
		} else {
			b.Add(r)
		}
	}
	got := b.Recovery()
	check(t, "Recovery(cut requests canceled)", got, outcome{detected: -1, recovered: 0})
	if got.Canceled != 150 || got.Samples != 2089-150 {
		t.Errorf("Recovery(cut requests canceled) = canceled %d samples %d; want 150 and %d", got.Canceled, got.Samples, 2089-150)
	}

	// Marked Canceled and fed through Add, or to ClientRTO: the same.
	marked := slices.Clone(reqs)
	for i := range marked {
		marked[i].Canceled = cut(marked[i])
	}
	b, err = NewRecoveryBuckets(ratio99, kill, ms(20000))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range marked {
		b.Add(r)
	}
	viaAdd := b.Recovery()
	viaRTO, err := ClientRTO(marked, kill, ms(20000), ratio99)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]Recovery{"Add": viaAdd, "ClientRTO": viaRTO} {
		check(t, name+"(cut requests marked Canceled)", r, outcome{detected: -1, recovered: 0})
		if r.Canceled != 150 || r.Samples != 2089-150 {
			t.Errorf("%s(cut requests marked Canceled) = canceled %d samples %d; want 150 and %d", name, r.Canceled, r.Samples, 2089-150)
		}
	}

	// The same requests counted as failures break the condition.
	got, err = ClientRTO(reqs, kill, ms(20000), ratio99)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Impacted || got.Canceled != 0 {
		t.Errorf("ClientRTO(cut requests as failures) = impacted %v canceled %d; want impacted, 0 canceled", got.Impacted, got.Canceled)
	}
}

func TestClientRTOFilters(t *testing.T) {
	// The feed route fails; the posts route does not.
	reqs := traffic(-5000, 20000, failing([2]int{500, 3500}))
	for _, r := range traffic(-5000, 20000, failing()) {
		r.Route = "posts"
		reqs = append(reqs, r)
	}
	kill := Span{Fault: "kill", Start: ms(0)}
	tests := []struct {
		stream, route string
		impacted      bool
	}{
		{"", "posts", false},
		{"", "feed", true},
		{"mobile", "", true}, // half of each window fails
		{"web", "", true},    // no request of this stream: no data
	}
	for _, tt := range tests {
		c := ratio99
		c.Stream, c.Route = tt.stream, tt.route
		got, err := ClientRTO(reqs, kill, ms(20000), c)
		if err != nil || got.Impacted != tt.impacted {
			t.Errorf("ClientRTO(stream %q route %q) = impacted %v, %v; want %v", tt.stream, tt.route, got.Impacted, err, tt.impacted)
		}
	}
}

func TestRecoveryConditionValidate(t *testing.T) {
	ok := ratio99
	tests := []struct {
		name string
		edit func(c *RecoveryCondition)
		want string // "" for valid
	}{
		{"valid", func(*RecoveryCondition) {}, ""},
		{"latency only", func(c *RecoveryCondition) { c.SuccessRatio, c.MaxLatency, c.Quantile = 0, time.Second, 0.99 }, ""},
		{"finer resolution", func(c *RecoveryCondition) { c.Resolution = 10 * time.Millisecond }, ""},
		{"no condition", func(c *RecoveryCondition) { c.SuccessRatio = 0 }, "no condition"},
		{"ratio above 1", func(c *RecoveryCondition) { c.SuccessRatio = 99 }, "successRatio 99: want a ratio in [0, 1]"},
		{"quantile without bound", func(c *RecoveryCondition) { c.Quantile = 0.99 }, "quantile 0.99 without maxLatency"},
		{"bound without quantile", func(c *RecoveryCondition) { c.MaxLatency = time.Second }, "quantile 0: want a quantile in (0, 1]"},
		{"coarse resolution", func(c *RecoveryCondition) { c.Resolution = time.Second }, "resolution 1s: want a positive duration of at most 100ms"},
		{"window off the grid", func(c *RecoveryCondition) { c.Window = 250 * time.Millisecond }, "window 250ms: want a positive multiple of the resolution 100ms"},
		{"no window", func(c *RecoveryCondition) { c.Window = 0 }, "window 0s"},
		{"no stableFor", func(c *RecoveryCondition) { c.StableFor = 0 }, "stableFor 0s: want a positive multiple"},
		{"stableFor off the grid", func(c *RecoveryCondition) { c.StableFor = 2050 * time.Millisecond }, "stableFor 2.05s"},
	}
	for _, tt := range tests {
		c := ok
		tt.edit(&c)
		err := c.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Validate() = %v; want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Validate() = %v; want an error containing %q", tt.name, err, tt.want)
		}
	}
	// Every problem is reported.
	err := RecoveryCondition{SuccessRatio: 2, Window: -1}.Validate()
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("Validate(ratio 2, window -1, no stableFor) = %v; want three problems", err)
	}
	// A range too long for its resolution is refused, not allocated.
	if _, err := NewRecoveryBuckets(ratio99, Span{Fault: "kill", Start: ms(0)}, ms(0).Add(1000*time.Hour)); err == nil || !strings.Contains(err.Error(), "buckets") {
		t.Errorf("NewRecoveryBuckets(1000h at 100ms) = %v; want a refusal naming the buckets", err)
	}
}

// TestBucketsDoNotGrow: the memory of a client RTO is that of its range,
// whatever the number of requests.
func TestBucketsDoNotGrow(t *testing.T) {
	kill := Span{Fault: "kill", Start: ms(0)}
	allocs := func(reqs []Request) float64 {
		return testing.AllocsPerRun(5, func() {
			if _, err := ClientRTO(reqs, kill, ms(20000), ratio99); err != nil {
				t.Fatal(err)
			}
		})
	}
	few := traffic(-5000, 20000, failing([2]int{500, 3500}))
	var many []Request
	for range 20 {
		many = append(many, few...)
	}
	if a, b := allocs(few), allocs(many); a != b {
		t.Errorf("ClientRTO allocates %v times for %d requests, %v for %d; want the same", a, len(few), b, len(many))
	}
}
