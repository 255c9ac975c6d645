package api

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's own series (ARCHITECTURE.md, "api"). Label values
// are bounded: dependency names, results, sources and reasons are fixed
// sets.
type metrics struct {
	reg          prometheus.Registerer
	dependencies *prometheus.CounterVec // dependency, result: success|unavailable|error|rejected
	feedServed   *prometheus.CounterVec // source: cache|store|stale
	outbox       prometheus.Gauge
	authFailures *prometheus.CounterVec // reason
	replicaReads *prometheus.CounterVec // result: served|too_stale|failed|none
}

// replicaRead counts one feed read tried on the read replicas.
func (m *metrics) replicaRead(result string) { m.replicaReads.WithLabelValues(result).Inc() }

// Feed sources, the values of refapp_api_feed_served_total{source}.
const (
	sourceCache = "cache"
	sourceStore = "store"
	sourceStale = "stale"
)

// Reasons of refapp_auth_failures_total{reason}.
const (
	reasonMissing     = "missing"     // no bearer token
	reasonMalformed   = "malformed"   // not a JWT
	reasonSignature   = "signature"   // bad signature or an algorithm other than HS256
	reasonExpired     = "expired"     // exp passed
	reasonClaims      = "claims"      // wrong issuer, no exp, no sub
	reasonCredentials = "credentials" // login with a wrong username or password
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reg: reg,
		dependencies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_api_dependency_requests_total",
			Help: "Calls to a dependency (store, cache, queue) by result: success, unavailable, error (refused by a healthy dependency), rejected (breaker open).",
		}, []string{"dependency", "result"}),
		feedServed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_api_feed_served_total",
			Help: "Feeds served, by source: cache (fresh copy), store (rebuilt), stale (the store was unavailable).",
		}, []string{"source"}),
		outbox: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_api_outbox_pending",
			Help: "Notification events in the store's outbox not yet published, as of the relay's last pass.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_auth_failures_total",
			Help: "Rejected tokens and logins, by reason.",
		}, []string{"reason"}),
		replicaReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_api_replica_reads_total",
			Help: "Feed reads tried on the store's read replicas, by result: served (within the staleness bound), too_stale (a replica could not promise it: the primary served), failed (no replica answered usably: the primary served), none (no replica known, or every one left out after a failure: the primary served).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.dependencies, m.feedServed, m.outbox, m.authFailures, m.replicaReads} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register api metrics: %w", err)
		}
	}
	for _, s := range []string{sourceCache, sourceStore, sourceStale} {
		m.feedServed.WithLabelValues(s)
	}
	for _, r := range []string{replicaServed, replicaTooStale, replicaFailed, replicaNone} {
		m.replicaReads.WithLabelValues(r)
	}
	for _, r := range []string{reasonMissing, reasonMalformed, reasonSignature, reasonExpired, reasonClaims, reasonCredentials} {
		m.authFailures.WithLabelValues(r)
	}
	return m, nil
}

// watchBreaker exports refapp_api_breaker_state{dependency} read from
// state at scrape time (0 closed, 1 half-open, 2 open).
func (m *metrics) watchBreaker(dependency string, state func() float64) error {
	err := m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "refapp_api_breaker_state",
		Help:        "State of a dependency's circuit breaker: 0 closed, 1 half-open, 2 open.",
		ConstLabels: prometheus.Labels{"dependency": dependency},
	}, state))
	if err != nil {
		return fmt.Errorf("register breaker state of %s: %w", dependency, err)
	}
	for _, r := range []string{"success", "unavailable", "error", "rejected"} {
		m.dependencies.WithLabelValues(dependency, r)
	}
	return nil
}

func (m *metrics) dependency(name, result string) { m.dependencies.WithLabelValues(name, result).Inc() }
func (m *metrics) served(source string)           { m.feedServed.WithLabelValues(source).Inc() }
func (m *metrics) authFailure(reason string)      { m.authFailures.WithLabelValues(reason).Inc() }
