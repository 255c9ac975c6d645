package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits of the notes API.
const (
	maxIDLen         = 128  // bytes of a note id
	defaultListLimit = 100  // notes in a list when ?limit is absent
	maxListLimit     = 1000 // the largest ?limit
)

// durationBuckets returns the request-duration histogram buckets, in
// seconds: from an in-memory read to a slow disk sync.
func durationBuckets() []float64 {
	return []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
}

// setupBackend is the backend mode: the notes API over a store in memory,
// or journaled to --data.
func setupBackend(c config, env env) (http.Handler, func() error, error) {
	st, storage := newMemoryStore(), []any{"storage", "memory"}
	if c.data != "" {
		storage = []any{"storage", "file", "file", c.data}
		var dropped int64
		var err error
		if st, dropped, err = openStore(c.data); err != nil {
			return nil, nil, err
		}
		if dropped > 0 {
			env.log.Warn("dropped a torn last line of the data file", "file", c.data, "bytes", dropped)
		}
	}
	env.log.Info("notes loaded", append(storage, "notes", st.len())...)
	h, err := newBackend(st, env.registry, env.metrics, env.log, time.Now)
	if err != nil {
		_ = st.Close() // the listen error is the one to report
		return nil, nil, err
	}
	return h, st.Close, nil
}

// backend serves the notes API from a store.
type backend struct {
	store *store
	log   *slog.Logger
	now   func() time.Time
}

// backendRoute is one route of the backend and its name in metrics.
type backendRoute struct {
	pattern string // http.ServeMux pattern
	name    string // the route label
	handler http.HandlerFunc
}

// unmatchedRoute is the route label of requests no pattern matched (404,
// 405).
const unmatchedRoute = "unmatched"

// newBackend returns the backend's handler: the notes API, /healthz and
// metrics (served by metrics), every request counted and timed in
// notes_http_requests_total{route,code} and
// notes_http_request_duration_seconds{route}, registered on reg.
func newBackend(st *store, reg prometheus.Registerer, metrics http.Handler, log *slog.Logger, now func() time.Time) (http.Handler, error) {
	b := &backend{store: st, log: log, now: now}
	routes := []backendRoute{
		{"PUT /v1/notes/{id}", "put_note", b.put},
		{"GET /v1/notes/{id}", "get_note", b.get},
		{"GET /v1/notes", "list_notes", b.list},
		{"GET /healthz", "healthz", healthz},
		{"GET /metrics", "metrics", metrics.ServeHTTP},
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "notes_http_requests_total",
		Help: "HTTP requests the backend answered, by route and status code.",
	}, []string{"route", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "notes_http_request_duration_seconds",
		Help:    "Time the backend took to answer a request, by route.",
		Buckets: durationBuckets(),
	}, []string{"route"})
	for _, c := range []prometheus.Collector{requests, duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register backend metrics: %w", err)
		}
	}

	mux := http.NewServeMux()
	names := map[string]string{} // route label by pattern
	for _, rt := range routes {
		mux.HandleFunc(rt.pattern, rt.handler)
		names[rt.pattern] = rt.name
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, pattern := mux.Handler(r)
		route, ok := names[pattern]
		if !ok {
			route = unmatchedRoute
		}
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			elapsed := time.Since(start)
			code := rec.status()
			requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			duration.WithLabelValues(route).Observe(elapsed.Seconds())
			log.Debug("request", "method", r.Method, "path", r.URL.Path, "route", route, "code", code, "duration", elapsed.String())
		}()
		mux.ServeHTTP(rec, r)
	}), nil
}

// healthz answers 200 while the process serves.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// validID reports whether id is 1 to maxIDLen of the characters URLs need
// not escape: A-Z a-z 0-9 . _ ~ -
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}

// badID answers 400 for an invalid note id.
func badID(w http.ResponseWriter, id string) {
	writeError(w, http.StatusBadRequest, fmt.Sprintf("note id %q: want 1 to %d of A-Z a-z 0-9 . _ ~ -", id, maxIDLen))
}

// putBody is the body of PUT /v1/notes/{id}.
type putBody struct {
	Text *string `json:"text"` // required; "" is a note too
}

// put answers PUT /v1/notes/{id} with body {"text": "..."}: 201 and the
// note when it is new, 200 and the note when it replaced one.
func (b *backend) put(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		badID(w, id)
		return
	}
	raw, err := readBody(w, r)
	if err != nil {
		bodyError(w, err)
		return
	}
	var in putBody
	if err := decodeStrict(raw, &in); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`body: %v; want {"text": "..."}`, err))
		return
	}
	if in.Text == nil {
		writeError(w, http.StatusBadRequest, `body: no "text"; want {"text": "..."}`)
		return
	}
	n, created, err := b.store.put(id, *in.Text, b.now().UTC())
	if err != nil {
		b.log.Error("write note", "id", id, "err", err)
		writeError(w, http.StatusInternalServerError, "the note was not written")
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
		w.Header().Set("Location", "/v1/notes/"+id)
	}
	writeJSON(w, code, n)
}

// decodeStrict decodes exactly one JSON value from raw into v, refusing
// unknown fields.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return errors.New("bad JSON: more than one value")
	}
	return nil
}

// get answers GET /v1/notes/{id}: 200 and the note, or 404.
func (b *backend) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		badID(w, id)
		return
	}
	n, ok := b.store.get(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("note %q not found", id))
		return
	}
	writeJSON(w, http.StatusOK, n)
}

// noteList is the body of GET /v1/notes.
type noteList struct {
	Notes []Note `json:"notes"`
}

// list answers GET /v1/notes?limit=N: the N most recently written notes,
// newest first (N: default defaultListLimit, at most maxListLimit).
func (b *backend) list(w http.ResponseWriter, r *http.Request) {
	limit := defaultListLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want 1 to %d", s, maxListLimit))
			return
		}
		limit = n
	}
	writeJSON(w, http.StatusOK, noteList{Notes: b.store.list(limit)})
}
