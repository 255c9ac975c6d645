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
	}
	for _, r := range []string{RetryRetried, RetryBudgetExhausted, RetryNoOtherUpstream} {
		m.retries.WithLabelValues(r) // export zeros: rate() needs the series before the first event
	}
	cs := []prometheus.Collector{m.retries, m.requests, m.checks, m.ejections, m.rateLimited, newUpstreamCollector(status)}
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

// upstreamCollector exports refapp_gateway_upstream_up{upstream} and
// refapp_gateway_upstream_outstanding{upstream} from the gateway's status
// at scrape time.
type upstreamCollector struct {
	status      func() []UpstreamStatus
	up          *prometheus.Desc
	outstanding *prometheus.Desc
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
	}
}

func (c *upstreamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.outstanding
}

func (c *upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.status() {
		up := 0.0
		if s.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, s.Name)
		ch <- prometheus.MustNewConstMetric(c.outstanding, prometheus.GaugeValue, float64(s.Outstanding), s.Name)
	}
}
