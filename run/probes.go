package run

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
)

// writeProbe is one of the scenario's write probes in a run: its prober
// and the writes it made, kept for the read-back.
type writeProbe struct {
	spec   scenarios.WriteProbe
	prober *load.Prober
	sink   load.ProbeSink // the run's probe log, entries tagged with the probe's name

	mu     sync.Mutex // guards writes
	writes []load.ProbeWrite
}

// RecordWrite keeps w for the read-back and logs it.
func (p *writeProbe) RecordWrite(w load.ProbeWrite) {
	p.sink.RecordWrite(w)
	if w.Outcome != load.WriteAcked {
		return // Verify reads back only what was acknowledged
	}
	p.mu.Lock()
	p.writes = append(p.writes, w)
	p.mu.Unlock()
}

// RecordRead logs r.
func (p *writeProbe) RecordRead(r load.ProbeRead) { p.sink.RecordRead(r) }

// buildProbes makes a prober of each of the scenario's write probes,
// templated like the load's requests (the target's base URL, token, URLs,
// headers and the scenario's template functions), and opens the run's
// probe log. A bad template fails here, before the load starts.
func (r *runner) buildProbes() ([]*writeProbe, error) {
	if len(r.s.Probes.Writes) == 0 {
		return nil, nil
	}
	log, err := rundir.CreateProbeLog(r.dir)
	if err != nil {
		return nil, err
	}
	r.probeLog = log
	out := make([]*writeProbe, len(r.s.Probes.Writes))
	for i, wp := range r.s.Probes.Writes {
		pr, err := load.NewProber(load.WriteProbe{
			Write:       load.Request{Name: wp.Name + " write", Weight: 1, Method: wp.Write.Method, URL: wp.Write.URL, Body: wp.Write.Body, Header: wp.Write.Header},
			Verify:      load.Request{Name: wp.Name + " read", Weight: 1, Method: wp.Read.Method, URL: wp.Read.URL, Body: wp.Read.Body, Header: wp.Read.Header},
			Every:       wp.Every,
			Timeout:     wp.Timeout,
			MaxInFlight: wp.MaxInFlight,
			Acked:       wp.Acked,
			Found:       wp.Found,
			NotFound:    wp.NotFound,
			Token:       r.running.Token,
			URLs:        r.running.URLs,
			Header:      r.running.Header,
			Funcs:       r.vals.Funcs(),
			RootCAs:     r.running.RootCAs,
		}, r.running.Base)
		if err != nil {
			return nil, fmt.Errorf("write probe %q: %w", wp.Name, err)
		}
		out[i] = &writeProbe{spec: wp, prober: pr, sink: log.Probe(wp.Name)}
	}
	return out, nil
}

// runProbe writes until ctx ends (the end of the load), then says what it
// wrote.
func (r *runner) runProbe(ctx context.Context, p *writeProbe) error {
	r.events.Emit(rundir.Event{Type: rundir.EventProbeStarted, Stream: p.spec.Name, Message: "a write every " + p.prober.Every().String()})
	sum, err := p.prober.Run(ctx, p)
	r.events.Emit(rundir.Event{Type: rundir.EventProbeStopped, Stream: p.spec.Name,
		Message: fmt.Sprintf("%d writes: %d acked, %d rejected, %d failed, %d stopped; %d ticks skipped",
			sum.Writes, sum.Acked, sum.Rejected, sum.Failed, sum.Stopped, sum.Skipped),
		Attrs: map[string]string{
			"writes": u(sum.Writes), "acked": u(sum.Acked), "rejected": u(sum.Rejected),
			"failed": u(sum.Failed), "stopped": u(sum.Stopped), "skipped": u(sum.Skipped),
		}})
	if err != nil {
		return fmt.Errorf("write probe %q: %w", p.spec.Name, err)
	}
	return nil
}

// verifyProbe waits until Settle after settledFrom (the later of the end
// of the load and the last fault's recovery), then reads every
// acknowledged write back, within a deadline: Settle and the prober's
// VerifyBound of the writes. An
// interrupt (ctx) ends the wait or the reads; what was not read stays
// unverified, which the judge never counts as lost.
func (r *runner) verifyProbe(ctx context.Context, p *writeProbe, settledFrom time.Time) error {
	p.mu.Lock()
	writes := p.writes
	p.mu.Unlock()
	settleAt := settledFrom.Add(p.spec.Settle)
	vctx, cancel := context.WithDeadline(ctx, settleAt.Add(p.prober.VerifyBound(len(writes))))
	defer cancel()
	var sum load.VerifySummary
	var err error
	if sleepUntil(vctx, settleAt) {
		sum, err = p.prober.Verify(vctx, writes, p)
	} else {
		sum = load.VerifySummary{Acked: len(writes), Unread: len(writes)}
	}
	msg := fmt.Sprintf("%d acked writes: %d found, %d not found, %d failed, %d stopped, %d unread",
		sum.Acked, sum.Found, sum.NotFound, sum.Failed, sum.Stopped, sum.Unread)
	if vctx.Err() != nil {
		msg += "; the read-back was cut: " + context.Cause(vctx).Error()
	}
	r.events.Emit(rundir.Event{Type: rundir.EventProbeVerified, Stream: p.spec.Name, Message: msg,
		Attrs: map[string]string{
			"acked": strconv.Itoa(sum.Acked), "found": strconv.Itoa(sum.Found), "notFound": strconv.Itoa(sum.NotFound),
			"failed": strconv.Itoa(sum.Failed), "stopped": strconv.Itoa(sum.Stopped), "unread": strconv.Itoa(sum.Unread),
		}})
	if err != nil {
		return fmt.Errorf("write probe %q: %w", p.spec.Name, err)
	}
	return nil
}

func u(n uint64) string { return strconv.FormatUint(n, 10) }
