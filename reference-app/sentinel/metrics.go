package sentinel

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sentinel's series; node label values are the configured
// store names, so the label sets stay bounded.
type metrics struct {
	epoch     prometheus.Gauge     // refapp_sentinel_epoch
	failovers prometheus.Counter   // refapp_sentinel_failovers_total
	up        *prometheus.GaugeVec // refapp_sentinel_store_up{node}
	primary   *prometheus.GaugeVec // refapp_sentinel_primary{node}
	blocked   prometheus.Gauge     // refapp_sentinel_failover_blocked
}

func newMetrics(reg prometheus.Registerer, nodes []string) (*metrics, error) {
	m := &metrics{
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_sentinel_epoch",
			Help: "The fencing epoch the sentinel hands out: the highest epoch seen or given.",
		}),
		failovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refapp_sentinel_failovers_total",
			Help: "Replicas promoted to primary.",
		}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "refapp_sentinel_store_up",
			Help: "1 when the store's last status check succeeded, else 0.",
		}, []string{"node"}),
		primary: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "refapp_sentinel_primary",
			Help: "1 for the store the sentinel names primary, else 0 (all 0: no primary known).",
		}, []string{"node"}),
		blocked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_sentinel_failover_blocked",
			Help: "1 while a failover is due but no replica is reachable, else 0.",
		}),
	}
	for _, n := range nodes {
		m.up.WithLabelValues(n)
		m.primary.WithLabelValues(n)
	}
	for _, c := range []prometheus.Collector{m.epoch, m.failovers, m.up, m.primary, m.blocked} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register sentinel metrics: %w", err)
		}
	}
	return m, nil
}
