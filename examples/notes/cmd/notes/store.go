package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// A Note is one note, as the API shows it and as the journal keeps it.
type Note struct {
	ID      string    `json:"id"`
	Text    string    `json:"text"`
	Created time.Time `json:"created"` // first written
	Updated time.Time `json:"updated"` // last written
}

// store keeps notes in memory and, when it has a journal, appends every
// write to the journal and syncs it to disk before the write returns.
//
// The journal is one JSON Note per line, oldest first; replaying it rebuilds
// the notes. After a failed journal write or sync the store refuses every
// later write (the file's state is unknown, and a sync that failed once may
// have dropped pages): a restart replays what reached the disk.
type store struct {
	mu      sync.Mutex       // guards notes, seq, journal and failed
	notes   map[string]entry // by note ID
	seq     uint64           // order of the last write
	journal *os.File         // nil: memory only
	failed  error            // why writes are refused; nil while they are not
}

// entry is a note and the order of its last write.
type entry struct {
	note Note
	seq  uint64
}

// errClosed is the reason writes are refused after Close.
var errClosed = errors.New("store closed")

// newMemoryStore returns an empty store that keeps notes in memory only.
func newMemoryStore() *store {
	return &store{notes: map[string]entry{}}
}

// openStore returns a store journaled to the file at path, created when
// absent, with the notes it holds. A last line cut short (a write torn by a
// crash, never acknowledged) is dropped and truncated away, and dropped
// reports how many bytes; any other bad line is an error that names it.
func openStore(path string) (s *store, dropped int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("open data file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close() // the read error is the one to report
		}
	}()
	s = newMemoryStore()
	good, err := s.replay(f, path)
	if err != nil {
		return nil, 0, err
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, fmt.Errorf("data file %s: %w", path, err)
	}
	if end > good {
		if err := f.Truncate(good); err != nil {
			return nil, 0, fmt.Errorf("data file %s: drop torn last line: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return nil, 0, fmt.Errorf("data file %s: sync: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, 0, fmt.Errorf("data file %s: %w", path, err)
	}
	s.journal = f
	return s, end - good, nil
}

// replay applies every complete line of r, the journal at path, and returns
// the offset just past the last complete line.
func (s *store) replay(r io.Reader, path string) (good int64, err error) {
	br := bufio.NewReader(r)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return good, nil // b, if any, is a torn last line
		}
		if err != nil {
			return 0, fmt.Errorf("read data file %s: %w", path, err)
		}
		var n Note
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&n); err != nil {
			return 0, fmt.Errorf("data file %s:%d: %w", path, line, err)
		}
		if n.ID == "" {
			return 0, fmt.Errorf("data file %s:%d: note without an id", path, line)
		}
		s.seq++
		s.notes[n.ID] = entry{note: n, seq: s.seq}
		good += int64(len(b))
	}
}

// syncDir syncs a directory, so that a file just created in it survives a
// crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer func() { _ = d.Close() }() // a directory opened to fsync it
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// put writes note id with text at time now and reports whether it is new.
// With a journal, put returns once the write is on disk; on an error the
// note is unchanged in memory.
func (s *store) put(id, text string, now time.Time) (n Note, created bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return Note{}, false, fmt.Errorf("writes refused: %w", s.failed)
	}
	old, exists := s.notes[id]
	n = Note{ID: id, Text: text, Created: now, Updated: now}
	if exists {
		n.Created = old.note.Created
	}
	if s.journal != nil {
		line, err := json.Marshal(n)
		if err != nil {
			return Note{}, false, fmt.Errorf("encode note %q: %w", id, err)
		}
		if _, err := s.journal.Write(append(line, '\n')); err != nil {
			s.failed = err
			return Note{}, false, fmt.Errorf("append to data file: %w", err)
		}
		if err := s.journal.Sync(); err != nil {
			s.failed = err
			return Note{}, false, fmt.Errorf("sync data file: %w", err)
		}
	}
	s.seq++
	s.notes[id] = entry{note: n, seq: s.seq}
	return n, !exists, nil
}

// get returns note id and whether there is one.
func (s *store) get(id string) (Note, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.notes[id]
	return e.note, ok
}

// list returns at most limit notes, the most recently written first.
func (s *store) list(limit int) []Note {
	s.mu.Lock()
	entries := make([]entry, 0, len(s.notes))
	for _, e := range s.notes {
		entries = append(entries, e)
	}
	s.mu.Unlock()
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(b.seq, a.seq) })
	notes := make([]Note, 0, min(limit, len(entries)))
	for _, e := range entries[:min(limit, len(entries))] {
		notes = append(notes, e.note)
	}
	return notes
}

// len returns how many notes there are.
func (s *store) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.notes)
}

// Close closes the journal; later writes are refused.
func (s *store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		s.failed = errClosed
	}
	if s.journal == nil {
		return nil
	}
	err := s.journal.Close()
	s.journal = nil
	return err
}
