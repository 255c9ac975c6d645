package judge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
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
		w := slo.ProbeWrite{ID: r.Write.ID, Sent: r.Write.Sent}
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

// rpoChecks judges every RPO check, once per injection of its fault, on
// the writes sent in the injection's range (see lossRange): a write lost
// to an earlier fault, or to a later one, is that fault's loss. Membership
// goes by the time a write was sent, not acknowledged: a write the target
// stored before a fault and acknowledged a moment after the fault ended
// (its answer crossing the fault's own) is still that fault's.
func rpoChecks(ctx context.Context, specs []scenarios.RPO, tl slo.Timeline, writes map[string][]slo.ProbeWrite, query slo.QueryRangeFunc, step time.Duration) []reports.DataLossCheck {
	var out []reports.DataLossCheck
	// The injections judged on one probe split its writes between them;
	// faults no RPO check of the probe names do not (a link cut before a
	// failover belongs to the failover's loss).
	judged := map[string]slo.Timeline{}
	for _, spec := range specs {
		if _, ok := judged[spec.Probe]; ok {
			continue
		}
		names := map[string]bool{}
		for _, o := range specs {
			if o.Probe == spec.Probe {
				names[o.Fault] = true
			}
		}
		sub := slo.Timeline{Start: tl.Start, End: tl.End}
		for _, sp := range tl.Faults {
			if names[sp.Fault] {
				sub.Faults = append(sub.Faults, sp)
			}
		}
		judged[spec.Probe] = sub
	}
	for _, spec := range specs {
		n := 0
		for _, sp := range tl.Faults {
			if sp.Fault != spec.Fault {
				continue
			}
			n++
			c := reports.DataLossCheck{Name: spec.Name, Fault: spec.Fault, Injection: n, Probe: spec.Probe, Objective: spec.Objective.String()}
			c.From, c.To = lossRange(judged[spec.Probe], sp)
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
				if w.Sent.After(c.From) && (c.To.IsZero() || !w.Sent.After(c.To)) {
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
// injection sp: (from, to], to zero when the range runs to the end. The injections of the run, in time order,
// split the load into consecutive ranges: the one of an injection ends
// when its fault window ends (its recovery; at once for an instant
// fault), or at the next injection if that comes first; the last one
// runs to the end. A lost write thus belongs to the first fault that
// ended after it was sent: acknowledged before the injection it is in the
// fault's RPO, after it in its split brain.
func lossRange(tl slo.Timeline, sp slo.Span) (from, to time.Time) {
	spans := slices.Clone(tl.Faults)
	slices.SortStableFunc(spans, func(a, b slo.Span) int { return a.Start.Compare(b.Start) })
	never := time.Unix(1<<40, 0)
	bound := func(i int) time.Time {
		if i == len(spans)-1 {
			return never
		}
		end := spans[i].End
		if end.IsZero() {
			end = never
		}
		end = maxTime(end, spans[i].Start)
		return minTime(end, spans[i+1].Start)
	}
	from = tl.Start.Add(-time.Nanosecond)
	for i := range spans {
		if spans[i] == sp {
			if to = bound(i); to.Equal(never) {
				to = time.Time{}
			}
			return from, to
		}
		from = maxTime(from, bound(i))
	}
	return from, time.Time{}
}

func maxTime(a, b time.Time) time.Time { return slices.MaxFunc([]time.Time{a, b}, time.Time.Compare) }

func minTime(a, b time.Time) time.Time { return slices.MinFunc([]time.Time{a, b}, time.Time.Compare) }

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
