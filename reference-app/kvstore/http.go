package kvstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// errInvalid marks a request the store cannot take as it is (400).
var errInvalid = errors.New("invalid request")

// Register adds the store's routes to mux: the client API, the replication
// log and the admin endpoints.
func (n *Node) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/write", n.handleWrite)
	mux.HandleFunc("GET /v1/get", n.handleGet)
	mux.HandleFunc("GET /v1/list", n.handleList)
	mux.HandleFunc("GET /v1/status", n.handleStatus)
	mux.HandleFunc("GET /v1/repl/log", n.handleLog)
	mux.HandleFunc("POST /v1/admin/promote", n.handlePromote)
	mux.HandleFunc("POST /v1/admin/follow", n.handleFollow)
	mux.HandleFunc("POST /v1/admin/backup", n.handleBackup)
}

// Write results, the result label of refapp_store_writes_total.
const (
	resultOK            = "ok"
	resultInvalid       = "invalid"
	resultNotPrimary    = "not_primary"
	resultFenced        = "fenced"
	resultStaleEpoch    = "stale_epoch"
	resultNotReplicated = "not_replicated"
	resultCanceled      = "canceled" // the client left before the answer
	resultError         = "error"
)

// fencingEpoch returns r's FencingHeader: the epoch, and whether the
// header was present.
func fencingEpoch(r *http.Request) (uint64, bool, error) {
	h := r.Header.Get(FencingHeader)
	if h == "" {
		return 0, false, nil
	}
	epoch, err := strconv.ParseUint(h, 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("%w: header %s %q: want a non-negative integer", errInvalid, FencingHeader, h)
	}
	return epoch, true, nil
}

// read runs do as it is; when r carries FencingHeader, as a read of the
// primary at that epoch (Node.primaryRead); when it carries
// MaxStalenessHeader or MinSeqHeader, as a bounded-staleness read
// (Node.boundedRead).
func (n *Node) read(w http.ResponseWriter, r *http.Request, do func() error) error {
	epoch, primary, err := fencingEpoch(r)
	switch {
	case err != nil:
		return err
	case primary:
		return n.primaryRead(epoch, do)
	}
	return n.boundedRead(w, r, do)
}

func (n *Node) handleWrite(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	result := resultOK
	defer func() {
		n.metrics.writes.WithLabelValues(result).Inc()
		n.metrics.writeDuration.Observe(time.Since(start).Seconds())
	}()
	epoch, _, err := fencingEpoch(r)
	if err != nil {
		result = resultInvalid
		n.fail(w, err)
		return
	}
	var req WriteRequest
	if err := decodeStrict(w, r, MaxWriteBytes, &req); err != nil {
		result = resultInvalid
		n.fail(w, err)
		return
	}
	if err := validateOps(req.Ops); err != nil {
		result = resultInvalid
		n.fail(w, err)
		return
	}
	res, err := n.write(r.Context(), req.Ops, epoch)
	if err != nil {
		result = writeResult(err)
		n.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// writeResult returns the metric result of a failed write.
func writeResult(err error) string {
	switch {
	case errors.Is(err, errNotPrimary):
		return resultNotPrimary
	case errors.Is(err, errFenced):
		return resultFenced
	case errors.Is(err, errStaleEpoch):
		return resultStaleEpoch
	case errors.Is(err, errNotReplicated):
		return resultNotReplicated
	case errors.Is(err, context.Canceled):
		return resultCanceled
	}
	return resultError
}

// validateOps checks a batch before it reaches the engine.
func validateOps(ops []Op) error {
	if len(ops) == 0 || len(ops) > MaxOps {
		return fmt.Errorf("%w: ops: %d operations; want 1 to %d", errInvalid, len(ops), MaxOps)
	}
	for i, op := range ops {
		var problem string
		switch {
		case op.Op != OpPut && op.Op != OpPutIfAbsent && op.Op != OpDelete:
			problem = fmt.Sprintf("op %q: want put, put_if_absent or delete", op.Op)
		case op.Bucket == "" || len(op.Bucket) > MaxBucketBytes:
			problem = fmt.Sprintf("bucket: %d bytes; want 1 to %d", len(op.Bucket), MaxBucketBytes)
		case op.Key == "" || len(op.Key) > MaxKeyBytes:
			problem = fmt.Sprintf("key: %d bytes; want 1 to %d", len(op.Key), MaxKeyBytes)
		case op.Op != OpDelete && len(op.Value) == 0:
			problem = "value: required for " + string(op.Op)
		case op.Op == OpDelete && len(op.Value) != 0:
			problem = "value: not allowed for delete"
		}
		if problem != "" {
			return fmt.Errorf("%w: ops[%d].%s", errInvalid, i, problem)
		}
	}
	return nil
}

func (n *Node) handleGet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bucket, key := q.Get("bucket"), q.Get("key")
	if bucket == "" || key == "" {
		n.fail(w, fmt.Errorf("%w: bucket and key are required", errInvalid))
		return
	}
	var (
		item Item
		ok   bool
	)
	err := n.read(w, r, func() (err error) { item, ok, err = n.get(bucket, key); return err })
	if err != nil {
		n.fail(w, err)
		return
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, ErrorBody{Error: "not found"})
		return
	}
	writeJSON(w, http.StatusOK, item)
}

