package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's own series; upstream label values are the
// configured upstream names, so the label sets stay bounded.
type metrics struct {
	up       *prometheus.GaugeVec   // refapp_gateway_upstream_up{upstream}
	retries  prometheus.Counter     // refapp_gateway_retries_total
	requests *prometheus.CounterVec // refapp_gateway_upstream_requests_total{upstream,code}
	checks   *prometheus.CounterVec // refapp_gateway_health_checks_total{upstream,result}
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "refapp_gateway_upstream_up",
			Help: "1 when the gateway routes traffic to the upstream, else 0.",
		}, []string{"upstream"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refapp_gateway_retries_total",
			Help: "Requests retried on another upstream after a connection error or a 502/503/504.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_gateway_upstream_requests_total",
			Help: "Attempts sent to an upstream, by status code, or error, timeout or canceled when no response came.",
		}, []string{"upstream", "code"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_gateway_health_checks_total",
			Help: "Active health checks of an upstream, by result (success or failure).",
		}, []string{"upstream", "result"}),
	}
	for _, c := range []prometheus.Collector{m.up, m.retries, m.requests, m.checks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register gateway metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) setUp(upstream string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(upstream).Set(v)
}

func (m *metrics) checked(upstream string, ok bool) {
	result := "failure"
	if ok {
		result = "success"
	}
	m.checks.WithLabelValues(upstream, result).Inc()
}
