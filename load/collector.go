package load

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Outcomes of a result, as Outcome returns them and as the outcome label of
// gameday_requests_total carries them.
const (
	OutcomeSuccess        = "success"         // 2xx or 3xx, no error
	OutcomeClientError    = "client_error"    // 4xx
	OutcomeServerError    = "server_error"    // 5xx
	OutcomeTransportError = "transport_error" // no response (code 0), any other code, or an error after a 2xx/3xx
	OutcomeCanceled       = "canceled"        // cut by gameday itself (see ErrCanceled): not the target's failure
	// OutcomeDropped is a hit gameday never sent, every worker being busy
	// (see ErrDropped): only a results file holds such records.
	OutcomeDropped = "dropped"
)

// Outcome classifies a result: OutcomeSuccess for a 2xx or 3xx response with
// no error, OutcomeClientError for 4xx, OutcomeServerError for 5xx,
// OutcomeCanceled for a request Run cut when its context ended (its Error
// starts with ErrCanceled's text; see Run), OutcomeDropped for the record
// of a hit Run dropped (see Dropped), and OutcomeTransportError for
// everything else: no response (code 0), a code outside 200-599, or a
// 2xx/3xx whose body failed to arrive (timeout, reset). Run, like Vegeta,
// sets Error for every code outside 2xx/3xx, so the code decides first.
func Outcome(r *vegeta.Result) string {
	switch c := r.Code; {
	case Dropped(r):
		return OutcomeDropped
	case Canceled(r):
		return OutcomeCanceled
	case c >= 500 && c < 600:
		return OutcomeServerError
	case c >= 400 && c < 500:
		return OutcomeClientError
	case c >= 200 && c < 400 && r.Error == "":
		return OutcomeSuccess
	default:
		return OutcomeTransportError
	}
}

// durationBuckets are the buckets of gameday_request_duration_seconds, in
// seconds: 1 ms to 10 s.
func durationBuckets() []float64 {
	return []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
}

// Collector is gameday's client-side Prometheus metrics, a Sink:
//
//	gameday_requests_total{stream,route,outcome,code}       counter
//	gameday_request_duration_seconds{stream,route}          histogram, buckets 1ms, 2.5ms, 5ms ... 5s, 10s
//	gameday_dropped_total{stream,route}                     counter: hits due while every worker was busy, never sent
//
// route is the Request's name, never its URL, so the series are bounded by
// the scenario; code is the HTTP status ("0" without a response). Record is
// safe for concurrent use.
type Collector struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	dropped  *prometheus.CounterVec

	// The children per label set, cached so that Record does not hash label
	// values on every result.
	mu        sync.RWMutex // guards counters, observers and drops
	counters  map[requestKey]prometheus.Counter
	observers map[routeKey]prometheus.Observer
	drops     map[routeKey]prometheus.Counter
}

type routeKey struct{ stream, route string }

type requestKey struct {
	routeKey
	code    uint16
	outcome string // a 2xx/3xx may be a success, a transport error or canceled
}

var _ DropSink = (*Collector)(nil)

// NewCollector creates the metrics and registers them on reg.
func NewCollector(reg prometheus.Registerer) (*Collector, error) {
	c := &Collector{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gameday_requests_total",
			Help: "Requests sent by gameday's load generator, by stream, route, outcome and HTTP status code.",
		}, []string{"stream", "route", "outcome", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gameday_request_duration_seconds",
			Help:    "Duration of gameday's load requests as the client saw them, by stream and route.",
			Buckets: durationBuckets(),
		}, []string{"stream", "route"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gameday_dropped_total",
			Help: "Requests gameday's load generator was due to send but dropped, every worker of the stream being busy, by stream and route.",
		}, []string{"stream", "route"}),
		counters:  map[requestKey]prometheus.Counter{},
		observers: map[routeKey]prometheus.Observer{},
		drops:     map[routeKey]prometheus.Counter{},
	}
	for _, m := range []prometheus.Collector{c.requests, c.duration, c.dropped} {
		if err := reg.Register(m); err != nil {
			return nil, fmt.Errorf("register load metrics: %w", err)
		}
	}
	return c, nil
}

// Record counts r and observes its latency.
func (c *Collector) Record(stream, route string, r *vegeta.Result) {
	outcome := Outcome(r)
	rk := routeKey{stream, route}
	qk := requestKey{routeKey: rk, code: r.Code, outcome: outcome}
	c.mu.RLock()
	ctr, okc := c.counters[qk]
	obs, oko := c.observers[rk]
	c.mu.RUnlock()
	if !okc || !oko {
		c.mu.Lock()
		if ctr, okc = c.counters[qk]; !okc {
			ctr = c.requests.WithLabelValues(stream, route, outcome, strconv.Itoa(int(r.Code)))
			c.counters[qk] = ctr
		}
		if obs, oko = c.observers[rk]; !oko {
			obs = c.duration.WithLabelValues(stream, route)
			c.observers[rk] = obs
		}
		c.mu.Unlock()
	}
	ctr.Inc()
	obs.Observe(r.Latency.Seconds())
}

// Drop counts a hit Run dropped.
func (c *Collector) Drop(stream, route string, _ time.Time) {
	rk := routeKey{stream, route}
	c.mu.RLock()
	ctr, ok := c.drops[rk]
	c.mu.RUnlock()
	if !ok {
		c.mu.Lock()
		if ctr, ok = c.drops[rk]; !ok {
			ctr = c.dropped.WithLabelValues(stream, route)
			c.drops[rk] = ctr
		}
		c.mu.Unlock()
	}
	ctr.Inc()
}
