package kvstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The bbolt file holds three top-level buckets:
//
//	meta  role, epoch, lastSeq, appliedSeq, primary, fenced, history (text and JSON)
//	log   8-byte big-endian seq → Entry as JSON; kept whole, from seq 1
//	data  one nested bucket per client bucket: key → 8-byte seq ++ JSON value
//
// A batch changes data, log and meta in one bbolt transaction, so after a
// crash the three agree.
var (
	bucketMeta = []byte("meta")
	bucketLog  = []byte("log")
	bucketData = []byte("data")

	keyRole       = []byte("role")
	keyEpoch      = []byte("epoch")
	keyLastSeq    = []byte("lastSeq")
	keyAppliedSeq = []byte("appliedSeq")
	keyPrimary    = []byte("primary")
	keyFenced     = []byte("fenced")
	keyHistory    = []byte("history")
)

// DBFile is the name of the store's bbolt file inside its data dir.
const DBFile = "store.db"

// state is what the meta bucket persists.
type state struct {
	Role       Role
	Epoch      uint64
	LastSeq    uint64 // last sequence in the log
	AppliedSeq uint64 // last sequence applied to the data buckets
	Primary    string // the URL a replica pulls from
	Fenced     bool   // a primary that saw a higher epoch: refuses writes
	History    []EpochStart
}

// engine is the store's bbolt file. It keeps no state of its own: callers
// pass the current state in and get the new one back, and must serialise
// the calls that change it.
type engine struct {
	db *bolt.DB
}

// openEngine opens (or creates) dir/store.db. A fresh file gets role,
// epoch 1 and primary from fresh; an existing one keeps what it persisted.
func openEngine(dir string, fresh state) (*engine, state, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, state{}, fmt.Errorf("open store: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, state{}, fmt.Errorf("open store %s: %w", path, err)
	}
	var st state
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketLog, bucketData} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketMeta).Get(keyRole) == nil {
			fresh.Epoch = 1
			fresh.History = []EpochStart{{Epoch: 1, After: 0}}
			if err := putState(tx, fresh); err != nil {
				return err
			}
		}
		var err error
		st, err = readState(tx)
		return err
	})
	if err != nil {
		return nil, state{}, errors.Join(fmt.Errorf("open store %s: %w", path, err), db.Close())
	}
	return &engine{db: db}, st, nil
}

func (e *engine) close() error { return e.db.Close() }

// putState writes every field of st to the meta bucket.
func putState(tx *bolt.Tx, st state) error {
	m := tx.Bucket(bucketMeta)
	hist, err := json.Marshal(st.History)
	if err != nil {
		return err
	}
	fenced := "false"
	if st.Fenced {
		fenced = "true"
	}
	for _, kv := range []struct {
		k []byte
		v string
	}{
		{keyRole, string(st.Role)},
		{keyEpoch, strconv.FormatUint(st.Epoch, 10)},
		{keyLastSeq, strconv.FormatUint(st.LastSeq, 10)},
		{keyAppliedSeq, strconv.FormatUint(st.AppliedSeq, 10)},
		{keyPrimary, st.Primary},
		{keyFenced, fenced},
		{keyHistory, string(hist)},
	} {
		if err := m.Put(kv.k, []byte(kv.v)); err != nil {
			return err
		}
	}
	return nil
}

func readState(tx *bolt.Tx) (state, error) {
	m := tx.Bucket(bucketMeta)
	var st state
	var err error
	if st.Role, err = ParseRole(string(m.Get(keyRole))); err != nil {
		return st, fmt.Errorf("read meta: %w", err)
	}
	for _, f := range []struct {
		k []byte
		v *uint64
	}{{keyEpoch, &st.Epoch}, {keyLastSeq, &st.LastSeq}, {keyAppliedSeq, &st.AppliedSeq}} {
		if *f.v, err = strconv.ParseUint(string(m.Get(f.k)), 10, 64); err != nil {
			return st, fmt.Errorf("read meta %s: %w", f.k, err)
		}
	}
	st.Primary = string(m.Get(keyPrimary))
	st.Fenced = string(m.Get(keyFenced)) == "true"
	if err := json.Unmarshal(m.Get(keyHistory), &st.History); err != nil {
		return st, fmt.Errorf("read meta history: %w", err)
	}
	return st, nil
}

