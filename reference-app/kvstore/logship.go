package kvstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// errAhead: a poll's after is past the end of the primary's log (409): the
// replica holds entries this primary never wrote.
var errAhead = errors.New("after is past the end of this log")

// logPoll is one replica's GET /v1/repl/log.
type logPoll struct {
	after uint64
	epoch uint64 // the replica's epoch; 0 when not given
	node  string // the replica's name; empty: the poll acknowledges nothing
	wait  time.Duration
}

// rawLogResponse is LogResponse with entries as stored.
type rawLogResponse struct {
	Epoch   uint64            `json:"epoch"`
	LastSeq uint64            `json:"lastSeq"`
	Entries []json.RawMessage `json:"entries"`
	History []EpochStart      `json:"history"`
	Waited  time.Duration     `json:"waitedNanos"`
}

// readLog answers a replica's poll, as an unfenced primary. A poll with an
// epoch above the store's fences it (errFenced). The poll's after counts as
// the replica's acknowledgement when it names its node and carries the
// store's epoch; an unnamed poll is how a replica checks its log against
// the primary's history without claiming anything: it is answered at once,
// even when after is past the end of the log (a named poll gets errAhead).
// When no entry follows after, readLog waits up to p.wait for one.
func (n *Node) readLog(ctx context.Context, p logPoll) (rawLogResponse, error) {
	st, _ := n.snapshot()
	if st.Role == RolePrimary && !st.Fenced && p.epoch > st.Epoch {
		n.writeMu.Lock()
		err := n.fenceLocked(fmt.Sprintf("a replica polled with epoch %d", p.epoch))
		n.writeMu.Unlock()
		return rawLogResponse{}, err
	}
	start := time.Now()
	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	acked, expired := false, false
	for {
		n.mu.Lock()
		st, ch, closed := n.st, n.changed, n.closed
		waited := time.Since(start) // st is the state this long after the poll arrived
		if !closed && st.Role == RolePrimary && !st.Fenced && !acked && p.after <= st.LastSeq &&
			p.node != "" && p.epoch == st.Epoch && n.acks[p.node] < p.after {
			n.acks[p.node] = p.after
			n.broadcastLocked()
			ch = n.changed
		}
		n.mu.Unlock()
		acked = true
		switch {
		case closed:
			return rawLogResponse{}, errClosed
		case st.Role != RolePrimary:
			return rawLogResponse{}, errNotPrimary
		case st.Fenced:
			return rawLogResponse{}, errFenced
		case p.after > st.LastSeq && p.node != "":
			return rawLogResponse{}, fmt.Errorf("%w: after %d, last sequence %d", errAhead, p.after, st.LastSeq)
		}
		if st.LastSeq > p.after || p.node == "" {
			entries, err := n.eng.logAfter(p.after, n.opts.logBatch)
			if err != nil {
				return rawLogResponse{}, err
			}
			return rawLogResponse{Epoch: st.Epoch, LastSeq: st.LastSeq, Entries: entries, History: slices.Clone(st.History), Waited: waited}, nil
		}
		if expired || ctx.Err() != nil {
			return rawLogResponse{Epoch: st.Epoch, LastSeq: st.LastSeq, Entries: []json.RawMessage{}, History: slices.Clone(st.History), Waited: waited}, nil
		}
		// After the wait, read the state once more: the answer must
		// describe the primary as of the time it reports.
		select {
		case <-ch:
		case <-timer.C:
			expired = true
		case <-ctx.Done():
		case <-n.done:
		}
	}
}
