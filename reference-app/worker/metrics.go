package worker

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Result labels of refapp_worker_deliveries_total.
const (
	resultDelivered = "delivered" // pushed, recorded, acked
	resultDuplicate = "duplicate" // already in the ledger: acked without a push
	resultFailed    = "failed"    // not delivered this time: handed back for a retry
	resultDropped   = "dropped"   // malformed, or refused for good by the provider: terminated
)

// metrics are the worker's own series.
type metrics struct {
	deliveries *prometheus.CounterVec // refapp_worker_deliveries_total{result}
	duration   prometheus.Histogram   // refapp_worker_delivery_duration_seconds
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_worker_deliveries_total",
			Help: "Events handled, by result: delivered, duplicate (already delivered), failed (to be retried), dropped (terminated).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "refapp_worker_delivery_duration_seconds",
			Help:    "Time of one push to the provider, failed attempts included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	for _, r := range []string{resultDelivered, resultDuplicate, resultFailed, resultDropped} {
		m.deliveries.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.deliveries, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register worker metrics: %w", err)
		}
	}
	return m, nil
}
