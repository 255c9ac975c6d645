package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// profile checks that exactly one profile is set, and that one, for a
// stream of duration du (0 or less when the duration is itself invalid:
// what depends on it is not checked).
func (v *validator) profile(p string, prof Profile, du time.Duration) {
	if set := prof.Kinds(); len(set) != 1 {
		v.add(p, "exactly one profile is required, got %d (want one of %s)", len(set), strings.Join(ProfileKinds(), ", "))
	}
	if c := prof.Constant; c != nil {
		v.rate(p+".constant.rate", "rate", c.Rate)
	}
	if l := prof.Linear; l != nil {
		v.rate(p+".linear.from", "from", l.From)
		v.rate(p+".linear.to", "to", l.To)
	}
	if prof.Steps != nil {
		v.steps(p+".steps", prof.Steps, du)
	}
	if s := prof.Spike; s != nil {
		v.spike(p+".spike", *s, du)
	}
	if s := prof.Sine; s != nil {
		v.sine(p+".sine", *s)
	}
}

// rate checks one rate of a profile, written as key: positive, a period
// within MaxDuration, at most MaxRate per second. It says whether the rate
// is valid.
func (v *validator) rate(path, key string, r Rate) bool {
	switch {
	case r.Freq <= 0 || r.Per <= 0:
		v.add(path, "%s %q is not positive (want a rate such as \"50/s\")", key, r)
	case r.Per > MaxDuration:
		v.add(path, "%s %q has a period longer than %s", key, r, formatDuration(MaxDuration))
	case r.PerSecond() > MaxRate:
		v.add(path, "%s %q is %s requests per second, too high (want at most %d per second)", key, r, perSecond(r.PerSecond()), MaxRate)
	default:
		return true
	}
	return false
}

// perSecond formats a rate per second for a message.
func perSecond(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// positive reports d at path, written as key, unless it is positive and at
// most MaxDuration; it says whether d is valid.
func (v *validator) positive(path, key string, d time.Duration) bool {
	if d <= 0 {
		v.add(path, "%s %s is not positive (want more than 0s)", key, formatDuration(d))
		return false
	}
	return !v.tooLong(path, key, d)
}

// steps checks the stages of a steps profile: each lasts a positive
// duration at a valid rate, and together they last the stream's duration.
func (v *validator) steps(p string, stages []Stage, du time.Duration) {
	if len(stages) == 0 {
		v.add(p, "at least one stage is required (want a list such as [{duration: 10s, rate: 50/s}])")
		return
	}
	var sum time.Duration
	sane := true
	for i, st := range stages {
		sp := fmt.Sprintf("%s[%d]", p, i)
		sane = v.positive(sp+".duration", "duration", st.Duration) && sane
		v.rate(sp+".rate", "rate", st.Rate)
		sum = addDurations(sum, st.Duration)
	}
	if sane && du > 0 && sum != du {
		v.add(p, "the stages last %s in all, not the stream's duration %s (want stage durations that add up to it)", formatDuration(sum), formatDuration(du))
	}
}

// spike checks a spike profile: valid rates, a peak above the base, and a
// spike that starts and ends within the stream.
func (v *validator) spike(p string, s SpikeProfile, du time.Duration) {
	base := v.rate(p+".base", "base", s.Base)
	peak := v.rate(p+".peak", "peak", s.Peak)
	if base && peak && s.Peak.PerSecond() <= s.Base.PerSecond() {
		v.add(p+".peak", "peak %q is not above base %q (want a higher rate)", s.Peak, s.Base)
	}
	at := true
	if s.At < 0 {
		v.add(p+".at", "at %s is negative (want 0s or more)", formatDuration(s.At))
		at = false
	}
	at = !v.tooLong(p+".at", "at", s.At) && at
	forOK := v.positive(p+".for", "for", s.For)
	if at && forOK && du > 0 && s.At+s.For > du {
		v.add(p, "the spike ends at %s (at %s + for %s), after the stream's duration %s (want it to end within the stream)",
			formatDuration(s.At+s.For), formatDuration(s.At), formatDuration(s.For), formatDuration(du))
	}
}

// sine checks a sine profile: valid rates, an amplitude below the mean (a
// rate that stays positive), a positive period and a phase within it.
func (v *validator) sine(p string, s SineProfile) {
	mean := v.rate(p+".mean", "mean", s.Mean)
	amp := v.rate(p+".amplitude", "amplitude", s.Amplitude)
	if mean && amp {
		m, a := s.Mean.PerSecond(), s.Amplitude.PerSecond()
		switch {
		case a >= m:
			v.add(p+".amplitude", "amplitude %q is not below mean %q: the rate would fall to %s per second (want an amplitude below the mean)", s.Amplitude, s.Mean, perSecond(m-a))
		case m+a > MaxRate:
			v.add(p+".amplitude", "mean + amplitude is %s requests per second, too high (want at most %d per second)", perSecond(m+a), MaxRate)
		}
	}
	if v.positive(p+".period", "period", s.Period) && (s.Phase < 0 || s.Phase >= s.Period) {
		v.add(p+".phase", "phase %s is not within the period %s (want 0s or more, less than the period)", formatDuration(s.Phase), formatDuration(s.Period))
	}
}
