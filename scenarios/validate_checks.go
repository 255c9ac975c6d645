package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// MinRecoveryWindow is the shortest Recovery.Window Validate accepts.
const MinRecoveryWindow = 100 * time.Millisecond

// MinAbortWindow is the shortest Abort.Window Validate accepts: an abort
// condition is evaluated every second.
const MinAbortWindow = time.Second

// checkShape is the shape of a check's name, for messages.
const checkShape = "letters, digits, '_', '.' and '-', starting with a letter or digit"

// checks checks every check. Names are unique across slos, rto, rpo and
// abort: they name the verdicts of one report.
func (v *validator) checks() {
	c := v.s.Checks
	if len(c.SLOs)+len(c.RTO)+len(c.RPO) == 0 {
		v.add("checks", "a scenario needs at least one check (slos, rto or rpo), so that a run can fail")
	}
	seen := map[string]string{}
	v.slos(seen)
	v.rtos(seen)
	v.rpos(seen)
	v.aborts(seen)
}

func (v *validator) rtos(seen map[string]string) {
	for i, c := range v.s.Checks.RTO {
		p := fmt.Sprintf("checks.rto[%d]", i)
		v.name(p+".name", c.Name, labelName, checkShape, seen)
		v.faultRef(p+".fault", c.Fault)
		v.recovery(p+".recovery", c.Recovery)
		if c.StableFor <= 0 {
			v.add(p+".stableFor", "stableFor %s is not positive (want more than 0s)", formatDuration(c.StableFor))
		}
		v.tooLong(p+".stableFor", "stableFor", c.StableFor)
		if v.objectiveOp(p+".objective", c.Objective, `"<= 10s"`) {
			v.objective(p+".objective", c.Objective, boundRTO)
		}
	}
}

// recovery checks the condition of an RTO check: client-side (successRatio
// and/or latency over a sliding window) or PromQL (promql and objective at
// every step), not both.
func (v *validator) recovery(p string, r Recovery) {
	client := r.SuccessRatio != nil || r.Latency != nil
	prom := r.PromQL != "" || r.Objective != nil
	switch {
	case client && prom:
		v.add(p, "exactly one of a client-side condition (successRatio, latency) or promql with objective is required, got both")
	case !client && !prom:
		v.add(p, "exactly one of a client-side condition (successRatio, latency) or promql with objective is required, got none")
	}
	if r.SuccessRatio != nil && v.objectiveOp(p+".successRatio", *r.SuccessRatio, `">= 0.99"`) {
		v.objective(p+".successRatio", *r.SuccessRatio, boundRatio)
	}
	if r.Latency != nil {
		if v.objectiveOp(p+".latency", *r.Latency, `"<= 300ms"`) {
			v.objective(p+".latency", *r.Latency, boundLatency)
		}
		if !(r.Quantile > 0 && r.Quantile <= 1) {
			v.add(p+".quantile", "quantile %g is out of range (want more than 0, at most 1)", r.Quantile)
		}
	} else if r.Quantile != 0 {
		v.add(p+".quantile", "quantile applies only with latency")
	}
	if client && !prom {
		switch {
		case r.Window <= 0:
			v.add(p+".window", "window %s is not positive (want more than 0s)", formatDuration(r.Window))
		case r.Window < MinRecoveryWindow:
			v.add(p+".window", "window %s is too short (want at least %s)", formatDuration(r.Window), formatDuration(MinRecoveryWindow))
		case r.Window%time.Millisecond != 0:
			v.add(p+".window", "window %s is not a whole number of milliseconds", formatDuration(r.Window))
		default:
			v.tooLong(p+".window", "window", r.Window)
		}
		v.streamRoute(p, r.Stream, r.Route)
	}
	if prom {
		if r.PromQL == "" {
			v.add(p+".promql", "required with objective (an expression that yields one series)")
		} else {
			v.promql(p+".promql", "promql", r.PromQL)
		}
		if r.Objective == nil {
			v.add(p+".objective", "required with promql (such as \">= 1\")")
		} else if v.objectiveOp(p+".objective", *r.Objective, `">= 1"`) {
			v.objective(p+".objective", *r.Objective, boundPromQL)
		}
	}
	if prom && !client {
		switch {
		case r.PromQL == "": // reported above; the step has no default
		case r.Step <= 0:
			v.add(p+".step", "step %s is not positive (want more than 0s)", formatDuration(r.Step))
		case r.Step%time.Millisecond != 0:
			v.add(p+".step", "step %s is not a whole number of milliseconds", formatDuration(r.Step))
		default:
			v.tooLong(p+".step", "step", r.Step)
		}
		for _, f := range []struct {
			key string
			set bool
		}{{"window", r.Window != 0}, {"stream", r.Stream != ""}, {"route", r.Route != ""}} {
			if f.set {
				v.add(p+"."+f.key, "%s applies only to a client-side condition (successRatio, latency), not to promql", f.key)
			}
		}
	}
	if client && !prom && r.Step != 0 {
		v.add(p+".step", "step applies only to promql, not to a client-side condition (it has a window)")
	}
}

