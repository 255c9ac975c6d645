package slo

import (
	"math"
	"strconv"
	"time"

	"github.com/gameday/gameday/scenarios"
)

// ReadBack is what reading a probe write back found.
type ReadBack uint8

// What a read-back found. The zero value is ReadNotDone, so a write whose
// read-back was never recorded is unverified, never found.
const (
	ReadNotDone  ReadBack = iota // never read back (the run ended first): unverified
	ReadFound                    // the write is there
	ReadNotFound                 // the target answered, without the write: lost if acknowledged
	ReadFailed                   // the read itself failed (an error, a 5xx): unverified
)

// String names the read-back as the probe log does.
func (r ReadBack) String() string {
	switch r {
	case ReadNotDone:
		return "not_done"
	case ReadFound:
		return "found"
	case ReadNotFound:
		return "not_found"
	case ReadFailed:
		return "failed"
	}
	return "ReadBack(" + strconv.Itoa(int(r)) + ")"
}

// ProbeWrite is one write of the RPO probe, as its log records it.
type ProbeWrite struct {
	ID string
	// Sent is when the probe sent the write; it says which injection a
	// write belongs to (see judge), not its RPO.
	Sent time.Time
	// Acked is when the target acknowledged the write; zero when it never
	// did (the write failed, timed out, or was never answered).
	Acked time.Time
	// Read is what reading it back after the settle period found.
	Read ReadBack
}

// DataLoss is the RPO of one fault: which acknowledged writes could not be
// read back, and how far before the fault the oldest of them was
// acknowledged.
//
//	acks      ✓  ✓  ✓  ✓  ✗  ✓  ✗  ✗  │  ✗  ✓  ✗      ✓ found, ✗ not found
//	          ────────────────────────┼────────────
//	                      ├─── RPO ───┤ t0
//	                      oldest lost    ↑     ↑ split brain:
//	                      at or before t0        acknowledged after t0, and lost
//
// Lost writes are acknowledged and not found. A write the target
// acknowledged but that could not be read back (the read failed, or never
// happened) is unverified: it is neither found nor lost, and is counted
// apart. A write never acknowledged is no promise, and counts for nothing
// whatever its read-back found.
//
// Every field is a finite value: no NaN, no infinity.
type DataLoss struct {
	// Fault is the fault's name, as the Span named it.
	Fault string `json:"fault"`
	// Injected is the fault's injection time, t0.
	Injected time.Time `json:"injected"`
	// Writes is every write in the log; Acknowledged those acknowledged.
	Writes       int `json:"writes"`
	Acknowledged int `json:"acknowledged"`
	// Found is how many acknowledged writes were read back.
	Found int `json:"found"`
	// Lost is how many acknowledged writes were not found, split brain
	// included, and LostIDs their IDs, in log order.
	Lost    int      `json:"lost"`
	LostIDs []string `json:"lostIDs,omitempty"`
	// LostFrom and LostTo are the ack times of the oldest and the newest
	// lost write (the lost window); zero when nothing is lost.
	LostFrom time.Time `json:"lostFrom,omitzero"`
	LostTo   time.Time `json:"lostTo,omitzero"`
	// RPO is t0 minus the ack time of the oldest lost write acknowledged at
	// or before t0; 0 when no such write is lost. Never negative.
	RPO time.Duration `json:"rpo"`
	// SplitBrain is how many lost writes were acknowledged after t0 (by a
	// side the failover then discarded), and SplitBrainIDs their IDs; they
	// are in Lost too, and do not enter the RPO.
	SplitBrain    int      `json:"splitBrain"`
	SplitBrainIDs []string `json:"splitBrainIDs,omitempty"`
	// Unverified is how many acknowledged writes could not be read back (the
	// read failed or never happened), and UnverifiedIDs their IDs: not lost,
	// not found.
	Unverified    int      `json:"unverified"`
	UnverifiedIDs []string `json:"unverifiedIDs,omitempty"`
	// WorstRPO is the RPO if every unverified write acknowledged at or
	// before t0 were lost: the most the data can hide. It equals RPO when
	// nothing is unverified.
	WorstRPO time.Duration `json:"worstRPO"`
	// ReplicationLag is the target's replication-lag metric just before t0,
	// in the metric's own unit, shown beside the RPO; nil when none was
	// named or it had no finite value.
	ReplicationLag *float64 `json:"replicationLag,omitempty"`
}

// Meets reports whether the RPO meets o, an objective on a duration as
// scenarios.ParseObjective reads one (in seconds: "<= 2s" is 2). It judges
// WorstRPO: a write that could not be read back cannot prove the objective,
// so an unverified write older than the objective allows fails it. A log
// without any acknowledged write proves nothing and meets no objective.
func (l DataLoss) Meets(o scenarios.Objective) bool {
	return l.Acknowledged > 0 && o.Met(l.WorstRPO.Seconds())
}

// ProbeRPO judges the data loss of fault (injected at fault.Start) on the
// write probe's log, in log order. lag is the target's replication-lag
// value just before the injection, echoed in the result; nil when there is
// none.
func ProbeRPO(writes []ProbeWrite, fault Span, lag *float64) DataLoss {
	t0 := fault.Start
	l := DataLoss{Fault: fault.Fault, Injected: t0, Writes: len(writes)}
	if lag != nil && !math.IsNaN(*lag) && !math.IsInf(*lag, 0) {
		v := *lag
		l.ReplicationLag = &v
	}
	var oldestLost, oldestUnsure time.Time // acknowledged at or before t0
	for _, w := range writes {
		if w.Acked.IsZero() {
			continue
		}
		l.Acknowledged++
		before := !w.Acked.After(t0)
		switch w.Read {
		case ReadFound:
			l.Found++
		case ReadNotFound:
			l.Lost++
			l.LostIDs = append(l.LostIDs, w.ID)
			if l.LostFrom.IsZero() || w.Acked.Before(l.LostFrom) {
				l.LostFrom = w.Acked
			}
			if w.Acked.After(l.LostTo) {
				l.LostTo = w.Acked
			}
			if !before {
				l.SplitBrain++
				l.SplitBrainIDs = append(l.SplitBrainIDs, w.ID)
			} else if oldestLost.IsZero() || w.Acked.Before(oldestLost) {
				oldestLost = w.Acked
			}
		default: // ReadFailed, ReadNotDone, or a value this code does not know
			l.Unverified++
			l.UnverifiedIDs = append(l.UnverifiedIDs, w.ID)
			if before && (oldestUnsure.IsZero() || w.Acked.Before(oldestUnsure)) {
				oldestUnsure = w.Acked
			}
		}
	}
	if !oldestLost.IsZero() {
		l.RPO = t0.Sub(oldestLost)
	}
	l.WorstRPO = l.RPO
	if !oldestUnsure.IsZero() {
		l.WorstRPO = max(l.RPO, t0.Sub(oldestUnsure))
	}
	return l
}
