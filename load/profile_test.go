package load

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/scenarios"
)

func rate(freq int) scenarios.Rate { return scenarios.Rate{Freq: freq, Per: time.Second} }

// profileCase is a scenario profile and, written independently of the
// pacers, the rate it must follow, per second at t seconds.
type profileCase struct {
	name    string
	du      time.Duration
	profile scenarios.Profile
	shape   func(t float64) float64
}

// accuracyCases are the profiles the virtual clock checks, at rates where
// 1 % of a second's hits is at least one hit.
func accuracyCases() []profileCase {
	return []profileCase{
		{"constant", 10 * time.Second,
			scenarios.Profile{Constant: &scenarios.ConstantProfile{Rate: rate(200)}},
			func(float64) float64 { return 200 }},
		{"linear up", 10 * time.Second,
			scenarios.Profile{Linear: &scenarios.LinearProfile{From: rate(100), To: rate(1000)}},
			func(t float64) float64 { return 100 + 90*t }},
		{"linear down", 10 * time.Second,
			scenarios.Profile{Linear: &scenarios.LinearProfile{From: rate(1000), To: rate(100)}},
			func(t float64) float64 { return 1000 - 90*t }},
		{"linear steep from 1/s", 10 * time.Second,
			scenarios.Profile{Linear: &scenarios.LinearProfile{From: rate(1), To: rate(1000)}},
			func(t float64) float64 { return 1 + 99.9*t }},
		{"steps", 10 * time.Second,
			scenarios.Profile{Steps: []scenarios.Stage{
				{Duration: 4 * time.Second, Rate: rate(600), Ramp: true}, // from 0
				{Duration: 3 * time.Second, Rate: rate(200)},
				{Duration: 3 * time.Second, Rate: rate(900), Ramp: true}, // from 200
			}},
			func(t float64) float64 {
				switch {
				case t < 4:
					return 150 * t
				case t < 7:
					return 200
				}
				return 200 + 700*(t-7)/3
			}},
		{"spike", 10 * time.Second,
			scenarios.Profile{Spike: &scenarios.SpikeProfile{Base: rate(100), Peak: rate(1000), At: 3500 * time.Millisecond, For: 2250 * time.Millisecond}},
			func(t float64) float64 {
				if t >= 3.5 && t < 5.75 {
					return 1000
				}
				return 100
			}},
		{"sine", 10 * time.Second,
			scenarios.Profile{Sine: &scenarios.SineProfile{Mean: rate(500), Amplitude: rate(400), Period: 4 * time.Second, Phase: time.Second}},
			func(t float64) float64 { return 500 + 400*math.Sin(2*math.Pi*(t+1)/4) }},
	}
}

// simulate takes every hit of p's schedule (the one Run's workers take
// their hits from) on a virtual clock, each at its due time, until du. It
// returns the instants of the hits.
func simulate(p vegeta.Pacer, du time.Duration, more ...vegeta.Pacer) []time.Duration {
	taken, _ := takeAll(newSchedule(du, append([]vegeta.Pacer{p}, more...)), onTime)
	at := make([]time.Duration, len(taken))
	for i, h := range taken {
		at[i] = h.due
	}
	return at
}

// perSecond counts the instants in each second [k, k+1) of du.
func perSecond(at []time.Duration, du time.Duration) []int {
	n := make([]int, int(math.Ceil(du.Seconds())))
	for _, t := range at {
		if k := int(t / time.Second); k < len(n) {
			n[k]++
		}
	}
	return n
}

// integral is ∫ shape over [a, b] seconds, by the midpoint rule on 10⁴
// steps per second (a jump costs at most its height × 10⁻⁴ hits).
func integral(shape func(float64) float64, a, b float64) float64 {
	steps := int(math.Ceil((b - a) * 1e4))
	h := (b - a) / float64(steps)
	var sum float64
	for i := range steps {
		sum += shape(a + (float64(i)+0.5)*h)
	}
	return sum * h
}

// expectedPerSecond is the integral of shape over each second of du.
func expectedPerSecond(shape func(float64) float64, du time.Duration) []float64 {
	want := make([]float64, int(math.Ceil(du.Seconds())))
	for k := range want {
		want[k] = integral(shape, float64(k), min(float64(k+1), du.Seconds()))
	}
	return want
}