func (v *validator) rpos(seen map[string]string) {
	for i, c := range v.s.Checks.RPO {
		p := fmt.Sprintf("checks.rpo[%d]", i)
		v.name(p+".name", c.Name, labelName, checkShape, seen)
		v.faultRef(p+".fault", c.Fault)
		v.probeRef(p+".probe", c.Probe)
		if v.objectiveOp(p+".objective", c.Objective, `"<= 0s" or "<= 1s"`) {
			v.objective(p+".objective", c.Objective, boundRPO)
		}
		if c.ReplicationLag != "" {
			v.promql(p+".replicationLag", "replicationLag", c.ReplicationLag)
		}
	}
}

func (v *validator) aborts(seen map[string]string) {
	for i, c := range v.s.Checks.Abort {
		p := fmt.Sprintf("checks.abort[%d]", i)
		v.name(p+".name", c.Name, labelName, checkShape, seen)
		v.sli(p, c.PromQL, c.Client, c.Objective)
		if c.Window < MinAbortWindow {
			v.add(p+".window", "window %s is too short (want at least %s)", formatDuration(c.Window), formatDuration(MinAbortWindow))
		}
		v.tooLong(p+".window", "window", c.Window)
	}
}

// faultRef checks that name, at path, names a fault of the scenario.
func (v *validator) faultRef(path, name string) {
	var names []string
	for _, f := range v.s.Faults {
		if f.Name != "" {
			names = append(names, f.Name)
		}
	}
	switch {
	case slices.Contains(names, name):
	case len(names) == 0 && name == "":
		v.add(path, "required: the scenario has no faults (add one under faults)")
	case len(names) == 0:
		v.add(path, "unknown fault %q: the scenario has no faults", name)
	case name == "":
		v.add(path, "required (want one of %s)", capped(names))
	default:
		v.add(path, "unknown fault %q (want one of %s)", name, capped(names))
	}
}

// probeRef checks that name, at path, names a write probe of the
// scenario. SetDefaults names the only one; with several, one must be named.
func (v *validator) probeRef(path, name string) {
	var names []string
	for _, w := range v.s.Probes.Writes {
		if w.Name != "" {
			names = append(names, w.Name)
		}
	}
	switch {
	case slices.Contains(names, name):
	case len(names) == 0 && name == "":
		v.add(path, "required: the scenario has no write probe (add one under probes.writes)")
	case len(names) == 0:
		v.add(path, "unknown write probe %q: the scenario has no write probes", name)
	case name == "" && len(names) > 1:
		v.add(path, "required when there are several write probes (want one of %s)", capped(names))
	case name == "":
		v.add(path, "required (want one of %s)", capped(names))
	default:
		v.add(path, "unknown write probe %q (want one of %s)", name, capped(names))
	}
}

// promql parses expr, the field key at path, as the engine will, and
// refuses an expression that yields anything but an instant vector or a
// scalar: a check evaluates one value per series and step.
func (v *validator) promql(path, key, expr string) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		v.add(path, "invalid PromQL %q: %v", expr, err)
		return
	}
	switch t := e.Type(); t {
	case parser.ValueTypeVector, parser.ValueTypeScalar:
	case parser.ValueTypeMatrix:
		v.add(path, "%s %q yields a range vector (want an instant vector or a scalar: drop the range, or wrap it in a function such as rate)", key, expr)
	default:
		v.add(path, "%s %q yields a %s (want an instant vector or a scalar)", key, expr, t)
	}
}

// objectiveOp checks that an objective is written, with a known operator;
// example is what the "required" message offers. It reports whether the
// objective can be checked further.
func (v *validator) objectiveOp(path string, o Objective, example string) bool {
	switch {
	case o.Op == "":
		v.add(path, "required (such as %s)", example)
	case !slices.Contains(ops, o.Op):
		v.add(path, "unknown operator %q (want one of %s)", o.Op, list(ops))
	default:
		return true
	}
	return false
}

// A bound is what an objective bounds, which fixes the units it takes.
type bound struct {
	kind boundKind
	what string // how messages name it: "sli success_ratio", "successRatio"
}

type boundKind int

const (
	ratio      boundKind = iota // a plain number in [0, 1] or a percentage
	latency                     // a duration of 0s or more
	throughput                  // a plain number of requests per second
	anyUnit                     // PromQL: the unit of the result is not known
	recoveryTime
	dataLoss
)

