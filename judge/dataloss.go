package judge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"time"

	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/slo"
)

// probeWrites reads the write probe log of the run in dir, by probe name.
// A run without a log has none; that is not an error (the RPO checks then
// say there is nothing to judge).
func probeWrites(dir string) (map[string][]slo.ProbeWrite, error) {
	results, err := rundir.ReadProbe(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]slo.ProbeWrite{}
	for _, r := range results {
		w := slo.ProbeWrite{ID: r.Write.ID}
		if r.Write.Outcome == load.WriteAcked {
			w.Acked = r.Write.Ack
		}
		switch {
		case r.Read == nil:
			w.Read = slo.ReadNotDone
		case r.Read.Outcome == load.ReadFound:
			w.Read = slo.ReadFound
		case r.Read.Outcome == load.ReadNotFound:
			w.Read = slo.ReadNotFound
		default:
			w.Read = slo.ReadFailed
		}
		out[r.Probe] = append(out[r.Probe], w)
	}
	return out, nil
}

// rpoChecks judges every RPO check, once per injection of its fault. The
// writes judged for an injection at t0 are those acknowledged after the
// end of the last fault window that ended at or before t0 (the run's start
// when none did) and before the next injection of any fault: a write lost
// to an earlier fault, or to a later one, is that fault's loss.
func rpoChecks(ctx context.Context, specs []scenarios.RPO, tl slo.Timeline, writes map[string][]slo.ProbeWrite, query slo.QueryRangeFunc, step time.Duration) []reports.DataLossCheck {
	var out []reports.DataLossCheck
	for _, spec := range specs {
		n := 0
		for _, sp := range tl.Faults {
			if sp.Fault != spec.Fault {
				continue
			}
			n++
			c := reports.DataLossCheck{Name: spec.Name, Fault: spec.Fault, Injection: n, Probe: spec.Probe, Objective: spec.Objective.String()}
			c.From, c.To = lossRange(tl, sp)
			all, ok := writes[spec.Probe]
			if !ok && len(writes) == 1 {
				all, ok = writes[""] // the log of a single probe names none
			}
			if !ok {
				c.Detail = fmt.Sprintf("the run has no log of write probe %q: nothing to judge", spec.Probe)
				out = append(out, c)
				continue
			}
			var in []slo.ProbeWrite
			for _, w := range all {
				if w.Acked.IsZero() || (w.Acked.After(c.From) && w.Acked.Before(c.To)) {
					in = append(in, w)
				}
			}
			var lag *float64
			if spec.ReplicationLag != "" {
				c.ReplicationLagQuery = spec.ReplicationLag
				v, err := valueBefore(ctx, query, spec.ReplicationLag, sp.Start, step)
				if err != nil {
					c.ReplicationLagQuery += " (" + err.Error() + ")"
				} else {
					lag = v
				}
			}
			loss := slo.ProbeRPO(in, sp, lag)
			c.Loss = &loss
			c.Passed = loss.Meets(spec.Objective)
			c.Measured = loss.RPO.String()
			switch {
			case loss.Acknowledged == 0:
				c.Measured = ""
				c.Detail = "no write was acknowledged around this injection: the RPO cannot be shown"
			case !c.Passed && loss.WorstRPO > loss.RPO:
				c.Detail = fmt.Sprintf("%d acknowledged writes could not be read back; if lost, the RPO is %s", loss.Unverified, loss.WorstRPO)
			case !c.Passed:
				c.Detail = fmt.Sprintf("%d acknowledged writes lost, the oldest acknowledged %s before the injection", loss.Lost, loss.RPO)
			}
			out = append(out, c)
		}
	}
	return out
}

// lossRange is the range of acknowledgement times judged for the
// injection sp: (from, to).
func lossRange(tl slo.Timeline, sp slo.Span) (from, to time.Time) {
	from = tl.Start.Add(-time.Nanosecond)
	to = time.Unix(math.MaxInt32, 0)
	for _, o := range tl.Faults {
		if o == sp {
			continue
		}
		if !o.End.IsZero() && !o.End.After(sp.Start) && o.End.After(from) {
			from = o.End
		}
		if o.Start.After(sp.Start) && o.Start.Before(to) {
			to = o.Start
		}
	}
	return from, to
}

// valueBefore is the value of expr just before t: the last sample at or
// before t within four steps; nil when there is none.
func valueBefore(ctx context.Context, query slo.QueryRangeFunc, expr string, t time.Time, step time.Duration) (*float64, error) {
	if query == nil {
		return nil, errors.New("no Prometheus data in this run")
	}
	if step <= 0 {
		step = time.Second
	}
	series, err := query(ctx, expr, t.Add(-4*step), t, step)
	if err != nil {
		return nil, err
	}
	if len(series) > 1 {
		return nil, fmt.Errorf("the expression yields %d series; want one", len(series))
	}
	if len(series) == 0 || len(series[0].Points) == 0 {
		return nil, nil
	}
	ps := series[0].Points
	v := ps[len(ps)-1].V
	return &v, nil
}
