package autoscaler

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the autoscaler's series.
type metrics struct {
	replicas prometheus.Gauge       // refapp_autoscaler_replicas
	desired  prometheus.Gauge       // refapp_autoscaler_desired_replicas
	load     prometheus.Gauge       // refapp_autoscaler_in_flight
	scaled   *prometheus.CounterVec // refapp_autoscaler_scale_events_total{direction}
	exits    prometheus.Counter     // refapp_autoscaler_replica_exits_total
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		replicas: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_autoscaler_replicas",
			Help: "Api replicas in the gateway's set: the static ones and those the autoscaler started and listed.",
		}),
		desired: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_autoscaler_desired_replicas",
			Help: "The replica count of the last decision, after stabilisation.",
		}),
		load: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_autoscaler_in_flight",
			Help: "Mean requests in flight through the gateway over the last interval: the load signal.",
		}),
		scaled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_autoscaler_scale_events_total",
			Help: "Scaling actions, by direction (up, down).",
		}, []string{"direction"}),
		exits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refapp_autoscaler_replica_exits_total",
			Help: "Replicas the autoscaler started that exited unasked (unlisted at once).",
		}),
	}
	m.scaled.WithLabelValues("up")
	m.scaled.WithLabelValues("down")
	for _, c := range []prometheus.Collector{m.replicas, m.desired, m.load, m.scaled, m.exits} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register autoscaler metrics: %w", err)
		}
	}
	return m, nil
}
