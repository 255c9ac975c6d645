package api

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// MaxRelayBatch is the most outbox records one relay pass reads.
const MaxRelayBatch = 1000

// publish publishes events and deletes the outbox records of those the
// broker took. It is best effort: a failure leaves the record in the
// outbox, where the relay finds it. ctx should outlive the request: the
// post is stored, the client need not wait for its notification. It
// returns how many records it deleted.
func (a *API) publish(ctx context.Context, events []Event) int {
	if a.queue == nil || len(events) == 0 {
		return 0
	}
	var done []Op
	for _, e := range events {
		pctx, cancel := context.WithTimeout(ctx, a.o.publishTimeout)
		err := a.queue.Publish(pctx, SubjectPost, e.EventID, mustJSON(e))
		cancel()
		if err != nil {
			a.o.log.Debug("publish event; the relay will retry", "event", e.EventID, "err", err)
			continue
		}
		done = append(done, del(bucketOutbox, e.EventID))
	}
	if len(done) == 0 {
		return 0
	}
	if _, err := a.store.Write(ctx, done); err != nil {
		a.o.log.Debug("delete published outbox records; the relay will republish them", "err", err)
		return 0
	}
	return len(done)
}

// RunRelay relays the outbox until ctx is done: every relay interval it
// reads the outbox, sets refapp_api_outbox_pending, and publishes again the
// records older than the relay age (their request failed to publish them,
// or died before it could). A repeat is harmless: the broker drops an
// event id it has seen, and the worker skips one it delivered. Without a
// queue it returns at once.
func (a *API) RunRelay(ctx context.Context) error {
	if a.queue == nil {
		return nil
	}
	t := time.NewTicker(a.o.relayInterval)
	defer t.Stop()
	for {
		if err := a.RelayOnce(ctx); err != nil && ctx.Err() == nil {
			a.o.log.Debug("outbox relay pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RelayOnce is one pass of the relay (see RunRelay).
func (a *API) RelayOnce(ctx context.Context) error {
	if a.queue == nil {
		return nil
	}
	items, err := a.store.List(ctx, bucketOutbox, "", MaxRelayBatch, false)
	if err != nil {
		return fmt.Errorf("read outbox: %w", err)
	}
	now := a.o.now()
	var due []Event
	for _, it := range items {
		var e Event
		if err := json.Unmarshal(it.Value, &e); err != nil {
			a.o.log.Warn("undecodable outbox record", "key", it.Key, "err", err)
			continue
		}
		if now.Sub(e.CreatedAt) >= a.o.relayAge {
			due = append(due, e)
		}
	}
	relayed := a.publish(ctx, due)
	if relayed > 0 {
		a.o.log.Info("relayed outbox events", "count", relayed)
	}
	a.m.outbox.Set(float64(len(items) - relayed))
	return nil
}