// setState persists st (a role, epoch or fencing change).
func (e *engine) setState(st state) error {
	if err := e.db.Update(func(tx *bolt.Tx) error { return putState(tx, st) }); err != nil {
		return fmt.Errorf("persist meta: %w", err)
	}
	return nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// write applies ops as the batch after st.LastSeq at st.Epoch, logs it and
// returns the new state and the result.
func (e *engine) write(st state, ops []Op, now time.Time) (state, WriteResult, error) {
	seq := st.LastSeq + 1
	res := WriteResult{Seq: seq, Epoch: st.Epoch, Applied: make([]bool, len(ops))}
	err := e.db.Update(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketData)
		entry := Entry{Seq: seq, Epoch: st.Epoch, Time: now.UTC(), Ops: make([]Op, 0, len(ops))}
		for i, op := range ops {
			applied, err := applyOp(data, op, seq)
			if err != nil {
				return fmt.Errorf("op %d: %w", i, err)
			}
			res.Applied[i] = applied
			if applied {
				if op.Op == OpPutIfAbsent {
					op.Op = OpPut
				}
				entry.Ops = append(entry.Ops, op)
			}
		}
		if err := appendLog(tx, entry); err != nil {
			return err
		}
		st.LastSeq, st.AppliedSeq = seq, seq
		return putSeqs(tx, st)
	})
	if err != nil {
		return state{}, WriteResult{}, fmt.Errorf("write batch %d: %w", seq, err)
	}
	return st, res, nil
}

// applyOp applies op to the data buckets as written by batch seq and says
// whether it wrote.
func applyOp(data *bolt.Bucket, op Op, seq uint64) (bool, error) {
	switch op.Op {
	case OpPut, OpPutIfAbsent:
		b, err := data.CreateBucketIfNotExists([]byte(op.Bucket))
		if err != nil {
			return false, err
		}
		if op.Op == OpPutIfAbsent && b.Get([]byte(op.Key)) != nil {
			return false, nil
		}
		v := append(binary.BigEndian.AppendUint64(nil, seq), op.Value...)
		return true, b.Put([]byte(op.Key), v)
	case OpDelete:
		if b := data.Bucket([]byte(op.Bucket)); b != nil {
			return true, b.Delete([]byte(op.Key))
		}
		return true, nil
	}
	return false, fmt.Errorf("unknown op %q", op.Op)
}

func appendLog(tx *bolt.Tx, entry Entry) error {
	b, err := json.Marshal(entry)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketLog).Put(seqKey(entry.Seq), b)
}

func putSeqs(tx *bolt.Tx, st state) error {
	m := tx.Bucket(bucketMeta)
	if err := m.Put(keyLastSeq, []byte(strconv.FormatUint(st.LastSeq, 10))); err != nil {
		return err
	}
	return m.Put(keyAppliedSeq, []byte(strconv.FormatUint(st.AppliedSeq, 10)))
}

// apply appends a replica's batch of entries, which must follow st.LastSeq
// without a gap, and applies them; it persists the epoch and history of st
// in the same transaction.
func (e *engine) apply(st state, entries []Entry) (state, error) {
	err := e.db.Update(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketData)
		for _, en := range entries {
			if en.Seq != st.LastSeq+1 {
				return fmt.Errorf("entry %d after %d: the log has a gap", en.Seq, st.LastSeq)
			}
			for i, op := range en.Ops {
				if _, err := applyOp(data, op, en.Seq); err != nil {
					return fmt.Errorf("entry %d op %d: %w", en.Seq, i, err)
				}
			}
			if err := appendLog(tx, en); err != nil {
				return err
			}
			st.LastSeq, st.AppliedSeq = en.Seq, en.Seq
		}
		return putState(tx, st)
	})
	if err != nil {
		return state{}, fmt.Errorf("apply replicated entries: %w", err)
	}
	return st, nil
}

// logAfter returns up to limit raw log entries after seq after.
func (e *engine) logAfter(after uint64, limit int) ([]json.RawMessage, error) {
	out := []json.RawMessage{}
	if after == math.MaxUint64 {
		return out, nil // nothing can follow; after+1 would wrap to 0
	}
	err := e.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLog).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			out = append(out, bytes.Clone(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read log after %d: %w", after, err)
	}
	return out, nil
}