func (n *Node) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bucket := q.Get("bucket")
	if bucket == "" {
		n.fail(w, fmt.Errorf("%w: bucket is required", errInvalid))
		return
	}
	limit := DefaultListLimit
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			n.fail(w, fmt.Errorf("%w: limit %q: want a positive integer", errInvalid, s))
			return
		}
		limit = min(v, MaxListLimit)
	}
	reverse := false
	if s := q.Get("reverse"); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			n.fail(w, fmt.Errorf("%w: reverse %q: want true or false", errInvalid, s))
			return
		}
		reverse = v
	}
	var items []KV
	err := n.read(w, r, func() (err error) { items, err = n.list(bucket, q.Get("prefix"), limit, reverse); return err })
	if err != nil {
		n.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ListResult{Items: items})
}

func (n *Node) handleStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, n.Status())
}

func (n *Node) handleLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var p logPoll
	var err error
	if p.after, err = uintParam(q.Get("after")); err != nil {
		n.fail(w, fmt.Errorf("%w: after: %w", errInvalid, err))
		return
	}
	if p.epoch, err = uintParam(q.Get("epoch")); err != nil {
		n.fail(w, fmt.Errorf("%w: epoch: %w", errInvalid, err))
		return
	}
	if s := q.Get("wait"); s != "" {
		if p.wait, err = time.ParseDuration(s); err != nil || p.wait < 0 {
			n.fail(w, fmt.Errorf("%w: wait %q: want a duration >= 0, like 1s", errInvalid, s))
			return
		}
		p.wait = min(p.wait, MaxPollWait)
	}
	p.node = q.Get("node")
	resp, err := n.readLog(r.Context(), p)
	if err != nil {
		n.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func uintParam(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: want a non-negative integer", s)
	}
	return v, nil
}

func (n *Node) handlePromote(w http.ResponseWriter, r *http.Request) {
	var req PromoteRequest
	if err := decodeStrict(w, r, 4<<10, &req); err != nil {
		n.fail(w, err)
		return
	}
	if req.Epoch == 0 {
		n.fail(w, fmt.Errorf("%w: epoch: required, above 0", errInvalid))
		return
	}
	st, err := n.Promote(req.Epoch)
	if err != nil {
		n.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (n *Node) handleFollow(w http.ResponseWriter, r *http.Request) {
	var req FollowRequest
	if err := decodeStrict(w, r, 4<<10, &req); err != nil {
		n.fail(w, err)
		return
	}
	if req.Epoch == 0 {
		n.fail(w, fmt.Errorf("%w: epoch: required, above 0", errInvalid))
		return
	}
	if err := CheckBaseURL(req.Primary); err != nil {
		n.fail(w, fmt.Errorf("%w: primary: %w", errInvalid, err))
		return
	}
	st, err := n.Follow(req.Primary, req.Epoch)
	if err != nil {
		n.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (n *Node) handleBackup(w http.ResponseWriter, r *http.Request) {
	m, err := n.Backup(r.Context())
	if errors.Is(err, errNoBackupDir) {
		writeJSON(w, http.StatusConflict, ErrorBody{Error: err.Error()})
		return
	}
	if err != nil {
		n.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// decodeStrict decodes r's JSON body into v: at most limit bytes (else
// 413), no unknown field, nothing after the value.
func decodeStrict(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: body: %w", errInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: body: data after the JSON value", errInvalid)
	}
	return nil
}

// notPrimaryBody is the 503 answer of a replica; primary is always present.
type notPrimaryBody struct {
	Error   string `json:"error"`
	Primary string `json:"primary"`
}

// fail writes err as the JSON error answer of its kind.
func (n *Node) fail(w http.ResponseWriter, err error) {
	st := n.Status()
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeJSON(w, http.StatusRequestEntityTooLarge, ErrorBody{Error: fmt.Sprintf("body over %d bytes", mbe.Limit)})
	case errors.Is(err, errInvalid):
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: err.Error()})
	case errors.Is(err, errNotPrimary):
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, notPrimaryBody{Error: MsgNotPrimary, Primary: st.Primary})
	case errors.Is(err, errFenced), errors.Is(err, errStaleEpoch), errors.Is(err, errAhead):
		writeJSON(w, http.StatusConflict, ErrorBody{Error: err.Error(), Epoch: st.Epoch})
	case errors.Is(err, errTooStale):
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, ErrorBody{Error: err.Error()})
	case errors.Is(err, errNotReplicated), errors.Is(err, errClosed), errors.Is(err, context.Canceled):
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, ErrorBody{Error: err.Error()})
	default:
		n.opts.log.Error("store request failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: err.Error()})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