// worstError compares counts per second with the expected ones: the worst
// error in hits and relative to the expected, and whether every second is
// within tol (a fraction) or one hit, whichever is larger.
func worstError(got []int, want []float64, tol float64) (hits, rel float64, ok bool) {
	ok = true
	for k, w := range want {
		d := math.Abs(float64(got[k]) - w)
		hits = max(hits, d)
		if w > 0 {
			rel = max(rel, d/w)
		}
		if d > max(tol*w, 1)+1e-6 { // slack for the float integral
			ok = false
		}
	}
	return hits, rel, ok
}

// TestProfileAccuracy checks on a virtual clock that each profile's hits
// follow the integral of its shape within 1 % (or one hit) every second,
// for the whole stream and for the 7:3 shares of a weighted mix.
func TestProfileAccuracy(t *testing.T) {
	for _, tc := range accuracyCases() {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PacerOf(tc.profile, tc.du)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedPerSecond(tc.shape, tc.du)
			got := perSecond(simulate(p, tc.du), tc.du)
			hits, rel, ok := worstError(got, want, 0.01)
			t.Logf("%T: per second %v; worst error %.2f hits, %.3f %%", p, got, hits, 100*rel)
			if !ok {
				t.Errorf("hits per second = %v; want %.1f within 1 %% or 1 hit", got, want)
			}
			// The 7:3 mix of one stream, its two shares in one schedule.
			if got := perSecond(simulate(shareOfPacer(p, 7, 10), tc.du, shareOfPacer(p, 3, 10)), tc.du); !okWithin(got, want, 0.01) {
				t.Errorf("mix 7:3: hits per second = %v; want %.1f within 1 %% or 2 hits", got, want)
			}
			for _, w := range []int{7, 3} {
				share := shareOfPacer(p, w, 10)
				wantShare := make([]float64, len(want))
				for k := range want {
					wantShare[k] = want[k] * float64(w) / 10
				}
				got := perSecond(simulate(share, tc.du), tc.du)
				if _, _, ok := worstError(got, wantShare, 0.01); !ok {
					t.Errorf("share %d:10: hits per second = %v; want %.1f within 1 %% or 1 hit", w, got, wantShare)
				}
			}
		})
	}
}

// okWithin is worstError's verdict with one hit more of slack: the two
// shares of a mix each round their count.
func okWithin(got []int, want []float64, tol float64) bool {
	for k, w := range want {
		if math.Abs(float64(got[k])-w) > max(tol*w, 2)+1e-6 {
			return false
		}
	}
	return true
}

// opaque hides a Pacer's type, as a caller's own Pacer would be.
type opaque struct{ vegeta.Pacer }

// TestSharedPacer checks the share of a Pacer of unknown type: its count
// follows the share, each hit within one interval of the whole stream.
func TestSharedPacer(t *testing.T) {
	du := 10 * time.Second
	p := opaque{newRamps(piece{5 * time.Second, 100, 900}, piece{5 * time.Second, 300, 300})}
	shape := func(t float64) float64 {
		if t < 5 {
			return 100 + 160*t
		}
		return 300
	}
	want := expectedPerSecond(shape, du)
	total := 0
	for _, w := range []int{7, 3} {
		share := shareOfPacer(p, w, 10)
		if _, ok := share.(*sharedPacer); !ok {
			t.Fatalf("shareOfPacer(opaque, %d, 10) is a %T; want a *sharedPacer", w, share)
		}
		wantShare := make([]float64, len(want))
		for k := range want {
			wantShare[k] = want[k] * float64(w) / 10
		}
		at := simulate(share, du)
		total += len(at)
		got := perSecond(at, du)
		if _, _, ok := worstError(got, wantShare, 0.01); !ok {
			t.Errorf("share %d:10: hits per second = %v; want %.1f within 1 %% or 1 hit", w, got, wantShare)
		}
	}
	if whole := len(simulate(p, du)); total < whole-1 || total > whole {
		t.Errorf("shares 7 + 3 sent %d hits; want %d (the whole stream), or one fewer", total, whole)
	}
}

