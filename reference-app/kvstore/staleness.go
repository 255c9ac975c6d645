package kvstore

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Bounded-staleness reads (read replicas).
//
//	api ──GET /v1/list  X-Max-Staleness: 1s──▶ replica
//	        fresh as of T (the last poll it caught up on: sent at S, the primary
//	        read its state W after receiving it, so T = S + W on the replica's clock)
//	        now − T <= 1s → 200, X-Store-Staleness: now − T
//	        otherwise    → 503 "too stale" (the api reads the primary instead)
//
// T is a lower bound: the primary's answer held every write it had
// acknowledged when it read its state, which was after S + W. So a read
// answered with staleness d holds every write acknowledged more than d
// before it began.

// errTooStale: a bounded-staleness read the node cannot promise (503).
var errTooStale = errors.New(MsgTooStale)

// staleness returns how stale the node's data may be (0 on an unfenced
// primary) and its applied sequence; ok is false when it cannot say (a
// replica that has not caught up with its primary in this term, a fenced
// primary).
func (n *Node) staleness() (d time.Duration, applied, epoch uint64, role Role, ok bool) {
	n.mu.Lock()
	st, fresh, closed := n.st, n.repl.freshAsOf, n.closed
	n.mu.Unlock()
	switch {
	case closed || (st.Role == RolePrimary && st.Fenced):
		return 0, st.AppliedSeq, st.Epoch, st.Role, false
	case st.Role == RolePrimary:
		return 0, st.AppliedSeq, st.Epoch, st.Role, true
	case fresh.IsZero():
		return 0, st.AppliedSeq, st.Epoch, st.Role, false
	}
	return max(0, n.opts.now().Sub(fresh)), st.AppliedSeq, st.Epoch, st.Role, true
}

// boundedRead runs do when r asks for a bounded-staleness read that the
// node can promise, setting StalenessHeader and AppliedSeqHeader on w; a
// read without those headers runs as it is.
func (n *Node) boundedRead(w http.ResponseWriter, r *http.Request, do func() error) error {
	maxS, minSeq := r.Header.Get(MaxStalenessHeader), r.Header.Get(MinSeqHeader)
	if maxS == "" && minSeq == "" {
		return do()
	}
	bound := time.Duration(-1)
	if maxS != "" {
		d, err := time.ParseDuration(maxS)
		if err != nil || d < 0 {
			return fmt.Errorf("%w: header %s %q: want a duration >= 0, like 500ms", errInvalid, MaxStalenessHeader, maxS)
		}
		bound = d
	}
	var seq uint64
	if minSeq != "" {
		v, err := strconv.ParseUint(minSeq, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: header %s %q: want a non-negative integer", errInvalid, MinSeqHeader, minSeq)
		}
		seq = v
	}
	d, applied, epoch, role, ok := n.staleness()
	switch {
	case !ok:
		return fmt.Errorf("%w: this node cannot bound its staleness now", errTooStale)
	case bound >= 0 && d > bound:
		return fmt.Errorf("%w: stale by up to %v, over %v", errTooStale, d, bound)
	case applied < seq:
		return fmt.Errorf("%w: applied sequence %d, below %d", errTooStale, applied, seq)
	}
	w.Header().Set(StalenessHeader, d.String())
	w.Header().Set(AppliedSeqHeader, strconv.FormatUint(applied, 10))
	if err := do(); err != nil {
		return err
	}
	// A term change (follow, promote) during the read may have replaced
	// the data the promise was about.
	if st := n.Status(); st.Epoch != epoch || st.Role != role {
		w.Header().Del(StalenessHeader)
		w.Header().Del(AppliedSeqHeader)
		return fmt.Errorf("%w: the node changed term during the read", errTooStale)
	}
	return nil
}
