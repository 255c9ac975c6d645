package cache

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values of refapp_cache_requests_total.
const (
	opGet    = "get"
	opPut    = "put"
	opDelete = "delete"

	resultHit      = "hit"
	resultMiss     = "miss"
	resultStored   = "stored"
	resultDeleted  = "deleted"
	resultRejected = "rejected" // 400 or 413: nothing done
)

// metrics are the cache's own series.
type metrics struct {
	requests  *prometheus.CounterVec // refapp_cache_requests_total{op,result}
	evictions prometheus.Counter     // refapp_cache_evictions_total
}

// newMetrics registers the cache's metrics on reg; items is read at every
// scrape for refapp_cache_items.
func newMetrics(reg prometheus.Registerer, items func() int) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_cache_requests_total",
			Help: "Cache requests by operation (get, put, delete) and result (hit, miss, stored, deleted, rejected).",
		}, []string{"op", "result"}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refapp_cache_evictions_total",
			Help: "Live entries evicted, least recently used first, to make room for a new key.",
		}),
	}
	itemsGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "refapp_cache_items",
		Help: "Live (unexpired) entries in the cache.",
	}, func() float64 { return float64(items()) })
	// Every series exists from the start, at 0, so rates work at once.
	for _, ol := range [][2]string{
		{opGet, resultHit}, {opGet, resultMiss}, {opGet, resultRejected},
		{opPut, resultStored}, {opPut, resultRejected},
		{opDelete, resultDeleted}, {opDelete, resultRejected},
	} {
		m.requests.WithLabelValues(ol[0], ol[1])
	}
	for _, c := range []prometheus.Collector{m.requests, m.evictions, itemsGauge} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register cache metrics: %w", err)
		}
	}
	return m, nil
}
