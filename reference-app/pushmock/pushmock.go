// Package pushmock is refapp's mock push provider: it accepts push
// notifications and counts them, so that a test can tell whether every
// event was delivered exactly once.
//
//	POST /v1/push  {"eventId","userId","title"} + Idempotency-Key → 202
//	GET  /v1/push/deliveries → {"total","unique","byEvent":{"post:1":1}}
//
// Like a real provider, it uses the Idempotency-Key to recognise a
// retried request: a push whose key it has seen before is a duplicate.
package pushmock

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Wire contract.
const (
	// PushPath receives pushes.
	PushPath = "/v1/push"
	// DeliveriesPath answers the counts.
	DeliveriesPath = "/v1/push/deliveries"
	// IdempotencyHeader names the request header that identifies a push
	// across retries.
	IdempotencyHeader = "Idempotency-Key"
	// MaxBodyBytes is the largest push body accepted (413 beyond).
	MaxBodyBytes = 64 << 10
)

// Push is the body of a push request.
type Push struct {
	EventID string `json:"eventId"`
	UserID  string `json:"userId"`
	Title   string `json:"title"`
}

// Deliveries is the body of GET /v1/push/deliveries.
type Deliveries struct {
	// Total counts every push accepted, duplicates included.
	Total int `json:"total"`
	// Unique counts the distinct Idempotency-Keys accepted.
	Unique int `json:"unique"`
	// ByEvent counts the pushes accepted per event id; never null.
	ByEvent map[string]int `json:"byEvent"`
}

type options struct {
	reg prometheus.Registerer
	log *slog.Logger
}

// Option configures a Mock.
type Option func(*options)

// WithRegisterer sets where the mock registers its metrics (default: a
// private registry nobody scrapes).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithLogger sets the logger for duplicates (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Mock is the mock push provider. It keeps every key it has seen, in
// memory, for its whole life.
type Mock struct {
	log        *slog.Logger
	received   prometheus.Counter
	duplicates prometheus.Counter

	mu      sync.Mutex // guards total, keys and byEvent
	total   int
	keys    map[string]bool
	byEvent map[string]int
}

// New returns a mock that has received nothing.
func New(opts ...Option) (*Mock, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	m := &Mock{
		log: o.log,
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refapp_push_received_total",
			Help: "Pushes accepted, duplicates included.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refapp_push_duplicates_total",
			Help: "Pushes accepted whose Idempotency-Key had been seen before.",
		}),
		keys:    map[string]bool{},
		byEvent: map[string]int{},
	}
	for _, c := range []prometheus.Collector{m.received, m.duplicates} {
		if err := o.reg.Register(c); err != nil {
			return nil, fmt.Errorf("new push mock: register metrics: %w", err)
		}
	}
	return m, nil
}

// Register adds the mock's routes to mux.
func (m *Mock) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PushPath, m.push)
	mux.HandleFunc("GET "+DeliveriesPath, m.deliveries)
}

// Deliveries returns the counts so far.
func (m *Mock) Deliveries() Deliveries {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Deliveries{Total: m.total, Unique: len(m.keys), ByEvent: maps.Clone(m.byEvent)}
}

func (m *Mock) push(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(IdempotencyHeader)
	if key == "" {
		writeError(w, http.StatusBadRequest, "header "+IdempotencyHeader+" is required")
		return
	}
	var p Push
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err := dec.Decode(&p); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "body over 64 KiB")
			return
		}
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	if p.EventID == "" {
		writeError(w, http.StatusBadRequest, "eventId is required")
		return
	}
	m.mu.Lock()
	dup := m.keys[key]
	m.keys[key] = true
	m.total++
	m.byEvent[p.EventID]++
	m.mu.Unlock()

	m.received.Inc()
	if dup {
		m.duplicates.Inc()
		m.log.Info("duplicate push", "event_id", p.EventID)
	}
	w.WriteHeader(http.StatusAccepted)
}

func (m *Mock) deliveries(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(m.Deliveries()) // a write error means the client left
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: msg}) // a write error means the client left
}
