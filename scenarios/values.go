package scenarios

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseRate parses a rate written "<count>/<period>": "200/s", "50/100ms",
// "30/1m", "10/2s". The count is a positive integer; the period is a positive
// Go duration, or a bare unit ("s", "ms", "m", "h", "us", "ns") meaning one of
// that unit.
func ParseRate(s string) (Rate, error) {
	bad := func(why string) (Rate, error) {
		return Rate{}, fmt.Errorf("invalid rate %q: %s", s, why)
	}
	count, period, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		example := "200/s"
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			example = fmt.Sprintf("%d/s", n)
		}
		return bad(fmt.Sprintf("want <count>/<period>, such as %q, \"50/100ms\" or \"30/1m\"", example))
	}
	freq, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil || freq <= 0 {
		return bad(fmt.Sprintf("the count %q is not a positive integer (for a fraction, lengthen the period: \"1/2s\")", strings.TrimSpace(count)))
	}
	period = strings.TrimSpace(period)
	written := period
	if period == "" {
		return bad("the period is missing, as in \"200/s\"")
	}
	if c := period[0]; c < '0' || c > '9' {
		if c != '.' && c != '-' && c != '+' {
			period = "1" + period // a bare unit: "/s" is "/1s"
		}
	}
	per, err := time.ParseDuration(period)
	if err != nil {
		return bad(fmt.Sprintf("the period %q is not a duration such as \"s\", \"100ms\" or \"1m\"", written))
	}
	if per <= 0 {
		return bad("the period must be positive")
	}
	return Rate{Freq: freq, Per: per}, nil
}

// String formats the rate as ParseRate reads it, with the shortest period:
// "200/s", "50/100ms", "30/90s".
func (r Rate) String() string {
	return strconv.Itoa(r.Freq) + "/" + formatPeriod(r.Per)
}

// PerSecond is the rate in requests per second; 0 when Per is not positive.
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return float64(r.Freq) / r.Per.Seconds()
}

// MarshalJSON encodes the rate as its string form.
func (r Rate) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON decodes the string form written by MarshalJSON.
func (r *Rate) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decode rate: %w", err)
	}
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// formatPeriod writes a period with its largest exact unit, "1" left out:
// "s", "100ms", "2m", "90s".
func formatPeriod(d time.Duration) string {
	s := formatDuration(d)
	if strings.HasPrefix(s, "1") && !strings.ContainsAny(s[1:], "0123456789.") {
		return s[1:]
	}
	return s
}

// formatDuration writes a duration with its largest exact unit: "2m", "90s",
// "250ms", "0s". It reads back with time.ParseDuration.
func formatDuration(d time.Duration) string {
	units := []struct {
		name string
		d    time.Duration
	}{{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}}
	if d == 0 {
		return "0s"
	}
	for _, u := range units {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}

// ParseObjective parses an objective written "<op> <value>", op one of
// <, <=, >, >=, and the value a number ("0.99"), a percentage ("99.5%", read
// as 0.995) or a Go duration ("300ms", read as 0.3 seconds). Text keeps s.
func ParseObjective(s string) (Objective, error) {
	bad := func(why string) (Objective, error) {
		return Objective{}, fmt.Errorf("invalid objective %q: %s", s, why)
	}
	t := strings.TrimSpace(s)
	var op Op
	for _, o := range []Op{OpLE, OpGE, OpLT, OpGT} { // two-character operators first
		if strings.HasPrefix(t, string(o)) {
			op = o
			break
		}
	}
	if op == "" {
		return bad(`want "<op> <value>" with op one of <, <=, >, >=, such as ">= 0.99", ">= 99.5%" or "<= 300ms"`)
	}
	val := strings.TrimSpace(t[len(op):])
	if val == "" {
		return bad(`the value is missing, as in ">= 0.99"`)
	}
	v, unit, err := parseObjectiveValue(val)
	if err != nil {
		return bad(err.Error())
	}
	return Objective{Op: op, Value: v, Unit: unit, Text: s}, nil
}

// parseObjectiveValue reads a number, a percentage or a duration in seconds,
// and the unit it was written in.
func parseObjectiveValue(s string) (float64, Unit, error) {
	var v float64
	var unit Unit
	if num, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil {
			return 0, "", fmt.Errorf("%q is not a percentage such as \"99.5%%\"", s)
		}
		v, unit = f/100, UnitPercent
	} else if f, err := strconv.ParseFloat(s, 64); err == nil {
		v, unit = f, UnitNone
	} else if d, err := time.ParseDuration(s); err == nil {
		v, unit = d.Seconds(), UnitDuration
	} else {
		return 0, "", fmt.Errorf("the value %q is not a number, a percentage or a duration", s)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, "", fmt.Errorf("the value %q is not a finite number", s)
	}
	return v, unit, nil
}

// objectiveValue is the value of an objective as written, without its
// operator: "300" of "<= 300".
func (o Objective) objectiveValue() string {
	t := strings.TrimSpace(o.Text)
	t = strings.TrimSpace(strings.TrimPrefix(t, string(o.Op)))
	if t == "" {
		return strconv.FormatFloat(o.Value, 'g', -1, 64)
	}
	return t
}

// String returns the objective as written, or "<op> <value>" when it was
// built without Text.
func (o Objective) String() string {
	if o.Text != "" {
		return o.Text
	}
	return string(o.Op) + " " + strconv.FormatFloat(o.Value, 'g', -1, 64)
}

// Met reports whether x meets the objective. NaN never does; an unknown Op
// never does.
func (o Objective) Met(x float64) bool {
	switch o.Op {
	case OpLT:
		return x < o.Value
	case OpLE:
		return x <= o.Value
	case OpGT:
		return x > o.Value
	case OpGE:
		return x >= o.Value
	}
	return false
}

// MarshalJSON encodes the objective as its string form.
func (o Objective) MarshalJSON() ([]byte, error) { return json.Marshal(o.String()) }

// UnmarshalJSON decodes the string form written by MarshalJSON.
func (o *Objective) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decode objective: %w", err)
	}
	v, err := ParseObjective(s)
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// parseDuration reads a Go duration for the decoder. A bare number other
// than 0 is refused with a hint to add a unit.
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(t, 64); err == nil && t != "0" {
		if _, err := time.ParseDuration(t + "s"); err != nil {
			return 0, fmt.Errorf("invalid duration %q: a bare number needs a unit, as in \"30s\"", s)
		}
		return 0, fmt.Errorf("invalid duration %q: a bare number needs a unit, such as \"%ss\" or \"%sms\"", s, t, t)
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a Go duration such as \"30s\", \"1m30s\" or \"250ms\"", s)
	}
	return d, nil
}
