package worker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Ledger is the worker's record of the events it has delivered. Record
// must be durable when it returns: the worker acks a message only after it.
type Ledger interface {
	Delivered(eventID string) (bool, error)
	Record(eventID string) error
}

// LedgerFile is the name of the bbolt file under the worker's data dir.
const LedgerFile = "worker.db"

// DefaultLockTimeout bounds how long OpenLedger waits for another process
// to release the file.
const DefaultLockTimeout = 5 * time.Second

// deliveredBucket maps event id → delivery time (RFC 3339).
var deliveredBucket = []byte("delivered")

type ledgerOptions struct {
	lockTimeout time.Duration
	now         func() time.Time
}

// LedgerOption configures OpenLedger.
type LedgerOption func(*ledgerOptions)

// WithLockTimeout bounds how long OpenLedger waits for the file lock
// (default DefaultLockTimeout).
func WithLockTimeout(d time.Duration) LedgerOption {
	return func(o *ledgerOptions) { o.lockTimeout = d }
}

// BoltLedger is a Ledger in a bbolt file. One process at a time may hold
// it open.
type BoltLedger struct {
	db  *bolt.DB
	now func() time.Time
}

var _ Ledger = (*BoltLedger)(nil)

// OpenLedger opens, or creates, the ledger in dir (created if missing).
func OpenLedger(dir string, opts ...LedgerOption) (*BoltLedger, error) {
	o := ledgerOptions{lockTimeout: DefaultLockTimeout, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if dir == "" {
		return nil, errors.New("open ledger: no data dir")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	path := filepath.Join(dir, LedgerFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(deliveredBucket)
		return err
	}); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, errors.Join(err, db.Close()))
	}
	return &BoltLedger{db: db, now: o.now}, nil
}

// Delivered reports whether eventID was recorded.
func (l *BoltLedger) Delivered(eventID string) (bool, error) {
	var found bool
	err := l.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(deliveredBucket).Get([]byte(eventID)) != nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("ledger lookup %q: %w", eventID, err)
	}
	return found, nil
}

// Record records eventID as delivered, durably (the transaction is synced
// to disk before Record returns).
func (l *BoltLedger) Record(eventID string) error {
	err := l.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(deliveredBucket).Put([]byte(eventID), []byte(l.now().UTC().Format(time.RFC3339Nano)))
	})
	if err != nil {
		return fmt.Errorf("ledger record %q: %w", eventID, err)
	}
	return nil
}

// Len returns the number of events recorded.
func (l *BoltLedger) Len() (int, error) {
	var n int
	err := l.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(deliveredBucket).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("ledger count: %w", err)
	}
	return n, nil
}

// Close closes the file and releases its lock.
func (l *BoltLedger) Close() error {
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("close ledger: %w", err)
	}
	return nil
}
