package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Result labels of refapp_gateway_retries_total: what became of a request
// that failed in a way worth a retry.
const (
	// RetryRetried: sent again, to another upstream.
	RetryRetried = "retried"
	// RetryBudgetExhausted: not retried, the retry budget was spent.
	RetryBudgetExhausted = "budget_exhausted"
	// RetryNoOtherUpstream: not retried, no other upstream could take it.
	RetryNoOtherUpstream = "no_other_upstream"
)

// metrics are the gateway's own series; upstream label values are the
// configured upstream names, so the label sets stay bounded.
type metrics struct {
	retries     *prometheus.CounterVec // refapp_gateway_retries_total{result}
	requests    *prometheus.CounterVec // refapp_gateway_upstream_requests_total{upstream,code}
	checks      *prometheus.CounterVec // refapp_gateway_health_checks_total{upstream,result}
	ejections   *prometheus.CounterVec // refapp_gateway_ejections_total{upstream,reason}
	rateLimited prometheus.Counter     // refapp_gateway_rate_limited_total
	busy        *prometheus.CounterVec // refapp_gateway_upstream_busy_seconds_total{upstream}
}

// newMetrics registers the gateway's metrics on reg. status is read at
// every scrape for the per-upstream gauges (up, outstanding), so that they
// are current even though an ejection ends by the clock alone.
func newMetrics(reg prometheus.Registerer, status func() []UpstreamStatus) (*metrics, error) {
	m := &metrics{
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_gateway_retries_total",
			Help: "Requests that failed with a connection error or a 502/503/504 and could be retried, by what became of them: retried (on another upstream), budget_exhausted, no_other_upstream.",
		}, []string{"result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_gateway_upstream_requests_total",
			Help: "Attempts sent to an upstream, by status code, or error, timeout or canceled when no response came.",
		}, []string{"upstream", "code"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_gateway_health_checks_total",
			Help: "Active health checks of an upstream, by result (success or failure).",
		}, []string{"upstream", "result"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_gateway_ejections_total",
			Help: "Passive outlier ejections of an upstream, by reason: connection_error, consecutive_failures, probation.",
		}, []string{"upstream", "reason"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refapp_gateway_rate_limited_total",
			Help: "Requests refused with 429 because their client was over its rate limit.",
		}),
		busy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_gateway_upstream_busy_seconds_total",
			Help: "Time attempts to an upstream were in flight, summed over attempts, from sent until the response body was closed: its rate is the mean number of requests in flight (Little's law), the autoscaler's load signal.",
		}, []string{"upstream"}),
	}
	for _, r := range []string{RetryRetried, RetryBudgetExhausted, RetryNoOtherUpstream} {
		m.retries.WithLabelValues(r) // export zeros: rate() needs the series before the first event
	}
	cs := []prometheus.Collector{m.retries, m.requests, m.checks, m.ejections, m.rateLimited, m.busy, newUpstreamCollector(status)}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register gateway metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) checked(upstream string, ok bool) {
	result := "failure"
	if ok {
		result = "success"
	}
	m.checks.WithLabelValues(upstream, result).Inc()
}

// upstreamCollector exports refapp_gateway_upstream_up{upstream},
// refapp_gateway_upstream_outstanding{upstream} and
// refapp_gateway_upstream_draining{upstream} from the gateway's status at
// scrape time: a removed upstream is listed (draining 1) until drained.
type upstreamCollector struct {
	status      func() []UpstreamStatus
	up          *prometheus.Desc
	outstanding *prometheus.Desc
	draining    *prometheus.Desc
}

var _ prometheus.Collector = (*upstreamCollector)(nil)

func newUpstreamCollector(status func() []UpstreamStatus) *upstreamCollector {
	return &upstreamCollector{
		status: status,
		up: prometheus.NewDesc("refapp_gateway_upstream_up",
			"1 when the gateway routes new requests to the upstream (health checks pass and it is not ejected), else 0.",
			[]string{"upstream"}, nil),
		outstanding: prometheus.NewDesc("refapp_gateway_upstream_outstanding",
			"Requests in flight from the gateway to the upstream.",
			[]string{"upstream"}, nil),
		draining: prometheus.NewDesc("refapp_gateway_upstream_draining",
			"1 when the upstream was removed from the set and still has requests in flight (no new request goes to it), else 0; a drained upstream is no longer listed.",
			[]string{"upstream"}, nil),
	}
}

func (c *upstreamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.outstanding
	ch <- c.draining
}

func (c *upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.status() {
		up := 0.0
		if s.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, s.Name)
		ch <- prometheus.MustNewConstMetric(c.outstanding, prometheus.GaugeValue, float64(s.Outstanding), s.Name)
		draining := 0.0
		if s.Draining {
			draining = 1
		}
		ch <- prometheus.MustNewConstMetric(c.draining, prometheus.GaugeValue, draining, s.Name)
	}
}
