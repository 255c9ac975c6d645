package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Store is what the API needs from the key-value store. Errors wrap
// ErrNotFound for a missing key and ErrUnavailable when the store cannot
// answer now.
type Store interface {
	// Write applies ops as one atomic batch and reports, per op, whether
	// it was applied (a put_if_absent of an existing key is not).
	Write(ctx context.Context, ops []Op) (applied []bool, err error)
	// Get returns the value at bucket/key.
	Get(ctx context.Context, bucket, key string) (json.RawMessage, error)
	// GetPrimary returns the value at bucket/key as the store's current
	// primary holds it: never a replica's or a deposed primary's copy.
	// When it cannot be sure of that, the error wraps ErrUnavailable, and
	// ErrNotFound means the primary does not hold the key.
	GetPrimary(ctx context.Context, bucket, key string) (json.RawMessage, error)
	// List returns up to limit items of bucket whose keys start with
	// prefix, ordered by key (descending when reverse).
	List(ctx context.Context, bucket, prefix string, limit int, reverse bool) ([]Item, error)
}

// Op is one operation of a store write.
type Op struct {
	// Op is "put", "put_if_absent" or "delete".
	Op     string          `json:"op"`
	Bucket string          `json:"bucket"`
	Key    string          `json:"key"`
	Value  json.RawMessage `json:"value,omitempty"`
}

// Item is one key and value of a store listing.
type Item struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// Cache is what the API needs from the cache. Get wraps ErrNotFound on a
// miss; errors wrap ErrUnavailable when the cache cannot answer now.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Publisher publishes an event to the queue and returns once the broker has
// stored it. msgID identifies the event: the broker drops a repeat.
// Errors wrap ErrUnavailable when the queue cannot take it now.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID string, data []byte) error
}

// put, putIfAbsent and del build store operations.
func put(bucket, key string, v any) Op {
	return Op{Op: "put", Bucket: bucket, Key: key, Value: mustJSON(v)}
}
func putIfAbsent(bucket, key string, v any) Op {
	return Op{Op: "put_if_absent", Bucket: bucket, Key: key, Value: mustJSON(v)}
}
func del(bucket, key string) Op { return Op{Op: "delete", Bucket: bucket, Key: key} }

// mustJSON marshals a value of the API's own types, which cannot fail.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err))
	}
	return b
}

// getJSON reads bucket/key from s into v.
func getJSON(ctx context.Context, s Store, bucket, key string, v any) error {
	raw, err := s.Get(ctx, bucket, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s/%s: %w", bucket, key, err)
	}
	return nil
}

// breaker is a dependency's circuit breaker with its metrics.
type breaker struct {
	name string
	cb   *gobreaker.CircuitBreaker[struct{}]
	m    *metrics
}

// newBreaker returns the breaker of dependency name, whose state is
// exported as refapp_api_breaker_state{dependency=name}.
func (a *API) newBreaker(name string) (*breaker, error) {
	failures := a.o.breakerFailures
	b := &breaker{name: name, m: a.m, cb: gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     a.o.breakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		// Only unavailability counts against a dependency: a 404 or a
		// refused request is an answer from a healthy one.
		IsSuccessful: func(err error) bool { return err == nil || !errors.Is(err, ErrUnavailable) },
		// A caller that gave up says nothing about the dependency.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			a.o.log.Warn("circuit breaker", "dependency", name, "from", from.String(), "to", to.String())
		},
	})}
	if err := a.m.watchBreaker(name, func() float64 { return float64(b.cb.State()) }); err != nil {
		return nil, err
	}
	return b, nil
}

// do runs call through the breaker and counts it.
func (b *breaker) do(call func() error) error {
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, call() })
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		b.m.dependency(b.name, "rejected")
		return fmt.Errorf("%s: %w: %w", b.name, ErrUnavailable, ErrCircuitOpen)
	case err == nil, errors.Is(err, ErrNotFound):
		b.m.dependency(b.name, "success")
	case errors.Is(err, ErrUnavailable):
		b.m.dependency(b.name, "unavailable")
	default:
		b.m.dependency(b.name, "error")
	}
	return err
}

// guardedStore is a Store behind a breaker.
type guardedStore struct {
	s Store
	b *breaker
}

func (g guardedStore) Write(ctx context.Context, ops []Op) (applied []bool, err error) {
	err = g.b.do(func() (err error) { applied, err = g.s.Write(ctx, ops); return err })
	return applied, err
}

func (g guardedStore) Get(ctx context.Context, bucket, key string) (v json.RawMessage, err error) {
	err = g.b.do(func() (err error) { v, err = g.s.Get(ctx, bucket, key); return err })
	return v, err
}

func (g guardedStore) GetPrimary(ctx context.Context, bucket, key string) (v json.RawMessage, err error) {
	err = g.b.do(func() (err error) { v, err = g.s.GetPrimary(ctx, bucket, key); return err })
	return v, err
}

func (g guardedStore) List(ctx context.Context, bucket, prefix string, limit int, reverse bool) (items []Item, err error) {
	err = g.b.do(func() (err error) { items, err = g.s.List(ctx, bucket, prefix, limit, reverse); return err })
	return items, err
}

// guardedCache is a Cache behind a breaker.
type guardedCache struct {
	c Cache
	b *breaker
}

func (g guardedCache) Get(ctx context.Context, key string) (v []byte, err error) {
	err = g.b.do(func() (err error) { v, err = g.c.Get(ctx, key); return err })
	return v, err
}

func (g guardedCache) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return g.b.do(func() error { return g.c.Put(ctx, key, value, ttl) })
}

// guardedPublisher is a Publisher behind a breaker.
type guardedPublisher struct {
	p Publisher
	b *breaker
}

func (g guardedPublisher) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	return g.b.do(func() error { return g.p.Publish(ctx, subject, msgID, data) })
}
