package load

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Sink receives every result of a stream as it completes, from many
// goroutines concurrently. route is the name of the Request that produced r.
// r is shared by every sink of the stream: a sink must not modify it.
type Sink interface {
	Record(stream, route string, r *vegeta.Result)
}

// DropSink is a Sink that is also told of the hits Run dropped: due by the
// stream's schedule while every worker of its entry was busy (see
// Stream.MaxWorkers), so never sent. due is when the hit was due. Run calls
// Drop from the entry's pacing goroutine, concurrently with Record.
type DropSink interface {
	Sink
	Drop(stream, route string, due time.Time)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(stream, route string, r *vegeta.Result)

// Record calls f.
func (f SinkFunc) Record(stream, route string, r *vegeta.Result) { f(stream, route, r) }

// Run sends the stream's load to base (e.g. "http://127.0.0.1:4312") until
// s.Duration elapses or ctx ends, delivering every result to every sink in
// completion order. When ctx ends Run stops promptly: no new request starts,
// requests in flight are cut, and Run returns once every result was
// delivered. A cut request's result is marked: its Error starts with
// ErrCanceled's text and Outcome says OutcomeCanceled, so that what gameday
// cut is never counted as the target's failure. The criterion: no
// complete response (code 0, or an error after a 2xx/3xx) and an end
// (Timestamp + Latency) at or after the moment ctx ended. The end of
// s.Duration cuts nothing: requests in flight then complete, or fail by
// their timeout (the target's failure).
//
// Each entry of the mix is paced by its own share of the stream's Pacer,
// at exactly rate × weight / Σweights, its results named
// "<stream>/<route>" (vegeta.Result.Attack); the entries start and end
// together. A result is Vegeta's: what Vegeta's Attacker would have
// recorded for the same request, except that Run sends no X-Vegeta-*
// request headers and keeps the response headers of a failed status only
// (see attack.send).
//
// The load is an open model: hits are due by the schedule alone, whatever
// the target answers. The stream has at most Stream.MaxWorkers requests in
// flight, its entries drawing on one pool; a hit due while every worker is
// busy waits for one at most MaxLateness, then is dropped, never sent
// later, and counted (Summary.Dropped; every DropSink is told). So a slow
// target never grows the generator's goroutines or memory beyond the cap,
// and at the end, for a stream its context did not cut, every hit the
// schedule made due by Duration was either sent or dropped.
//
// The error is non-nil only when the stream could not run (an invalid
// stream, a bad template: nothing was sent) or a request failed to render
// mid-run (the stream stopped; the Summary counts what was sent).
func Run(ctx context.Context, s Stream, base string, sinks ...Sink) (Summary, error) {
	sum := Summary{Stream: s.Name, Routes: map[string]RouteCounts{}}
	p, err := s.plan(base, newIDPrefix())
	if err != nil {
		return sum, fmt.Errorf("load stream %q: %w", s.Name, err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	pool := newConnPool()
	client := newLoadClient(pool, p.connections, p.timeout, s.RootCAs)
	defer client.CloseIdleConnections()

	pacers := make([]vegeta.Pacer, len(p.entries))
	for i, e := range p.entries {
		pacers[i] = e.pacer
	}
	a := &attack{
		p:      p,
		sched:  newSchedule(s.Duration, pacers),
		client: client,
		done:   runCtx.Done(),
		sinks:  sinks,
		counts: make([]entryCounts, len(p.entries)),
		seqs:   make([]atomic.Uint64, len(p.entries)),
		max:    int64(p.maxWorkers), //nolint:gosec // G115: at most DefaultMaxWorkersCap or the stream's own int
		cancel: cancel,
	}
	for _, sink := range sinks {
		if ds, ok := sink.(DropSink); ok {
			a.drops = append(a.drops, ds)
		}
	}

	var interrupted atomic.Bool
	cut := make(chan struct{}) // closed when the cutting below has ended
	unregister := context.AfterFunc(runCtx, func() {
		defer close(cut)
		now := time.Now()
		a.stopAt.Store(&now) // before any cut, so every cut request ends after it
		interrupted.Store(true)
		a.halt.Store(true)
		pool.stop()
	})
	defer unregister()

	a.began = time.Now()
	a.start(int64(p.workers))
	a.wg.Wait()
	sum.Elapsed = time.Since(a.began)
	// The workers watch runCtx themselves, so they may end before the
	// AfterFunc above has run: wait for it, or keep it from running.
	if !unregister() {
		<-cut
	}
	sum.Interrupted = interrupted.Load()
	for i, e := range p.entries {
		c := RouteCounts{
			Requests:  a.counts[i].requests.Load(),
			Successes: a.counts[i].successes.Load(),
			Canceled:  a.counts[i].canceled.Load(),
			Dropped:   a.sched.dropped(i),
		}
		sum.Routes[e.route] = c
		sum.Requests += c.Requests
		sum.Successes += c.Successes
		sum.Canceled += c.Canceled
		sum.Dropped += c.Dropped
	}
	if a.renderErr != nil {
		return sum, fmt.Errorf("load stream %q: %w", s.Name, a.renderErr)
	}
	return sum, nil
}

// MaxLateness is how long after its due time a hit may wait for a free
// worker of its stream before Run drops it. It is long enough that the
// scheduling pauses of a busy machine are not counted as drops (at 10 ms,
// a shared 2-core box dropped 0.1-2 % of the hits at 2000-10 000/s that
// Vegeta sent a little late), so Dropped means a target slower than the
// stream's workers allow for; and short enough that the schedule stays the
// schedule: the hits owed after a stall come in a burst of at most this
// long's worth, within one 100 ms bucket of a live window. A late hit's
// result carries the time it was sent.
const MaxLateness = 100 * time.Millisecond

// newIDPrefix is a random prefix that makes Data.ID unique within the
// process (and, in practice, across runs).
func newIDPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:]) + "-"
}