var (
	boundRatio   = bound{ratio, "successRatio"}
	boundLatency = bound{latency, "latency"}
	boundPromQL  = bound{anyUnit, "promql"}
	boundRTO     = bound{recoveryTime, "an RTO"}
	boundRPO     = bound{dataLoss, "an RPO"}
)

// sliBound is the bound of an objective on c, a client SLI, or on a PromQL
// expression when c is nil.
func sliBound(c *ClientSLI) bound {
	if c == nil {
		return boundPromQL
	}
	switch c.SLI {
	case SLISuccessRatio:
		return bound{ratio, "sli success_ratio"}
	case SLILatency:
		return bound{latency, "sli latency"}
	case SLIThroughput:
		return bound{throughput, "sli throughput"}
	case SLIDroppedRatio:
		return bound{ratio, "sli dropped_ratio"}
	}
	return boundPromQL // an unknown sli, reported on its own
}

// objective checks the unit and the range of an objective against what it
// bounds (values keep their units: "300ms" is a duration, never 0.3):
//
//   - a success ratio: a plain number in [0, 1] or a percentage in
//     [0%, 100%];
//   - a latency: a duration of 0s or more (a plain number is refused: its
//     unit is not known);
//   - a throughput: a plain number of successful requests per second, 0
//     or more;
//   - PromQL: a plain number, a percentage (read as a ratio) or a duration
//     (read in seconds, Prometheus's base unit, as histogram_quantile over
//     a _seconds histogram yields). The unit of a query's result is not
//     known, so no range is checked;
//   - an RTO or an RPO: a duration that a measure of 0s or more can meet.
func (v *validator) objective(p string, o Objective, b bound) {
	written := o.objectiveValue()
	switch b.kind {
	case ratio:
		switch {
		case o.Unit != UnitNone && o.Unit != UnitPercent:
			v.add(p, "objective %q is %s: %s takes a plain number in [0, 1] or a percentage in [0%%, 100%%]", o.Text, o.Unit, b.what)
		case o.Unit == UnitNone && o.Value > 1 && o.Value <= 100:
			v.add(p, "objective %q is out of range: a success ratio is in [0, 1]; for %s percent write \"%s %s%%\" or \"%s %s\"", o.Text,
				written, o.Op, written, o.Op, strconv.FormatFloat(o.Value/100, 'g', 15, 64))
		case !(o.Value >= 0 && o.Value <= 1):
			v.add(p, "objective %q is out of range: a success ratio is in [0, 1], or [0%%, 100%%]", o.Text)
		}
	case latency:
		switch {
		case o.Unit == UnitNone:
			v.add(p, "objective %q has no unit: a latency needs a unit: %sms", o.Text, written)
		case o.Unit != UnitDuration:
			v.add(p, "objective %q is %s: %s takes a duration, such as \"<= 300ms\"", o.Text, o.Unit, b.what)
		case o.Value < 0:
			v.add(p, "objective %q is negative: a latency is 0s or more", o.Text)
		}
	case throughput:
		switch {
		case o.Unit != UnitNone:
			v.add(p, "objective %q is %s: %s takes a plain number of successful requests per second, such as \">= 40\"", o.Text, o.Unit, b.what)
		case o.Value < 0:
			v.add(p, "objective %q is negative: a throughput is 0 or more", o.Text)
		}
	case recoveryTime, dataLoss:
		example := `"<= 10s"`
		if b.kind == dataLoss {
			example = `"<= 0s" or "<= 1s"`
		}
		switch {
		case o.Unit != UnitDuration:
			v.add(p, "objective %q is %s: %s takes a duration, such as %s", o.Text, o.Unit, b.what, example)
		case (o.Op == OpLT && o.Value <= 0) || (o.Op == OpLE && o.Value < 0):
			v.add(p, "objective %q can never be met: %s is 0s or more (want such as %s)", o.Text, b.what, example)
		}
	}
}

// sli checks an SLI of an SLO or an abort condition: exactly one of promql
// and client, each valid, and an objective that fits it.
func (v *validator) sli(p, promql string, client *ClientSLI, o Objective) {
	switch {
	case promql == "" && client == nil:
		v.add(p, "exactly one of promql, client is required, got none")
	case promql != "" && client != nil:
		v.add(p, "exactly one of promql, client is required, got both")
	}
	if client != nil {
		v.client(p+".client", *client)
	}
	if promql != "" {
		v.promql(p+".promql", "promql", promql)
	}
	if v.objectiveOp(p+".objective", o, `">= 0.99" or "<= 300ms"`) {
		v.objective(p+".objective", o, sliBound(client))
	}
}
