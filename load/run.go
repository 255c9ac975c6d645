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
	client := &http.Client{Transport: newTransport(pool, p.connections), Timeout: p.timeout}
	defer client.CloseIdleConnections()
	attackers := make([]*vegeta.Attacker, len(p.entries))
	for i, e := range p.entries {
		attackers[i] = vegeta.NewAttacker(
			vegeta.Client(client), // first: the options below configure its transport
			vegeta.Timeout(p.timeout),
			vegeta.Workers(e.workers),
			vegeta.MaxWorkers(e.maxWorkers),
			vegeta.Connections(p.connections),
			vegeta.MaxBody(p.maxBody),
			vegeta.KeepAlive(true),
			vegeta.HTTP2(false),
			vegeta.Redirects(vegeta.NoFollow),
		)
	}

	var interrupted atomic.Bool
	var stopAt atomic.Pointer[time.Time] // when Run began cutting; nil until then
	unregister := context.AfterFunc(runCtx, func() {
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
	)
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
		results := attackers[i].Attack(tr, pacer, s.Duration, e.attack)
		wg.Go(func() {
			c := &counts[i]
			for r := range results {
				if at := stopAt.Load(); at != nil {
					markCanceled(r, *at)
				}
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
	sum.Interrupted = interrupted.Load()
	for i, e := range p.entries {
		sum.Routes[e.route] = counts[i]
		sum.Requests += counts[i].Requests
		sum.Successes += counts[i].Successes
		sum.Canceled += counts[i].Canceled
	}
	if renderErr != nil {
		return sum, fmt.Errorf("load stream %q: %w", s.Name, renderErr)
	}
	return sum, nil
}

// newIDPrefix is a random prefix that makes Data.ID unique within the
// process (and, in practice, across runs).
func newIDPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:]) + "-"
}
