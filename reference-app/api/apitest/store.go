package apitest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Store is a fake store node: the client API of ARCHITECTURE.md "store"
// (POST /v1/write, GET /v1/get, GET /v1/list) over maps. It is a primary
// at epoch 1 until told otherwise. As a replica it answers writes with 503
// "not primary"; a write whose X-Fencing-Epoch differs from its epoch gets
// 409. A read with X-Fencing-Epoch is a primary read, refused like a write
// (its epoch 0 matches any).
type Store struct {
	*server

	mu        sync.Mutex // guards the fields below
	buckets   map[string]map[string]json.RawMessage
	seq       int64
	epoch     int64
	primary   bool
	primaryAt string   // the URL a replica names as primary
	epochs    []string // X-Fencing-Epoch of every write, "" when absent
	writes    [][]Op   // the ops of every write, in the order of epochs
	reads     []string // X-Fencing-Epoch of every get and list, "" when absent
	failSkip  int      // writes to apply before failing failNext
	failNext  int      // writes to answer 500 after failSkip
}

// NewStore starts a fake store primary at epoch 1 on 127.0.0.1:0; the
// test's cleanup stops it.
func NewStore(t testing.TB) *Store {
	s := &Store{buckets: map[string]map[string]json.RawMessage{}, epoch: 1, primary: true}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/write", s.write)
	mux.HandleFunc("GET /v1/get", s.get)
	mux.HandleFunc("GET /v1/list", s.list)
	mux.HandleFunc("GET /v1/status", s.status)
	s.server = newServer(t, mux)
	return s
}

// status answers GET /v1/status with the node's role, epoch and sequence.
func (s *Store) status(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	role := "replica"
	if s.primary {
		role = "primary"
	}
	body := map[string]any{"node": "fake", "role": role, "epoch": s.epoch, "lastSeq": s.seq, "appliedSeq": s.seq}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// SetPrimary makes the node a primary at epoch.
func (s *Store) SetPrimary(epoch int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.primary, s.epoch = true, epoch
}

// SetReplica makes the node a replica that names primaryURL.
func (s *Store) SetReplica(primaryURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.primary, s.primaryAt = false, primaryURL
}

// FailWrites lets the next skip writes through, then answers the n after
// them with 500 without applying them.
func (s *Store) FailWrites(skip, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failSkip, s.failNext = skip, n
}

// Value returns the value at bucket/key.
func (s *Store) Value(bucket, key string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.buckets[bucket][key]
	return v, ok
}

// Keys returns the keys of bucket, sorted.
func (s *Store) Keys(bucket string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.buckets[bucket] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Seq returns the number of writes applied.
func (s *Store) Seq() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// FencingEpochs returns the X-Fencing-Epoch header of every write received
// ("" when absent), in order.
func (s *Store) FencingEpochs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.epochs)
}

// Writes returns the ops of every well-formed write received, applied or
// refused, one element per POST /v1/write, in order (the order of
// FencingEpochs).
func (s *Store) Writes() [][]Op {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]Op, len(s.writes))
	for i, w := range s.writes {
		out[i] = slices.Clone(w)
	}
	return out
}

// ReadEpochs returns the X-Fencing-Epoch header of every get and list
// received ("" when absent: not a primary read), in order.
func (s *Store) ReadEpochs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reads)
}

// refuseLocked answers a request whose X-Fencing-Epoch is hdr as the store
// does, and reports whether it did: 503 not primary on a replica, 409 when
// the epoch is not the store's (0 on a read: any epoch). s.mu must be held.
func (s *Store) refuseLocked(w http.ResponseWriter, hdr string, read bool) bool {
	if !s.primary {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not primary", "primary": s.primaryAt})
		return true
	}
	if hdr != "" {
		e, err := strconv.ParseInt(hdr, 10, 64)
		if err != nil || (e != s.epoch && (!read || e != 0)) {
			writeError(w, http.StatusConflict, "fencing epoch "+hdr+" is not "+strconv.FormatInt(s.epoch, 10))
			return true
		}
	}
	return false
}

// readRefused records a read's X-Fencing-Epoch and, for a primary read,
// answers it as refuseLocked does. s.mu must be held.
func (s *Store) readRefused(w http.ResponseWriter, r *http.Request) bool {
	hdr := r.Header.Get("X-Fencing-Epoch")
	s.reads = append(s.reads, hdr)
	return hdr != "" && s.refuseLocked(w, hdr, true)
}

// Op is one operation of a write, as received.
type Op struct {
	Op     string          `json:"op"`
	Bucket string          `json:"bucket"`
	Key    string          `json:"key"`
	Value  json.RawMessage `json:"value"`
}

func (s *Store) write(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Ops []Op `json:"ops"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "malformed write: "+err.Error())
		return
	}
	for _, o := range req.Ops {
		if o.Bucket == "" || o.Key == "" || (o.Op != "delete" && len(o.Value) == 0) ||
			(o.Op != "put" && o.Op != "put_if_absent" && o.Op != "delete") {
			writeError(w, http.StatusBadRequest, "bad op "+o.Op+" "+o.Bucket+"/"+o.Key)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hdr := r.Header.Get("X-Fencing-Epoch")
	s.epochs = append(s.epochs, hdr)
	s.writes = append(s.writes, req.Ops)
	if s.refuseLocked(w, hdr, false) {
		return
	}
	if s.failSkip > 0 {
		s.failSkip--
	} else if s.failNext > 0 {
		s.failNext--
		writeError(w, http.StatusInternalServerError, "injected failure")
		return
	}
	applied := make([]bool, len(req.Ops))
	for i, o := range req.Ops {
		b := s.buckets[o.Bucket]
		if b == nil {
			b = map[string]json.RawMessage{}
			s.buckets[o.Bucket] = b
		}
		_, exists := b[o.Key]
		switch o.Op {
		case "put":
			b[o.Key], applied[i] = o.Value, true
		case "put_if_absent":
			if !exists {
				b[o.Key], applied[i] = o.Value, true
			}
		case "delete":
			delete(b, o.Key)
			applied[i] = true
		}
	}
	s.seq++
	writeJSON(w, http.StatusOK, map[string]any{"seq": s.seq, "epoch": s.epoch, "applied": applied})
}

func (s *Store) get(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readRefused(w, r) {
		return
	}
	v, ok := s.buckets[q.Get("bucket")][q.Get("key")]
	if !ok {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": q.Get("key"), "value": v, "seq": s.seq})
}

func (s *Store) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 1000
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "bad limit")
			return
		}
		limit = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readRefused(w, r) {
		return
	}
	b := s.buckets[q.Get("bucket")]
	var keys []string
	for k := range b {
		if strings.HasPrefix(k, q.Get("prefix")) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if q.Get("reverse") == "true" {
		slices.Reverse(keys)
	}
	type item struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	items := []item{}
	for _, k := range keys[:min(limit, len(keys))] {
		items = append(items, item{k, b[k]})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}
