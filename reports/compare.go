package reports

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gameday/gameday/scenarios"
)

// The figures Compare compares, each per stream and route (the summary
// figures) or per check.
const (
	FigureP50        = "p50"        // latency quantiles of a route, seconds; lower is better
	FigureP90        = "p90"        //
	FigureP99        = "p99"        //
	FigureMax        = "max"        //
	FigureSuccess    = "success"    // success ratio of a route; higher is better
	FigureThroughput = "throughput" // successes per second of a route; higher is better
	FigureDropped    = "dropped"    // hits of a route due and never sent; lower is better
	FigureSLO        = "slo"        // an SLO's measured value; better as its objective says
	FigureRTO        = "rto"        // seconds; lower is better, unbounded worst
	FigureRPO        = "rpo"        // seconds; lower is better
)

// Tolerance is how much worse than the baseline a figure may get before it
// counts as a regression: Relative, a fraction of the baseline (0.1 for
// 10 %), or Absolute, in the figure's unit (seconds for durations, a ratio
// for the success ratio).
type Tolerance struct {
	Relative float64
	Absolute float64
	// IsRelative says which of the two applies.
	IsRelative bool
}

// String renders t as ParseTolerance reads it.
func (t Tolerance) String() string {
	if t.IsRelative {
		return strconv.FormatFloat(100*t.Relative, 'g', -1, 64) + "%"
	}
	return strconv.FormatFloat(t.Absolute, 'g', -1, 64)
}

// allows reports whether moving from base to got, worse by worse (> 0),
// is within t.
func (t Tolerance) allows(base, worse float64) bool {
	if math.IsInf(worse, 1) {
		return false
	}
	if t.IsRelative {
		return worse <= t.Relative*math.Abs(base)+1e-12
	}
	return worse <= t.Absolute+1e-12
}

// Tolerances holds a tolerance per figure; a figure without one is shown
// but never a regression.
type Tolerances map[string]Tolerance

// DefaultTolerances are what `gameday compare` uses unless told otherwise:
// latency quantiles (not max), throughput, SLO values, RTO and RPO may get
// 10 % worse, the success ratio 0.1 percentage point; dropped hits and
// max latency are shown only.
func DefaultTolerances() Tolerances {
	ten := Tolerance{Relative: 0.10, IsRelative: true}
	return Tolerances{
		FigureP50: ten, FigureP90: ten, FigureP99: ten, FigureThroughput: ten,
		FigureSLO: ten, FigureRTO: ten, FigureRPO: ten,
		FigureSuccess: {Absolute: 0.001},
	}
}

// Figures lists the figures tolerances may be given for.
func Figures() []string {
	return []string{FigureP50, FigureP90, FigureP99, FigureMax, FigureSuccess, FigureThroughput, FigureDropped, FigureSLO, FigureRTO, FigureRPO}
}

// ParseTolerance reads "FIGURE=VALUE": VALUE is a percentage of the
// baseline ("10%") or an absolute amount in the figure's unit: a duration
// for latencies, RTO and RPO ("50ms"), a ratio for the success ratio
// ("0.005"), a number otherwise.
func ParseTolerance(spec string) (string, Tolerance, error) {
	figure, value, ok := strings.Cut(spec, "=")
	figure, value = strings.TrimSpace(figure), strings.TrimSpace(value)
	if !ok || !slices.Contains(Figures(), figure) {
		return "", Tolerance{}, fmt.Errorf("tolerance %q: want FIGURE=VALUE with FIGURE one of %s", spec, strings.Join(Figures(), ", "))
	}
	if pct, isPct := strings.CutSuffix(value, "%"); isPct {
		x, err := strconv.ParseFloat(pct, 64)
		if err != nil || x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
			return "", Tolerance{}, fmt.Errorf("tolerance %q: %q is not a percentage of 0 or more", spec, value)
		}
		return figure, Tolerance{Relative: x / 100, IsRelative: true}, nil
	}
	switch figure {
	case FigureP50, FigureP90, FigureP99, FigureMax, FigureRTO, FigureRPO:
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return "", Tolerance{}, fmt.Errorf("tolerance %q: %q is neither a percentage nor a duration of 0 or more (e.g. 10%% or 50ms)", spec, value)
		}
		return figure, Tolerance{Absolute: d.Seconds()}, nil
	}
	x, err := strconv.ParseFloat(value, 64)
	if err != nil || x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return "", Tolerance{}, fmt.Errorf("tolerance %q: %q is neither a percentage nor a number of 0 or more", spec, value)
	}
	return figure, Tolerance{Absolute: x}, nil
}

