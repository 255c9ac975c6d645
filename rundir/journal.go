package rundir

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gameday/gameday/chaos"
)

// Journal entry operations.
const (
	OpApplying = "applying"
	OpUndone   = "undone"
)

// JournalEntry is one line of FileJournal.
type JournalEntry struct {
	Time   time.Time    `json:"time"`
	Op     string       `json:"op"` // OpApplying or OpUndone
	Effect chaos.Effect `json:"effect"`
}

// Journal appends effects to a run's FileJournal, each synced to disk
// before the call returns, so that a run killed with SIGKILL leaves a true
// record of what may be applied. It is a chaos.Journal and safe for
// concurrent use.
type Journal struct {
	mu sync.Mutex // guards f
	f  *os.File
}

var _ chaos.Journal = (*Journal)(nil)

// CreateJournal opens the journal of the run directory dir for appending.
func CreateJournal(dir string) (*Journal, error) {
	f, err := OpenAppend(dir + string(os.PathSeparator) + FileJournal)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	return &Journal{f: f}, nil
}

// Applying records that e is about to be applied.
func (j *Journal) Applying(e chaos.Effect) error { return j.write(OpApplying, e) }

// Undone records that e was undone.
func (j *Journal) Undone(e chaos.Effect) error { return j.write(OpUndone, e) }

func (j *Journal) write(op string, e chaos.Effect) error {
	line, err := json.Marshal(JournalEntry{Time: time.Now(), Op: op, Effect: e})
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("journal closed")
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	return nil
}

// Close closes the journal.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// MaxJournal bounds the size of a journal Pending reads.
const MaxJournal = 64 << 20

// Pending reads the journal of run directory dir and returns the effects
// recorded as applying and not undone since, in the order they were
// applied. A missing journal has none; a torn last line is ignored.
func Pending(dir string) ([]chaos.Effect, error) {
	f, err := os.Open(dir + string(os.PathSeparator) + FileJournal)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer func() { _ = f.Close() }() // read only
	return readPending(io.LimitReader(f, MaxJournal))
}

func readPending(r io.Reader) ([]chaos.Effect, error) {
	var pending []chaos.Effect
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var bad error
	for n := 1; sc.Scan(); n++ {
		if bad != nil {
			return nil, bad // only the last line may be torn
		}
		var e JournalEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			bad = fmt.Errorf("journal line %d: %w", n, err)
			continue
		}
		i := slices.Index(pending, e.Effect)
		switch e.Op {
		case OpApplying:
			if i < 0 {
				pending = append(pending, e.Effect)
			}
		case OpUndone:
			if i >= 0 {
				pending = slices.Delete(pending, i, i+1)
			}
		default:
			bad = fmt.Errorf("journal line %d: unknown op %q", n, e.Op)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return pending, nil
}

// Servers returns the Toxiproxy servers the journal of run directory dir
// names, in the order first seen.
func Servers(dir string) ([]string, error) {
	f, err := os.Open(dir + string(os.PathSeparator) + FileJournal)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer func() { _ = f.Close() }() // read only
	var out []string
	sc := bufio.NewScanner(io.LimitReader(f, MaxJournal))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e JournalEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Effect.Server != "" && !slices.Contains(out, e.Effect.Server) {
			out = append(out, e.Effect.Server)
		}
	}
	return out, sc.Err()
}