// entryTime returns the commit time of log entry seq; ok is false when the
// log has no such entry.
func (e *engine) entryTime(seq uint64) (t time.Time, ok bool, err error) {
	err = e.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketLog).Get(seqKey(seq))
		if v == nil {
			return nil
		}
		var en struct {
			Time time.Time `json:"time"`
		}
		if err := json.Unmarshal(v, &en); err != nil {
			return err
		}
		t, ok = en.Time, true
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read log entry %d: %w", seq, err)
	}
	return t, ok, nil
}

// consistentPrefix returns the last sequence up to which this log agrees
// with a primary whose epoch history is hist and whose log ends at
// primaryLast. An entry (seq, epoch) is in the primary's log when seq <=
// primaryLast and the primary's history puts seq in that epoch; as every
// epoch has one primary, the log up to such an entry is the same on both
// (log matching). The scan goes back from the end and normally stops at
// once.
func (e *engine) consistentPrefix(hist []EpochStart, primaryLast uint64) (uint64, error) {
	var keep uint64
	err := e.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLog).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var en struct {
				Seq   uint64 `json:"seq"`
				Epoch uint64 `json:"epoch"`
			}
			if err := json.Unmarshal(v, &en); err != nil {
				return fmt.Errorf("entry %x: %w", k, err)
			}
			if en.Seq <= primaryLast && epochAt(hist, en.Seq) == en.Epoch {
				keep = en.Seq
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("compare log with the primary's: %w", err)
	}
	return keep, nil
}

// epochAt returns the epoch that hist gives to sequence seq: the last epoch
// that began before it, or 0 when none did.
func epochAt(hist []EpochStart, seq uint64) uint64 {
	var epoch uint64
	for _, h := range hist {
		if h.After < seq {
			epoch = h.Epoch
		}
	}
	return epoch
}

// truncate drops the log entries after keep and rebuilds the data buckets
// by replaying the log from 1 to keep. It returns the new state.
func (e *engine) truncate(st state, keep uint64) (state, error) {
	err := e.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLog).Cursor()
		for k, _ := c.Seek(seqKey(keep + 1)); k != nil; k, _ = c.Seek(seqKey(keep + 1)) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		if err := tx.DeleteBucket(bucketData); err != nil {
			return err
		}
		data, err := tx.CreateBucket(bucketData)
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketLog).ForEach(func(_, v []byte) error {
			var en Entry
			if err := json.Unmarshal(v, &en); err != nil {
				return err
			}
			for _, op := range en.Ops {
				if _, err := applyOp(data, op, en.Seq); err != nil {
					return fmt.Errorf("replay entry %d: %w", en.Seq, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		st.LastSeq, st.AppliedSeq = keep, keep
		return putState(tx, st)
	})
	if err != nil {
		return state{}, fmt.Errorf("discard log after %d: %w", keep, err)
	}
	return st, nil
}

// get returns bucket/key, or ok false when absent.
func (e *engine) get(bucket, key string) (item Item, ok bool, err error) {
	err = e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketData).Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		item, ok = Item{Key: key, Seq: binary.BigEndian.Uint64(v[:8]), Value: bytes.Clone(v[8:])}, true
		return nil
	})
	if err != nil {
		return Item{}, false, fmt.Errorf("get %s/%s: %w", bucket, key, err)
	}
	return item, ok, nil
}

// list returns up to limit items of bucket whose keys start with prefix,
// by key, descending when reverse.
func (e *engine) list(bucket, prefix string, limit int, reverse bool) ([]KV, error) {
	items := []KV{}
	err := e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketData).Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		p := []byte(prefix)
		c := b.Cursor()
		var k, v []byte
		next := c.Next
		if reverse {
			next = c.Prev
			if end := prefixEnd(p); end == nil {
				k, v = c.Last()
			} else if k, _ = c.Seek(end); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Seek(p)
		}
		for ; k != nil && bytes.HasPrefix(k, p) && len(items) < limit; k, v = next() {
			items = append(items, KV{Key: string(k), Value: bytes.Clone(v[8:])})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s/%s*: %w", bucket, prefix, err)
	}
	return items, nil
}

// prefixEnd returns the least key above every key that starts with p, or
// nil when there is none (p empty or all 0xff).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
