package network

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestSpecValidate(t *testing.T) {
	lat := Toxic{Type: "latency", Stream: Downstream, Toxicity: 1, Attributes: map[string]int64{"latency": 1}}
	tests := []struct {
		name string
		spec Spec
		want []string // substrings of the error; none: valid
	}{
		{"one toxic", Spec{Link: "db", Toxics: []Toxic{lat}}, nil},
		{"toxicity 0 is valid: it affects no connection", Spec{Link: "db", Toxics: []Toxic{{Type: "latency", Stream: Upstream, Toxicity: 0}}}, nil},
		{"down", Spec{Link: "db", Down: true}, nil},
		{"two parts", Spec{Link: "db", Toxics: []Toxic{{Part: "up", Type: "latency", Stream: Upstream, Toxicity: 1}, {Part: "down", Type: "latency", Stream: Downstream, Toxicity: 1}}}, nil},
		{"nothing", Spec{Link: "db"}, []string{"exactly one of toxics and down"}},
		{"both", Spec{Link: "db", Down: true, Toxics: []Toxic{lat}}, []string{"exactly one of toxics and down"}},
		{"every mistake", Spec{Toxics: []Toxic{{Stream: "sideways", Toxicity: math.NaN()}, {Stream: Upstream, Toxicity: 2}}}, []string{
			"link: must be set", "toxics[0]: no type", `toxics[0]: stream "sideways"`, "toxics[0]: toxicity NaN", "toxics[1]: toxicity 2", `toxics[1]: part "" twice`}},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("%s: Validate() = %v; want nil", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: Validate() = nil; want %q", tt.name, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Validate() = %v; want it to say %q", tt.name, err, w)
			}
		}
	}
}

// A toxic with toxicity 0 affects no connection: written 0 means 0.
func TestToxicityZeroAffectsNothing(t *testing.T) {
	l := newLab(t)
	p := l.newProxy(t)
	spec := latencySpec(p.Name, time.Second)
	spec.Toxics[0].Toxicity = 0
	f := New("never", l.client, spec)
	if _, err := f.Inject(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = f.Recover(t.Context()) })
	for range 5 {
		took, err := get(p, 5*time.Second)
		if err != nil || took >= time.Second {
			t.Fatalf("GET through a latency toxic of toxicity 0 took %v (%v); want no delay", took, err)
		}
	}
}
