package kvstore

import (
	"encoding/json"
	"fmt"
	"time"
)

// The wire contract of the store, as in reference-app/ARCHITECTURE.md,
// section "store". Every type here is a JSON body of one of its requests or
// answers.

// FencingHeader carries the fencing epoch of a write: a write whose epoch
// differs from the store's is refused with 409. On a read (GET /v1/get,
// GET /v1/list) it asks for the primary's data: the read is answered only
// by an unfenced primary at that epoch (0: at any epoch), under the rules
// of a write (503 not primary on a replica; 409 on a fenced store or
// another epoch, a higher one fencing the store). A read without it is
// answered by any node from its own data.
const FencingHeader = "X-Fencing-Epoch"

// Error messages the client tells apart. A 503 whose error is exactly
// MsgNotPrimary comes from a store that is not the primary; one that starts
// with MsgNotReplicated is a sync-mode write no replica applied in time.
const (
	MsgNotPrimary    = "not primary"
	MsgNotReplicated = "not replicated"
)

// Role is what a store node does: it takes writes (primary) or copies the
// primary's log (replica).
type Role string

// Roles of a store node.
const (
	RolePrimary Role = "primary"
	RoleReplica Role = "replica"
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RolePrimary, RoleReplica:
		return r, nil
	}
	return "", fmt.Errorf("role %q: want primary or replica", s)
}