func TestRampsPace(t *testing.T) {
	// 0 → 100/s over 1s, then 100/s: H(t) = 50t² on [0, 1], 50 + 100(t−1) after.
	p := newRamps(piece{time.Second, 0, 100}, piece{time.Second, 100, 100})
	tests := []struct {
		elapsed  time.Duration
		hits     uint64
		wantWait time.Duration
		wantStop bool
	}{
		{0, 0, 141421356, false},                              // √(1/50) s, to the ns
		{100 * time.Millisecond, 0, 41421356, false},          // the same instant, from later
		{time.Second, 49, 0, false},                           // H(1s) = 50: hit 50 is due now
		{time.Second, 50, 10 * time.Millisecond, false},       // then one per 10ms
		{time.Second, 10, 0, false},                           // behind: at once
		{3 * time.Second, 300, 510 * time.Millisecond, false}, // the tail holds 100/s: H(3s) = 250, 301 at 3.51s
		{500 * time.Millisecond, 13, 29150262, false},         // H = 14 at √0.28 s
		{1500 * time.Millisecond, 99, 0, false},               // H(1.5s) = 100: due now
		{1500 * time.Millisecond, 100, 10 * time.Millisecond, false},
	}
	for _, tt := range tests {
		wait, stop := p.Pace(tt.elapsed, tt.hits)
		if wait != tt.wantWait || stop != tt.wantStop {
			t.Errorf("Pace(%s, %d) = %s, %t; want %s, %t", tt.elapsed, tt.hits, wait, stop, tt.wantWait, tt.wantStop)
		}
	}
	// A ramp down to 0 ends: 100/s → 0 over 2s is 100 hits, then nothing.
	down := newRamps(piece{2 * time.Second, 100, 0})
	if wait, stop := down.Pace(2*time.Second, 100); !stop {
		t.Errorf("Pace(2s, 100) of a ramp down to 0 = %s, false; want stop", wait)
	}
	if wait, stop := down.Pace(time.Second, 99); stop || wait != time.Second {
		t.Errorf("Pace(1s, 99) of a ramp down to 0 = %s, %t; want 1s, false (hit 100 due at 2s)", wait, stop)
	}
}

func TestPeakRate(t *testing.T) {
	tests := []struct {
		name string
		p    vegeta.Pacer
		du   time.Duration
		want float64
	}{
		{"constant", vegeta.Rate{Freq: 50, Per: 100 * time.Millisecond}, time.Minute, 500},
		{"sine", vegeta.SinePacer{Period: time.Second, Mean: vegeta.Rate{Freq: 100, Per: time.Second}, Amp: vegeta.Rate{Freq: 30, Per: time.Second}}, time.Minute, 130},
		{"vegeta linear", vegeta.LinearPacer{StartAt: vegeta.Rate{Freq: 10, Per: time.Second}, Slope: 2}, 10 * time.Second, 30},
		{"vegeta linear, no end", vegeta.LinearPacer{StartAt: vegeta.Rate{Freq: 10, Per: time.Second}, Slope: 2}, 0, math.Inf(1)},
		{"ramp down", newRamps(piece{time.Second, 300, 10}), time.Second, 300},
		{"spike", newRamps(piece{time.Second, 5, 5}, piece{time.Millisecond, 900, 900}, piece{time.Second, 5, 5}), 3 * time.Second, 900},
		{"unknown type: sampled", opaque{vegeta.Rate{Freq: 7, Per: time.Second}}, time.Second, 7},
	}
	for _, tt := range tests {
		if got := peakRate(tt.p, tt.du); math.Abs(got-tt.want) > 1e-9 && got != tt.want {
			t.Errorf("%s: peakRate(%v, %s) = %g; want %g", tt.name, tt.p, tt.du, got, tt.want)
		}
	}
}

func TestPacerOfEveryKind(t *testing.T) {
	table := profilePacers()
	for _, k := range scenarios.ProfileKinds() {
		if table[k] == nil {
			t.Errorf("profilePacers() has no builder for profile kind %q", k)
		}
	}
	if len(table) != len(scenarios.ProfileKinds()) {
		t.Errorf("profilePacers() has %d builders; want %d, one per kind of %v", len(table), len(scenarios.ProfileKinds()), scenarios.ProfileKinds())
	}
	two := scenarios.Profile{Constant: &scenarios.ConstantProfile{Rate: rate(1)}, Sine: &scenarios.SineProfile{}}
	if _, err := PacerOf(two, time.Second); err == nil || !strings.Contains(err.Error(), "2 kinds set (constant, sine)") {
		t.Errorf("PacerOf(constant and sine) error = %v; want one saying 2 kinds set", err)
	}
}

