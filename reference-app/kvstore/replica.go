package kvstore

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Run is the replica's pull loop; it runs for the node's whole life and
// does nothing while the node is primary. As a replica it long-polls its
// primary's log and applies the entries in order. A session with a primary
// starts with an unnamed poll, which acknowledges nothing: the replica
// compares its log with the primary's epoch history, discards the entries
// the primary does not hold (counted in refapp_store_discarded_writes_total)
// and only then polls under its name, acknowledging what it applied. A
// failed poll ends the session; the next starts after a backoff that
// doubles from the retry min to the retry max and resets after a success.
// A promote or follow ends the session at once. Run returns nil when ctx
// is done or the node is closed.
func (n *Node) Run(ctx context.Context) error {
	backoff := n.opts.retryMin
	for {
		n.mu.Lock()
		st, closed := n.st, n.closed
		var sess context.Context
		if !closed && st.Role == RoleReplica && st.Primary != "" {
			var cancel context.CancelFunc
			sess, cancel = context.WithCancel(ctx)
			n.session = cancel
		}
		n.mu.Unlock()
		if closed || ctx.Err() != nil {
			return nil
		}
		if sess == nil { // nothing to pull: wait for a role change
			select {
			case <-n.kick:
			case <-ctx.Done():
			case <-n.done:
			}
			continue
		}
		progressed, err := n.pull(sess, st)
		ended := sess.Err() != nil // a promote, follow or close, not a failure
		n.mu.Lock()
		n.session()
		n.session = nil
		n.mu.Unlock()
		if progressed {
			backoff = n.opts.retryMin
		}
		if err == nil || ended {
			continue // the term changed, or the node is stopping
		}
		n.metrics.polls.WithLabelValues("error").Inc()
		n.opts.log.Warn("replication poll failed", "primary", st.Primary, "err", err, "retryIn", backoff.String())
		wait := time.NewTimer(jitter(backoff))
		select {
		case <-wait.C:
		case <-n.kick:
		case <-ctx.Done():
		case <-n.done:
		}
		wait.Stop()
		backoff = min(2*backoff, n.opts.retryMax)
	}
}

// jitter spreads d over [0.8d, 1.2d) so that replicas do not retry in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64())) //nolint:gosec // G404: jitter needs no secrecy
}

// pull runs one session with st.Primary until a poll fails or ctx ends. It
// reports whether any poll succeeded.
func (n *Node) pull(ctx context.Context, st state) (progressed bool, err error) {
	verified := false
	for ctx.Err() == nil {
		cur, _ := n.snapshot()
		p := logPoll{after: cur.AppliedSeq, epoch: cur.Epoch, node: n.opts.node, wait: n.opts.pollWait}
		if !verified {
			p.node, p.wait = "", 0
		}
		sent := n.opts.now()
		resp, err := n.poll(ctx, st.Primary, p)
		if err != nil {
			return progressed, err
		}
		progressed = true
		n.metrics.polls.WithLabelValues("ok").Inc()
		if resp.Epoch < cur.Epoch {
			return progressed, fmt.Errorf("poll %s: the primary is at epoch %d, below ours %d", st.Primary, resp.Epoch, cur.Epoch)
		}
		if verified && (resp.Epoch != cur.Epoch || !slices.Equal(resp.History, cur.History)) {
			verified = false // the primary's history moved: check again before claiming anything
			continue
		}
		if !verified {
			discarded, err := n.reconcile(ctx, resp)
			if err != nil {
				return progressed, err
			}
			verified = true
			if discarded {
				continue // resp's entries followed our old log
			}
		}
		if err := n.applyEntries(ctx, resp, sent); err != nil {
			return progressed, err
		}
	}
	return progressed, nil
}

// poll sends one GET /v1/repl/log to base.
func (n *Node) poll(ctx context.Context, base string, p logPoll) (LogResponse, error) {
	q := url.Values{}
	q.Set("after", strconv.FormatUint(p.after, 10))
	q.Set("epoch", strconv.FormatUint(p.epoch, 10))
	if p.node != "" {
		q.Set("node", p.node)
	}
	q.Set("wait", p.wait.String())
	ctx, cancel := context.WithTimeout(ctx, p.wait+n.opts.pollGrace)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/repl/log?"+q.Encode(), nil)
	if err != nil {
		return LogResponse{}, fmt.Errorf("poll %s: %w", base, err)
	}
	resp, err := n.opts.client.Do(req)
	if err != nil {
		return LogResponse{}, fmt.Errorf("poll %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e ErrorBody
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		return LogResponse{}, fmt.Errorf("poll %s: status %d: %s", base, resp.StatusCode, e.Error)
	}
	var lr LogResponse
	if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil {
		return LogResponse{}, fmt.Errorf("poll %s: decode answer: %w", base, err)
	}
	return lr, nil
}

// reconcile brings the replica's log in line with the primary's history in
// resp: it discards the entries past the consistent prefix (rebuilding the
// data from the log that remains), then adopts the primary's epoch and
// history. It reports whether it discarded anything.
func (n *Node) reconcile(ctx context.Context, resp LogResponse) (bool, error) {
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	st, _ := n.snapshot()
	if ctx.Err() != nil || st.Role != RoleReplica {
		return false, ctx.Err()
	}
	keep, err := n.eng.consistentPrefix(resp.History, resp.LastSeq)
	if err != nil {
		return false, err
	}
	discard := st.LastSeq - keep
	st.Epoch = max(st.Epoch, resp.Epoch)
	st.History = slices.Clone(resp.History)
	if discard > 0 {
		from := keep + 1
		if st, err = n.eng.truncate(st, keep); err != nil {
			return false, err
		}
		n.metrics.discarded.Add(float64(discard))
		n.opts.log.Warn("discarded log entries the new primary does not hold", "count", discard,
			"from", from, "to", from+discard-1, "primaryEpoch", resp.Epoch)
	} else if err := n.eng.setState(st); err != nil {
		return false, err
	}
	n.mu.Lock()
	n.setLocked(st)
	n.mu.Unlock()
	return discard > 0, nil
}

// applyEntries applies resp's entries after the replica's log, unless the
// session ended meanwhile. sent is when the poll was sent: once the replica
// has applied up to resp.LastSeq, it holds every write the primary
// acknowledged before sent + resp.Waited (freshAsOf).
func (n *Node) applyEntries(ctx context.Context, resp LogResponse, sent time.Time) error {
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	st, _ := n.snapshot()
	if ctx.Err() != nil || st.Role != RoleReplica {
		return ctx.Err()
	}
	if len(resp.Entries) > 0 {
		if resp.Entries[0].Seq != st.LastSeq+1 {
			return fmt.Errorf("apply: first entry %d does not follow %d", resp.Entries[0].Seq, st.LastSeq)
		}
		var err error
		if st, err = n.eng.apply(st, resp.Entries); err != nil {
			return err
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.repl.primaryLast = resp.LastSeq
	if len(resp.Entries) > 0 {
		n.repl.lastTime = resp.Entries[len(resp.Entries)-1].Time
	}
	if st.AppliedSeq >= resp.LastSeq {
		if asOf := sent.Add(resp.Waited); asOf.After(n.repl.freshAsOf) {
			n.repl.freshAsOf = asOf
		}
	}
	n.setLocked(st)
	return nil
}