// Difference is one figure of one subject (a route, a check) in the
// baseline and in the run.
type Difference struct {
	Figure  string
	Subject string
	// Base and Run are the values, in Unit ("s", "ratio", "/s", "count",
	// or "" for an SLO's own unit); NaN when absent, +Inf for an
	// unbounded RTO.
	Base, Run float64
	Unit      string
	// Tolerance is the tolerance applied; "" when the figure is only
	// shown.
	Tolerance string
	Regressed bool
	Improved  bool
	// Note says more: a check that went from pass to fail, a subject
	// missing from the run.
	Note string
}

// Comparison is every difference between a baseline run and a run.
type Comparison struct {
	Baseline, Run string // the run directories
	Differences   []Difference
}

// Regressions counts the differences that regressed.
func (c Comparison) Regressions() int {
	n := 0
	for _, d := range c.Differences {
		if d.Regressed {
			n++
		}
	}
	return n
}

// Compare compares run with base: per route, its latency quantiles,
// success ratio, throughput and dropped hits; per check (by name and
// injection), whether it passed and its measured value. A figure worse
// than its tolerance allows, a check that passed in base and fails in run,
// and a check of base missing from run are regressions.
func Compare(base, run *Report, tol Tolerances) Comparison {
	c := Comparison{Baseline: base.Dir, Run: run.Dir}
	// add compares one figure; lower says lower is better; a check that
	// passed in base and fails in run regresses whatever its value.
	add := func(figure, subject, unit string, b, r float64, lower bool, passed [2]bool) {
		d := Difference{Figure: figure, Subject: subject, Base: b, Run: r, Unit: unit, Note: passNote(passed[0], passed[1])}
		t, has := tol[figure]
		if has {
			d.Tolerance = t.String()
		}
		worse := r - b
		if !lower {
			worse = b - r
		}
		switch {
		case math.IsNaN(b) || math.IsNaN(r):
		case math.IsInf(b, 1) && math.IsInf(r, 1):
		case worse > 0:
			d.Regressed = has && !t.allows(b, worse)
		case worse < 0:
			d.Improved = true
		}
		d.Regressed = d.Regressed || (passed[0] && !passed[1])
		c.Differences = append(c.Differences, d)
	}
	notACheck := [2]bool{}

	runLoad := map[[2]string]StreamSummary{}
	for _, s := range run.Load {
		runLoad[[2]string{s.Stream, s.Route}] = s
	}
	for _, b := range base.Load {
		subject := b.Stream + "/" + b.Route
		r, ok := runLoad[[2]string{b.Stream, b.Route}]
		if !ok {
			c.Differences = append(c.Differences, Difference{Figure: "route", Subject: subject, Base: math.NaN(), Run: math.NaN(), Regressed: true, Note: "not in the run"})
			continue
		}
		for _, f := range []struct {
			name string
			b, r time.Duration
		}{{FigureP50, b.P50, r.P50}, {FigureP90, b.P90, r.P90}, {FigureP99, b.P99, r.P99}, {FigureMax, b.Max, r.Max}} {
			add(f.name, subject, "s", f.b.Seconds(), f.r.Seconds(), true, notACheck)
		}
		add(FigureSuccess, subject, UnitRatio, b.SuccessRatio, r.SuccessRatio, false, notACheck)
		add(FigureThroughput, subject, "/s", b.Throughput, r.Throughput, false, notACheck)
		add(FigureDropped, subject, "count", float64(b.Dropped), float64(r.Dropped), true, notACheck)
	}

	for _, figure := range []string{FigureSLO, FigureRTO, FigureRPO} {
		runs := map[string]checkValue{}
		for _, r := range checkValues(run, figure) {
			runs[r.label] = r
		}
		for _, b := range checkValues(base, figure) {
			r, ok := runs[b.label]
			if !ok {
				c.Differences = append(c.Differences, Difference{Figure: figure, Subject: b.label, Base: b.value, Run: math.NaN(), Unit: b.unit, Regressed: true, Note: "not in the run"})
				continue
			}
			add(figure, b.label, b.unit, b.value, r.value, b.lower, [2]bool{b.passed, r.passed})
		}
	}
	return c
}

// checkValue is a check of one kind as Compare reads it: its label (name
// and injection), its measured value in unit, which way is better, and
// whether it passed.
type checkValue struct {
	label, unit   string
	value         float64
	lower, passed bool
}

