package run

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/load"
)

// LiveStatus is the load of a run as it plays, for a live view.
type LiveStatus struct {
	// Elapsed counts from the start of the load; Total is how long the
	// scenario's load lasts.
	Elapsed, Total time.Duration
	// Rate is the requests per second that started in the last
	// LiveSpan and were answered or failed (gameday's own cancellations
	// and dropped hits are not in it), SuccessRatio their successes (NaN
	// without requests) and P99 the 99th percentile of the successes'
	// latency (0 without any).
	Rate         float64
	SuccessRatio float64
	P99          time.Duration
	// Requests and Dropped count since the start of the load: the
	// requests sent, and the hits due that no worker was free to send.
	Requests, Dropped uint64
}

// LiveSpan is the trailing span a LiveStatus's rate, ratio and p99 cover.
// It ends liveLag before the status is taken: a request counts where it
// started, and the most recent ones have not all been answered yet.
const (
	LiveSpan = time.Second
	liveLag  = 250 * time.Millisecond
)

// WithLiveStatus calls fn every every (a second when every is not
// positive) while the load plays, and once more when it ends, with the
// load's status; fn must not block.
func WithLiveStatus(every time.Duration, fn func(LiveStatus)) Option {
	if every <= 0 {
		every = time.Second
	}
	return func(o *options) { o.live, o.liveEvery = fn, every }
}

// liveTap is a load sink that keeps what a LiveStatus reads.
type liveTap struct {
	window            *load.Window
	requests, dropped atomic.Uint64
}

var _ load.DropSink = (*liveTap)(nil)

func newLiveTap() *liveTap {
	return &liveTap{window: load.NewWindow(LiveSpan+liveLag+load.WindowResolution, "", "")}
}

// Record counts a result.
func (l *liveTap) Record(stream, route string, r *vegeta.Result) {
	switch load.Outcome(r) {
	case load.OutcomeDropped:
		return // counted by Drop
	case load.OutcomeCanceled:
	default:
		l.requests.Add(1)
	}
	l.window.Record(stream, route, r)
}

// Drop counts a hit that was due and never sent.
func (l *liveTap) Drop(string, string, time.Time) { l.dropped.Add(1) }

// status is the load's status at now, t0 being the start of the load.
func (l *liveTap) status(t0, now time.Time, total time.Duration) LiveStatus {
	end := now.Add(-liveLag)
	st := l.window.Stats(end.Add(-LiveSpan), end)
	s := LiveStatus{
		Elapsed: min(now.Sub(t0), total), Total: total,
		Rate: float64(st.Requests) / LiveSpan.Seconds(), SuccessRatio: st.SuccessRatio(),
		Requests: l.requests.Load(), Dropped: l.dropped.Load(),
	}
	if math.IsNaN(s.SuccessRatio) {
		s.Rate = 0
	}
	if p, ok := st.Latency(0.99); ok {
		s.P99 = p
	}
	return s
}

// reportLive calls fn every every until ctx ends, then once more.
func (l *liveTap) reportLive(ctx context.Context, t0 time.Time, total, every time.Duration, fn func(LiveStatus)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fn(l.status(t0, time.Now(), total))
			return
		case now := <-tick.C:
			fn(l.status(t0, now, total))
		}
	}
}

// loadTotal is how long the scenario's load lasts: until its last stream
// ends.
func (r *runner) loadTotal() time.Duration {
	var total time.Duration
	for _, st := range r.s.Load {
		total = max(total, st.Start+st.Duration)
	}
	return total
}
