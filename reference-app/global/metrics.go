package global

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the global entry point's own series (the proxy's are the
// gateway's, refapp_gateway_*).
type metrics struct {
	up              *prometheus.GaugeVec // refapp_global_region_up{region}
	active          *prometheus.GaugeVec // refapp_global_active_region{region}
	failovers       prometheus.Counter   // refapp_global_failovers_total
	failoverSeconds prometheus.Gauge     // refapp_global_failover_seconds
	epoch           prometheus.Gauge     // refapp_global_epoch
	fenceActions    prometheus.Counter   // refapp_global_fence_actions_total
	fenced          prometheus.Counter   // refapp_global_fenced_stores_total
}

func newMetrics(reg prometheus.Registerer, regions ...string) (*metrics, error) {
	m := &metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "refapp_global_region_up",
			Help: "1 when the region's gateway answered its last check ready, else 0.",
		}, []string{"region"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "refapp_global_active_region",
			Help: "1 for the region the global entry point routes to, else 0.",
		}, []string{"region"}),
		failovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refapp_global_failovers_total",
			Help: "Failovers from the primary region to the passive one.",
		}),
		failoverSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_global_failover_seconds",
			Help: "Time of the last failover, from the first failed check of the old region to routing to the new one.",
		}),
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_global_epoch",
			Help: "The fencing epoch the passive store was promoted at; 0 before a failover.",
		}),
		fenceActions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refapp_global_fence_actions_total",
			Help: "Follow orders sent to the old region's stores.",
		}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refapp_global_fenced_stores_total",
			Help: "Stores of the old region seen following the new primary at the new epoch.",
		}),
	}
	for _, r := range regions {
		m.up.WithLabelValues(r)
		m.active.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.up, m.active, m.failovers, m.failoverSeconds, m.epoch, m.fenceActions, m.fenced} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register global metrics: %w", err)
		}
	}
	return m, nil
}