// checkValues returns r's checks of one figure: FigureSLO, FigureRTO or
// FigureRPO.
func checkValues(r *Report, figure string) []checkValue {
	var out []checkValue
	switch figure {
	case FigureSLO:
		for _, v := range r.Checks {
			lower := true
			if o, err := scenarios.ParseObjective(v.Objective); err == nil {
				lower = o.Op == scenarios.OpLE || o.Op == scenarios.OpLT
			}
			out = append(out, checkValue{label: v.Name, unit: MeasuredUnit(v), value: v.Measured, lower: lower, passed: v.Passed})
		}
	case FigureRTO:
		for _, c := range r.RTO {
			out = append(out, checkValue{label: c.label(), unit: "s", value: rtoSeconds(c), lower: true, passed: c.Passed})
		}
	case FigureRPO:
		for _, c := range r.RPO {
			out = append(out, checkValue{label: c.label(), unit: "s", value: rpoSeconds(c), lower: true, passed: c.Passed})
		}
	}
	return out
}

func passNote(base, run bool) string {
	switch {
	case base && !run:
		return "passed, now fails"
	case !base && run:
		return "failed, now passes"
	}
	return ""
}

// rtoSeconds is an RTO check's measured RTO: +Inf when unbounded, NaN when
// it could not be judged.
func rtoSeconds(c RecoveryCheck) float64 {
	switch {
	case c.Recovery == nil:
		return math.NaN()
	case !c.Recovery.Recovered:
		return math.Inf(1)
	}
	return c.Recovery.RTO.Seconds()
}

func rpoSeconds(c DataLossCheck) float64 {
	if c.Loss == nil {
		return math.NaN()
	}
	return c.Loss.RPO.Seconds()
}

// value renders a figure's value in its unit.
func value(x float64, unit string) string {
	switch {
	case math.IsNaN(x):
		return "—"
	case math.IsInf(x, 1):
		return "unbounded"
	}
	switch unit {
	case "s", UnitSeconds:
		return ms(time.Duration(x * float64(time.Second)))
	case UnitRatio:
		return strconv.FormatFloat(x, 'f', 4, 64)
	case "/s", UnitPerSecond:
		return strconv.FormatFloat(x, 'f', 1, 64) + "/s"
	case "count":
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'g', 6, 64)
}

// change renders the change from b to r: "+12.5%", or the difference when
// the baseline is 0.
func change(b, r float64, unit string) string {
	switch {
	case math.IsNaN(b) || math.IsNaN(r) || math.IsInf(b, 0) || math.IsInf(r, 0):
		return ""
	case b == r:
		return "="
	case b != 0:
		return fmt.Sprintf("%+.1f%%", 100*(r-b)/math.Abs(b))
	}
	return "+" + value(r-b, unit)
}

// WriteComparison writes c as a table that fits 100 columns, regressions
// marked, and a closing line with their count.
func WriteComparison(w io.Writer, c Comparison) error {
	rows := [][]string{{"FIGURE", "OF", "BASELINE", "RUN", "CHANGE", "TOLERANCE", "VERDICT"}}
	diffs := slices.Clone(c.Differences)
	slices.SortStableFunc(diffs, func(a, b Difference) int {
		return cmp.Compare(boolInt(b.Regressed), boolInt(a.Regressed))
	})
	for _, d := range diffs {
		verdict := "ok"
		switch {
		case d.Regressed:
			verdict = "REGRESSED"
		case d.Improved:
			verdict = "better"
		}
		if d.Note != "" {
			verdict += ": " + d.Note
		}
		rows = append(rows, []string{d.Figure, d.Subject, value(d.Base, d.Unit), value(d.Run, d.Unit), change(d.Base, d.Run, d.Unit), orDash(d.Tolerance), verdict})
	}
	caps := []int{10, 24, 11, 11, 8, 9}
	widths := make([]int, len(caps))
	for i := range caps {
		for _, row := range rows {
			widths[i] = max(widths[i], min(len([]rune(row[i])), caps[i]))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "baseline %s\nrun      %s\n\n", c.Baseline, c.Run)
	for _, row := range rows {
		used := 0
		for i, v := range row[:len(row)-1] {
			fmt.Fprintf(&b, "%-*s  ", widths[i], cut(v, widths[i]))
			used += widths[i] + 2
		}
		b.WriteString(cut(row[len(row)-1], max(TableWidth-used, 12)) + "\n")
	}
	if n := c.Regressions(); n > 0 {
		fmt.Fprintf(&b, "\nREGRESSED: %d of %d figures\n", n, len(c.Differences))
	} else {
		fmt.Fprintf(&b, "\nNO REGRESSION in %d figures\n", len(c.Differences))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
