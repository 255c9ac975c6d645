package kvstore

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// writeDurationBuckets are the upper bounds, in seconds, of the write
// duration histogram: from an fsync on a fast disk to past the sync
// timeout.
var writeDurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// metrics are the store's own series. Sequences, epoch, role and lag are
// read from the node at scrape time.
type metrics struct {
	writes        *prometheus.CounterVec // refapp_store_writes_total{result}
	writeDuration prometheus.Histogram   // refapp_store_write_duration_seconds
	discarded     prometheus.Counter     // refapp_store_discarded_writes_total
	polls         *prometheus.CounterVec // refapp_store_replication_polls_total{result}

	backups        *prometheus.CounterVec // refapp_store_backups_total{result}
	backupDuration prometheus.Gauge       // refapp_store_backup_duration_seconds
	backupTime     prometheus.Gauge       // refapp_store_backup_last_timestamp_seconds
	backupSeq      prometheus.Gauge       // refapp_store_backup_last_sequence
	backupSize     prometheus.Gauge       // refapp_store_backup_last_size_bytes
}

// lastBackup records a backup just taken.
func (m *metrics) lastBackup(b Manifest) {
	m.backupTime.Set(float64(b.Time.UnixNano()) / 1e9)
	m.backupSeq.Set(float64(b.Seq))
	m.backupSize.Set(float64(b.Size))
}

func newMetrics(reg prometheus.Registerer, n *Node) (*metrics, error) {
	m := &metrics{
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_store_writes_total",
			Help: "Write batches received, by result: ok, invalid, not_primary, fenced, stale_epoch, not_replicated, canceled, error.",
		}, []string{"result"}),
		writeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "refapp_store_write_duration_seconds",
			Help:    "Time to answer a write, the sync-mode wait for a replica included.",
			Buckets: writeDurationBuckets,
		}),
		discarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refapp_store_discarded_writes_total",
			Help: "Log entries this node discarded on following a primary that did not hold them.",
		}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_store_replication_polls_total",
			Help: "Replication log polls this node sent as a replica, by result (ok, error).",
		}, []string{"result"}),
		backups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refapp_store_backups_total",
			Help: "Backups this node took (on schedule or on request), by result (ok, error).",
		}, []string{"result"}),
		backupDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_store_backup_duration_seconds",
			Help: "Time the last successful backup took, copy and manifest durable.",
		}),
		backupTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_store_backup_last_timestamp_seconds",
			Help: "Unix time of the last successful backup this process took (0: none yet); backup age is time() minus this.",
		}),
		backupSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_store_backup_last_sequence",
			Help: "Last sequence held by the last successful backup: writes after it are the recovery point's loss.",
		}),
		backupSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "refapp_store_backup_last_size_bytes",
			Help: "Size of the last successful backup's copy.",
		}),
	}
	m.backups.WithLabelValues(resultOK)
	m.backups.WithLabelValues(resultError)
	for _, r := range []string{resultOK, resultInvalid, resultNotPrimary, resultFenced, resultStaleEpoch, resultNotReplicated, resultCanceled, resultError} {
		m.writes.WithLabelValues(r)
	}
	m.polls.WithLabelValues("ok")
	m.polls.WithLabelValues("error")

	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	cs := []prometheus.Collector{
		m.writes, m.writeDuration, m.discarded, m.polls,
		m.backups, m.backupDuration, m.backupTime, m.backupSeq, m.backupSize,
		gauge("refapp_store_last_sequence", "Last sequence number in this node's log.",
			func() float64 { return float64(n.Status().LastSeq) }),
		gauge("refapp_store_applied_sequence", "Last sequence number applied to this node's data.",
			func() float64 { return float64(n.Status().AppliedSeq) }),
		gauge("refapp_store_epoch", "This node's fencing epoch.",
			func() float64 { return float64(n.Status().Epoch) }),
		gauge("refapp_store_is_primary", "1 while this node is a primary that takes writes (not fenced), else 0.",
			func() float64 {
				if n.takesWrites() {
					return 1
				}
				return 0
			}),
		gauge("refapp_store_replication_lag_entries",
			"On a replica, entries its primary held at its last answer that it has not applied; on a primary, entries no replica has acknowledged.",
			func() float64 { e, _ := n.lag(); return float64(e) }),
		gauge("refapp_store_replication_lag_seconds",
			"Age of the oldest unapplied entry: on a replica, of those it knows of (at most: the age of the last entry it applied); on a primary, of the oldest entry no replica has acknowledged.",
			func() float64 { _, s := n.lag(); return s }),
	}
	if ri, ok := n.eng.restoreInfo(); ok {
		cs = append(cs,
			gauge("refapp_store_restore_duration_seconds",
				"Time the restore that built this store's data took, from the start of the restore command until the backup was copied and checked (absent: never restored).",
				func() float64 { return ri.duration.Seconds() }),
			gauge("refapp_store_restored_sequence",
				"Last sequence of the backup this store's data was restored from (absent: never restored).",
				func() float64 { return float64(ri.seq) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register store metrics: %w", err)
		}
	}
	return m, nil
}

// lag returns the replication lag in entries and seconds, as the metrics
// describe it.
func (n *Node) lag() (entries uint64, seconds float64) {
	n.mu.Lock()
	st, acked, repl, closed := n.st, n.maxAckLocked(), n.repl, n.closed
	n.mu.Unlock()
	if closed {
		return 0, 0
	}
	now := n.opts.now()
	if st.Role == RolePrimary {
		if acked >= st.LastSeq {
			return 0, 0
		}
		t, ok, err := n.eng.entryTime(acked + 1)
		if err != nil || !ok {
			return st.LastSeq - acked, 0
		}
		return st.LastSeq - acked, max(0, now.Sub(t).Seconds())
	}
	if repl.primaryLast <= st.AppliedSeq {
		return 0, 0
	}
	if repl.lastTime.IsZero() {
		return repl.primaryLast - st.AppliedSeq, 0
	}
	return repl.primaryLast - st.AppliedSeq, max(0, now.Sub(repl.lastTime).Seconds())
}
