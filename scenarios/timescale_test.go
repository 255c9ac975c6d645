package scenarios

import (
	"testing"
	"time"
)

const scaledScenario = `apiVersion: gameday/v1
kind: Scenario
name: scaled
target: {external: {baseURL: "http://127.0.0.1:1"}}
load:
  - {name: a, duration: 40s, timeout: 3s, profile: {constant: {rate: 10/s}}, requests: [{url: "{{.Base}}/"}]}
  - {name: b, start: 4s, duration: 30s, profile: {steps: [{duration: 10s, rate: 5/s}, {duration: 20s, rate: 50/s, ramp: true}]}, requests: [{url: "{{.Base}}/"}]}
  - {name: c, duration: 20s, profile: {spike: {base: 5/s, peak: 50/s, at: 8s, for: 2s}}, requests: [{url: "{{.Base}}/"}]}
faults:
  - {name: slow, at: 10s, for: 8s, http: {url: "{{.Base}}/f"}}
  - {name: again, at: 20s, for: 1s, repeat: {every: 6s, count: 3}, http: {url: "{{.Base}}/f"}}
checks:
  slos:
    - {name: p99, client: {sli: latency}, objective: "<= 300ms", mode: always, step: 1s}
  rto:
    - {name: back, fault: slow, recovery: {successRatio: ">= 0.99", window: 2s}, stableFor: 3s, objective: "<= 10s"}
`

// TestTimeScale: the timeline's instants and spans are scaled, what the
// system is asked to do is not.
func TestTimeScale(t *testing.T) {
	s, err := LoadBytes("scaled.yaml", []byte(scaledScenario), WithTimeScale(0.25))
	if err != nil {
		t.Fatal(err)
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, c := range []struct {
		what      string
		got, want time.Duration
	}{
		{"load[0].duration", s.Load[0].Duration, 10 * time.Second},
		{"load[0].timeout", s.Load[0].Timeout, 3 * time.Second},
		{"load[1].start", s.Load[1].Start, time.Second},
		{"load[1].steps[0]", s.Load[1].Profile.Steps[0].Duration, ms(2500)},
		{"load[1].steps[1]", s.Load[1].Profile.Steps[1].Duration, 5 * time.Second},
		{"load[2].spike.at", s.Load[2].Profile.Spike.At, 2 * time.Second},
		{"load[2].spike.for", s.Load[2].Profile.Spike.For, ms(500)},
		{"faults[0].at", s.Faults[0].At, ms(2500)},
		{"faults[0].for", s.Faults[0].For, 2 * time.Second},
		{"faults[1].repeat.every", s.Faults[1].Repeat.Every, ms(1500)},
		{"slos[0].step", s.Checks.SLOs[0].Step, time.Second},
		{"rto[0].recovery.window", s.Checks.RTO[0].Recovery.Window, 2 * time.Second},
		{"rto[0].stableFor", s.Checks.RTO[0].StableFor, 3 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s at scale 0.25; want %s", c.what, c.got, c.want)
		}
	}
	if r := s.Load[1].Profile.Steps[1].Rate; r.Freq != 50 || r.Per != time.Second {
		t.Errorf("steps[1].rate = %s; want 50/s unscaled", r)
	}
	one, err := LoadBytes("scaled.yaml", []byte(scaledScenario), WithTimeScale(1))
	if err != nil {
		t.Fatal(err)
	}
	if one.Load[0].Duration != 40*time.Second || one.Faults[0].At != 10*time.Second {
		t.Errorf("scale 1 changed the timeline: %s, %s", one.Load[0].Duration, one.Faults[0].At)
	}
	for _, f := range []float64{0, -1, 0.001, 101} {
		if CheckTimeScale(f) == nil {
			t.Errorf("CheckTimeScale(%g) = nil; want an error", f)
		}
	}
}
