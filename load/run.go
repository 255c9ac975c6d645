package load

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
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
// Each entry of the mix runs as its own Vegeta attack named
// "<stream>/<route>", at exactly rate × weight / Σweights; the entries start
// and end together.
//
// The load is an open model: hits are due by the schedule alone, whatever
// the target answers. The stream has at most Stream.MaxWorkers requests in
// flight, its entries drawing on one pool; a hit due while every worker is
// busy waits for one at most MaxLateness, then is dropped, never sent
// later, and counted
// (Summary.Dropped; every DropSink is told). So a
// slow target never grows the generator's goroutines or memory beyond the
// cap, and at the end, for a stream its context did not cut, every hit the
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
	transport := newTransport(pool, p.connections)
	transport.TLSClientConfig.RootCAs = s.RootCAs
	client := &http.Client{Transport: transport, Timeout: p.timeout}
	defer client.CloseIdleConnections()
	attackers := make([]*vegeta.Attacker, len(p.entries))
	for i, e := range p.entries {
		attackers[i] = vegeta.NewAttacker(
			vegeta.Client(client), // first: the options below configure its transport
			vegeta.Timeout(p.timeout),
			vegeta.Workers(e.workers),
			vegeta.MaxWorkers(p.maxWorkers), // the stream's pool: busy() gates the sum
			vegeta.Connections(p.connections),
			vegeta.MaxBody(p.maxBody),
			vegeta.KeepAlive(true),
			vegeta.HTTP2(false),
			vegeta.Redirects(vegeta.NoFollow),
		)
	}

	var interrupted atomic.Bool
	var stopAt atomic.Pointer[time.Time] // when Run began cutting; nil until then
	cut := make(chan struct{})           // closed when the cutting below has ended
	unregister := context.AfterFunc(runCtx, func() {
		defer close(cut)
		now := time.Now()
		stopAt.Store(&now) // before any cut, so every cut request ends after it
		interrupted.Store(true)
		for _, a := range attackers {
			a.Stop()
		}
		pool.stop()
	})
	defer unregister()

	var (
		renderOnce sync.Once
		renderErr  error // written once by a worker; read after wg.Wait
		wg         sync.WaitGroup
		counts     = make([]RouteCounts, len(p.entries))
		pacers     = make([]*stoppingPacer, len(p.entries))
		dropSinks  []DropSink
		// handed and delivered count, per entry, the hits handed to a
		// worker and the results received: a worker whose result was
		// received is free again, so the stream's busy workers are
		// Σ handed − delivered, which its pool caps.
		handed    = make([]atomic.Uint64, len(p.entries))
		delivered = make([]atomic.Uint64, len(p.entries))
		freed     = make([]chan struct{}, len(p.entries))
	)
	for _, sink := range sinks {
		if ds, ok := sink.(DropSink); ok {
			dropSinks = append(dropSinks, ds)
		}
	}
	for i := range freed {
		freed[i] = make(chan struct{}, 1)
	}
	busy := func() uint64 {
		var n uint64
		for j := range handed {
			if h, d := handed[j].Load(), delivered[j].Load(); h > d {
				n += h - d
			}
		}
		return n
	}
	start := time.Now()
	for i, e := range p.entries {
		tr := func(t *vegeta.Target) error {
			err := e.targeter.fill(t)
			if err != nil {
				renderOnce.Do(func() { renderErr = fmt.Errorf("route %q: %w", e.route, err) })
				cancel()
			}
			return err
		}
		pacer := newStoppingPacer(e.pacer, s.Duration, runCtx.Done())
		pacer.full = func(sent uint64) bool {
			handed[i].Store(sent) // Vegeta handed every hit before this one
			return busy() >= p.maxWorkers
		}
		pacer.handing = handed[i].Store
		pacer.freed, pacer.late = freed[i], MaxLateness
		if len(dropSinks) > 0 {
			pacer.drop = func(due time.Time) {
				for _, ds := range dropSinks {
					ds.Drop(p.name, e.route, due)
				}
			}
		}
		pacers[i] = pacer
		results := attackers[i].Attack(tr, pacer, s.Duration, e.attack)
		// The results are received at once, freeing their workers, and
		// given to the sinks by a goroutine of their own: a burst of
		// results waits in the queue, not in busy workers.
		queue := make(chan *vegeta.Result, resultsQueue)
		wg.Go(func() {
			defer close(queue)
			for r := range results {
				delivered[i].Add(1)
				for _, f := range freed { // a worker of the pool is free
					select {
					case f <- struct{}{}:
					default: // a signal is already waiting
					}
				}
				if at := stopAt.Load(); at != nil {
					markCanceled(r, *at)
				}
				queue <- r
			}
		})
		wg.Go(func() {
			c := &counts[i]
			for r := range queue {
				for _, sink := range sinks {
					sink.Record(p.name, e.route, r)
				}
				c.Requests++
				switch Outcome(r) {
				case OutcomeSuccess:
					c.Successes++
				case OutcomeCanceled:
					c.Canceled++
				}
			}
		})
	}
	wg.Wait()
	sum.Elapsed = time.Since(start)
	// The pacers watch runCtx themselves, so the attacks may end before
	// the AfterFunc above has run: wait for it, or keep it from running.
	if !unregister() {
		<-cut
	}
	sum.Interrupted = interrupted.Load()
	for i, e := range p.entries {
		// The attack's loop has ended: results are closed after it.
		if !sum.Interrupted {
			pacers[i].settle(counts[i].Requests)
		}
		counts[i].Dropped = pacers[i].Dropped()
		sum.Routes[e.route] = counts[i]
		sum.Requests += counts[i].Requests
		sum.Successes += counts[i].Successes
		sum.Canceled += counts[i].Canceled
		sum.Dropped += counts[i].Dropped
	}
	if renderErr != nil {
		return sum, fmt.Errorf("load stream %q: %w", s.Name, renderErr)
	}
	return sum, nil
}

// resultsQueue is how many results of an entry may wait for the sinks.
const resultsQueue = 4096

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
