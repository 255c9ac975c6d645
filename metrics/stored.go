package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/prometheus/tsdb"
)

// Stored answers PromQL over the TSDB of a finished run (the directory an
// Embedded wrote and closed), with the same engine settings as Embedded, so
// it returns exactly what the live run's Embedded returned.
//
// The directory is opened as a normal TSDB (its write-ahead log replayed into
// memory) with compaction disabled and no retention: nothing is deleted or
// rewritten, but opening adds a lock file (removed by Close) and starts a
// new, empty WAL segment. The lock keeps a second Stored or an Embedded off
// the directory until Close. All methods are safe for concurrent use.
type Stored struct {
	dir string
	db  *tsdb.DB
	q   engineQuerier

	mu     sync.RWMutex // guards closed; held shared by every query so Close waits for them
	closed bool
}

// OpenStored opens the TSDB directory dir of a closed run (RUN/tsdb) for
// queries. dir must exist and hold a TSDB (a wal/ directory).
func OpenStored(dir string) (*Stored, error) {
	// tsdb.Open would create a missing directory: refuse a mistyped path.
	if _, err := os.Stat(filepath.Join(dir, "wal")); err != nil {
		return nil, fmt.Errorf("open stored prometheus %s: not a TSDB directory: %w", dir, err)
	}
	logger := slog.New(slog.DiscardHandler)
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = 0
	db, err := tsdb.Open(dir, logger, nil, opts, nil)
	if err != nil {
		return nil, fmt.Errorf("open stored prometheus %s: %w", dir, err)
	}
	// The first compaction can come no sooner than one block reload interval
	// (a minute) after Open; from here on none will.
	db.DisableCompactions()
	return &Stored{dir: dir, db: db, q: engineQuerier{engine: newEngine(logger), store: db}}, nil
}

// QueryRange evaluates expr at every step in [start, end].
func (s *Stored) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("query %q: %w", expr, errClosed)
	}
	return s.q.queryRange(ctx, expr, start, end, step)
}

// Query evaluates expr at t.
func (s *Stored) Query(ctx context.Context, expr string, t time.Time) ([]Series, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("query %q: %w", expr, errClosed)
	}
	return s.q.query(ctx, expr, t)
}

// Close closes the TSDB and releases its lock. It is idempotent; queries
// after Close fail.
func (s *Stored) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close stored prometheus %s: %w", s.dir, err)
	}
	return nil
}
