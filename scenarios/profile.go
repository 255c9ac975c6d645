package scenarios

import (
	"reflect"
	"time"
)

// Profile is the rate profile of a stream: how its rate (of the whole
// request mix) changes over the stream's Duration. Exactly one of its
// fields is set; Kind names it. The load package turns a Profile into a
// Vegeta pacer (load.PacerOf).
type Profile struct {
	Constant *ConstantProfile `yaml:"constant,omitempty" json:"constant,omitempty"`
	Linear   *LinearProfile   `yaml:"linear,omitempty" json:"linear,omitempty"`
	Steps    []Stage          `yaml:"steps,omitempty" json:"steps,omitempty"`
	Spike    *SpikeProfile    `yaml:"spike,omitempty" json:"spike,omitempty"`
	Sine     *SineProfile     `yaml:"sine,omitempty" json:"sine,omitempty"`
}

// The profile kinds: the keys of a Profile.
const (
	ProfileConstant = "constant"
	ProfileLinear   = "linear"
	ProfileSteps    = "steps"
	ProfileSpike    = "spike"
	ProfileSine     = "sine"
)

// Kinds returns the keys of the fields set in p, in declaration order: one
// for a valid profile.
func (p Profile) Kinds() []string {
	var set []string
	rv := reflect.ValueOf(p)
	for _, f := range yamlFields(rv.Type()) {
		if !rv.FieldByIndex(f.index).IsNil() {
			set = append(set, f.name)
		}
	}
	return set
}

// Kind returns the key of the one field set in p ("constant", "linear",
// ...), or "" when none or several are set.
func (p Profile) Kind() string {
	if k := p.Kinds(); len(k) == 1 {
		return k[0]
	}
	return ""
}

// ProfileKinds lists every profile key, in declaration order.
func ProfileKinds() []string {
	var all []string
	for _, f := range yamlFields(reflect.TypeFor[Profile]()) {
		all = append(all, f.name)
	}
	return all
}

// ConstantProfile sends requests at a constant rate.
type ConstantProfile struct {
	Rate Rate `yaml:"rate" json:"rate"`
}

// LinearProfile ramps the rate linearly from From at the start of the
// stream to To at its end. To may be below From (a ramp down).
type LinearProfile struct {
	From Rate `yaml:"from" json:"from"`
	To   Rate `yaml:"to" json:"to"`
}

// Stage is one stage of a steps profile: the stages follow one another,
// each for its Duration, and together last exactly the stream's Duration.
// Within a stage the rate is Rate; with Ramp it goes linearly instead from
// the previous stage's rate (0 before the first stage) to Rate by the end
// of the stage, as a k6 ramping-arrival-rate stage does. For example
// [{10s, 100/s, ramp}, {20s, 100/s}, {10s, 300/s}]:
//
//	rate/s
//	300 ┤                            ┌─────────┐
//	100 ┤       ╱────────────────────┘         │
//	  0 ┼──────╱───────────────────────────────┴──▶ t
//	    0     10s                   30s       40s
type Stage struct {
	Duration time.Duration `yaml:"duration" json:"duration"`
	Rate     Rate          `yaml:"rate" json:"rate"`
	Ramp     bool          `yaml:"ramp,omitempty" json:"ramp,omitempty"`
}

// SpikeProfile sends Base, jumps to Peak at At (from the stream's start)
// for For, and falls back to Base; the spike ends within the stream.
type SpikeProfile struct {
	Base Rate          `yaml:"base" json:"base"`
	Peak Rate          `yaml:"peak" json:"peak"`
	At   time.Duration `yaml:"at" json:"at"`
	For  time.Duration `yaml:"for" json:"for"`
}

// SineProfile makes the rate a sine wave: Mean + Amplitude × sin(2π(t +
// Phase)/Period). With Phase 0 the stream starts at the mean, rising; a
// quarter period starts it at the peak. Amplitude is below Mean, so the
// rate stays positive.
type SineProfile struct {
	Mean      Rate          `yaml:"mean" json:"mean"`
	Amplitude Rate          `yaml:"amplitude" json:"amplitude"`
	Period    time.Duration `yaml:"period" json:"period"`
	Phase     time.Duration `yaml:"phase,omitempty" json:"phase,omitempty"`
}