// TestPlanPeakWorkers checks that the derived maximum of workers follows
// the peak rate of a profile, not its rate at the start.
func TestPlanPeakWorkers(t *testing.T) {
	prof := scenarios.Profile{Spike: &scenarios.SpikeProfile{Base: rate(10), Peak: rate(400), At: time.Second, For: time.Second}}
	p, err := PacerOf(prof, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := Stream{Name: "s", Rate: p, Duration: 3 * time.Second, Timeout: 2 * time.Second, Workers: 1,
		Requests: []Request{{Name: "r", Weight: 1, URL: "{{.Base}}/"}}}
	plan, err := s.plan("http://127.0.0.1:1", "x-")
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.maxWorkers; got != 800 {
		t.Errorf("plan() max workers of a spike to 400/s with timeout 2s = %d; want 800", got)
	}
}

// TestProfileAttack sends each profile for real, 3s at up to 300/s,
// against a local server, split 3:1 between two routes, and checks the
// requests started in each second against the profile's integral. The
// bound is loose (25 % + 5 a second, 10 % in all) so that a loaded machine
// cannot fail it; the figures are logged.
func TestProfileAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("sends real load for 3s")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck // a test server
	}))
	t.Cleanup(srv.Close) // after the parallel subtests
	du := 3 * time.Second
	cases := []profileCase{
		{"constant", du, scenarios.Profile{Constant: &scenarios.ConstantProfile{Rate: rate(200)}},
			func(float64) float64 { return 200 }},
		{"linear", du, scenarios.Profile{Linear: &scenarios.LinearProfile{From: rate(100), To: rate(300)}},
			func(t float64) float64 { return 100 + 200*t/3 }},
		{"steps", du, scenarios.Profile{Steps: []scenarios.Stage{{Duration: time.Second, Rate: rate(100)}, {Duration: time.Second, Rate: rate(300)}, {Duration: time.Second, Rate: rate(200)}}},
			func(t float64) float64 { return []float64{100, 300, 200}[min(int(t), 2)] }},
		{"spike", du, scenarios.Profile{Spike: &scenarios.SpikeProfile{Base: rate(100), Peak: rate(300), At: time.Second, For: time.Second}},
			func(t float64) float64 { return []float64{100, 300, 100}[min(int(t), 2)] }},
		{"sine", du, scenarios.Profile{Sine: &scenarios.SineProfile{Mean: rate(200), Amplitude: rate(100), Period: du}},
			func(t float64) float64 { return 200 + 100*math.Sin(2*math.Pi*t/3) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := PacerOf(tc.profile, tc.du)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex // guards starts
			var starts []time.Time
			var failure string // one failure, for the log
			sink := SinkFunc(func(_, _ string, r *vegeta.Result) {
				mu.Lock()
				if Outcome(r) != OutcomeSuccess && failure == "" {
					failure = fmt.Sprintf("%d %s", r.Code, r.Error)
				}
				starts = append(starts, r.Timestamp)
				mu.Unlock()
			})
			began := time.Now()
			sum, err := Run(context.Background(), Stream{Name: tc.name, Rate: p, Duration: tc.du, Timeout: 5 * time.Second,
				Requests: []Request{{Name: "a", Weight: 3, URL: "{{.Base}}/a"}, {Name: "b", Weight: 1, URL: "{{.Base}}/b"}}}, srv.URL, sink)
			if err != nil {
				t.Fatal(err)
			}
			at := make([]time.Duration, len(starts))
			for i, s := range starts {
				at[i] = s.Sub(began)
			}
			slices.Sort(at)
			want := expectedPerSecond(tc.shape, tc.du)
			got := perSecond(at, tc.du)
			hits, rel, _ := worstError(got, want, 0)
			t.Logf("%d requests (%d successes): per second %v, want %.1f; worst error %.1f hits, %.2f %%", sum.Requests, sum.Successes, got, want, hits, 100*rel)
			if sum.Successes != sum.Requests {
				t.Errorf("%d of %d requests failed, such as: %s", sum.Requests-sum.Successes, sum.Requests, failure)
			}
			var total float64
			for k, w := range want {
				total += w
				if d := math.Abs(float64(got[k]) - w); d > 0.25*w+5 {
					t.Errorf("second %d: %d requests started; want %.1f within 25 %% + 5", k, got[k], w)
				}
			}
			if d := math.Abs(float64(len(at)) - total); d > 0.1*total {
				t.Errorf("%d requests in all; want %.0f within 10 %%", len(at), total)
			}
		})
	}
}