// MarshalText implements encoding.TextMarshaler.
func (r Role) MarshalText() ([]byte, error) { return []byte(r), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseRole.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Replication is when a primary acknowledges a write: at once (async), or
// once a replica has applied it (sync).
type Replication string

// Replication modes.
const (
	Async Replication = "async"
	Sync  Replication = "sync"
)

// ParseReplication returns the replication mode named s.
func ParseReplication(s string) (Replication, error) {
	switch r := Replication(s); r {
	case Async, Sync:
		return r, nil
	}
	return "", fmt.Errorf("replication %q: want async or sync", s)
}

// MarshalText implements encoding.TextMarshaler.
func (r Replication) MarshalText() ([]byte, error) { return []byte(r), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseReplication.
func (r *Replication) UnmarshalText(b []byte) error {
	v, err := ParseReplication(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// OpKind is what an Op does to its key.
type OpKind string

// Operation kinds of a write batch.
const (
	// OpPut stores the value under the key, replacing any.
	OpPut OpKind = "put"
	// OpPutIfAbsent stores the value only when the key is absent; its
	// applied flag says whether it did.
	OpPutIfAbsent OpKind = "put_if_absent"
	// OpDelete removes the key; deleting an absent key is not an error.
	OpDelete OpKind = "delete"
)

// Op is one operation of a write batch.
type Op struct {
	Op     OpKind          `json:"op"`
	Bucket string          `json:"bucket"`
	Key    string          `json:"key"`
	Value  json.RawMessage `json:"value,omitempty"`
}

// Put returns the op that stores value (JSON) under bucket/key.
func Put(bucket, key string, value json.RawMessage) Op {
	return Op{Op: OpPut, Bucket: bucket, Key: key, Value: value}
}

// PutIfAbsent returns the op that stores value (JSON) under bucket/key
// unless the key exists.
func PutIfAbsent(bucket, key string, value json.RawMessage) Op {
	return Op{Op: OpPutIfAbsent, Bucket: bucket, Key: key, Value: value}
}

// Delete returns the op that removes bucket/key.
func Delete(bucket, key string) Op { return Op{Op: OpDelete, Bucket: bucket, Key: key} }

// WriteRequest is the body of POST /v1/write: one atomic batch.
type WriteRequest struct {
	Ops []Op `json:"ops"`
}

// WriteResult is the answer to an acknowledged write.
type WriteResult struct {
	// Seq is the batch's sequence number in the primary's log.
	Seq uint64 `json:"seq"`
	// Epoch is the primary's epoch when it wrote the batch.
	Epoch uint64 `json:"epoch"`
	// Applied has one flag per op, in order: false only for a
	// put_if_absent whose key existed (nothing was written for it).
	Applied []bool `json:"applied"`
}

// Item is the answer to GET /v1/get.
type Item struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
	// Seq is the sequence number of the batch that last wrote the key.
	Seq uint64 `json:"seq"`
}

// KV is one item of a list answer.
type KV struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// ListResult is the answer to GET /v1/list.
type ListResult struct {
	// Items are ordered by key (descending with reverse=true); never null.
	Items []KV `json:"items"`
}

// Status is the answer to GET /v1/status.
type Status struct {
	Node        string      `json:"node"`
	Role        Role        `json:"role"`
	Epoch       uint64      `json:"epoch"`
	LastSeq     uint64      `json:"lastSeq"`
	AppliedSeq  uint64      `json:"appliedSeq"`
	Primary     string      `json:"primary"`
	Replication Replication `json:"replication"`
}

// EpochStart records that epoch Epoch began after sequence After: the
// entries of that epoch have sequence numbers above After.
type EpochStart struct {
	Epoch uint64 `json:"epoch"`
	After uint64 `json:"after"`
}

// Entry is one batch of the replication log, with the effects of the batch:
// a put_if_absent that wrote appears as a put, one that did not is left
// out.
type Entry struct {
	Seq   uint64 `json:"seq"`
	Epoch uint64 `json:"epoch"`
	// Time is when the primary committed the batch (an addition to the
	// documented fields: it gives the replica its lag in seconds).
	Time time.Time `json:"time"`
	Ops  []Op      `json:"ops"`
}

// LogResponse is the answer to GET /v1/repl/log.
type LogResponse struct {
	// Epoch is the primary's epoch.
	Epoch uint64 `json:"epoch"`
	// LastSeq is the primary's last sequence when it answered (an addition
	// to the documented fields: it gives the replica its lag in entries).
	LastSeq uint64 `json:"lastSeq"`
	// Entries follow the poll's after, in order, at most MaxLogBatch.
	Entries []Entry `json:"entries"`
	// History is the primary's epoch history, oldest first.
	History []EpochStart `json:"history"`
	// Waited is the time from the primary receiving the poll until it read
	// the state it answers (LastSeq, Entries): the answer describes the
	// primary at least this long after the replica sent the poll. An
	// addition: it bounds a replica's staleness (ReadStalenessHeader).
	Waited time.Duration `json:"waitedNanos"`
}

// Headers of a bounded-staleness read (GET /v1/get, GET /v1/list without
// FencingHeader), an addition for read replicas. MaxStalenessHeader (a Go
// duration, like 500ms) asks for data that holds every write the primary
// acknowledged more than that long ago; MinSeqHeader for data that holds
// sequence N. A node that cannot promise it answers 503 MsgTooStale. Every
// answer of such a read carries StalenessHeader (the node's bound on its
// staleness, a Go duration; 0s on a primary) and AppliedSeqHeader.
const (
	MaxStalenessHeader = "X-Max-Staleness"
	MinSeqHeader       = "X-Min-Seq"
	StalenessHeader    = "X-Store-Staleness"
	AppliedSeqHeader   = "X-Store-Applied-Seq"
)

// MsgTooStale is the error of a 503 answer to a bounded-staleness read that
// the node's data cannot satisfy.
const MsgTooStale = "too stale"

// PromoteRequest is the body of POST /v1/admin/promote.
type PromoteRequest struct {
	Epoch uint64 `json:"epoch"`
}

// FollowRequest is the body of POST /v1/admin/follow.
type FollowRequest struct {
	Primary string `json:"primary"`
	Epoch   uint64 `json:"epoch"`
}

// ErrorBody is the body of every error answer. Primary is set on a
// not-primary answer, Epoch (the store's) on a 409.
type ErrorBody struct {
	Error   string `json:"error"`
	Primary string `json:"primary,omitempty"`
	Epoch   uint64 `json:"epoch,omitempty"`
}
