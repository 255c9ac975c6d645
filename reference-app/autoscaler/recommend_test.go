package autoscaler

import (
	"testing"
	"time"
)

func TestRaw(t *testing.T) {
	r, err := NewRecommender(Policy{Min: 2, Max: 6, Target: 2})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		current int
		load    float64
		want    int
	}{
		{2, 0, 2},     // idle: the minimum
		{2, 5, 3},     // 2.5 per replica: ceil(5/2)
		{3, 6.4, 3},   // 2.13 per replica: within 10 % of the target, held
		{3, 6.7, 4},   // 2.23 per replica: beyond the tolerance
		{4, 100, 6},   // far above: the maximum
		{6, 1, 2},     // far below: the minimum
		{0, 3, 2},     // no replica known: from the load alone
		{9, 18.1, 6},  // held at current, but within max
		{1, 2.05, 2},  // held at current, but within min
		{5, 7.99, 4},  // 1.6 per replica: ceil(7.99/2)
		{4, 0.001, 2}, // a trickle
	}
	for _, tt := range tests {
		if got := r.Raw(tt.current, tt.load); got != tt.want {
			t.Errorf("Raw(%d, %v) = %d; want %d", tt.current, tt.load, got, tt.want)
		}
	}
}

// TestRecommendStabilises plays a load step against windows of 2 s up and
// 5 s down, one sample a second.
func TestRecommendStabilises(t *testing.T) {
	r, err := NewRecommender(Policy{Min: 2, Max: 8, Target: 1, UpWindow: 2 * time.Second, DownWindow: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_000_000, 0)
	current := 2
	steps := []struct {
		load float64
		want int
	}{
		{1, 2},   // 0 s: low
		{6, 2},   // 1 s: the step; the up window still holds a 2
		{6, 2},   // 2 s: ... and still (the 2 of 0 s is 2 s old)
		{6, 6},   // 3 s: every raw of the last 2 s says 6
		{9, 6},   // 4 s: higher, but 6 is within the window
		{9, 6},   // 5 s
		{9, 8},   // 6 s: every raw of the window says 9, capped at 8
		{1, 8},   // 7 s: the lull; the down window holds 9s
		{1, 8},   // 8 s
		{1, 8},   // 9 s
		{1, 8},   // 10 s
		{1, 8},   // 11 s: the 9 of 6 s is 5 s old, still in the window
		{1, 2},   // 12 s: nothing above 2 in the last 5 s
		{1.5, 2}, // 13 s: a little more: within min
	}
	for i, s := range steps {
		now := t0.Add(time.Duration(i) * time.Second)
		got := r.Recommend(now, current, s.load)
		if got != s.want {
			t.Errorf("Recommend(t+%ds, %d, %v) = %d; want %d", i, current, s.load, got, s.want)
		}
		current = got
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"valid", Policy{Min: 1, Max: 3, Target: 1}, true},
		{"min above max", Policy{Min: 4, Max: 3, Target: 1}, false},
		{"zero min", Policy{Min: 0, Max: 3, Target: 1}, false},
		{"zero target", Policy{Min: 1, Max: 3}, false},
		{"negative window", Policy{Min: 1, Max: 3, Target: 1, DownWindow: -time.Second}, false},
		{"tolerance of 1", Policy{Min: 1, Max: 3, Target: 1, Tolerance: 1}, false},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v; want ok %v", tt.name, err, tt.ok)
		}
	}
}
