// Package rundir is the format of a run directory, the one hand-off between
// running a game day and judging it: its file names, its run id, and the
// journal of effects a run applied to systems outside itself.
package rundir

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Files of a run directory.
const (
	FileScenario = "scenario.yaml"
	FileEvents   = "events.jsonl"
	// FileJournal journals every effect the run applied to a system outside
	// itself (an external Toxiproxy), and its undoing; see Journal.
	FileJournal = "effects.jsonl"
	DirResults  = "results"
	DirTSDB     = "tsdb"
	DirLogs     = "logs"
	DirData     = "data" // the durable state of the target's processes
	// FilePromQL records what the target's own Prometheus answered the
	// checks when the run was judged, one JSON object a line.
	FilePromQL = "promql.jsonl"
	FileProbe  = "probe.jsonl" // the write probe's log, one JSON object a line; see ProbeLog
	FileReport = "report.json"
	// FileTimeScale holds the time scale the scenario was played at (see
	// scenarios.WithTimeScale), as a decimal number and a newline; absent:
	// 1.
	FileTimeScale = "time-scale"
	FileMarkdown  = "report.md"
)

// NewRunID returns a run id: the UTC start time to the second and six
// random hex digits, "20261128T091500Z-a1b2c3". Two runs started in the same
// second get different ids.
func NewRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// OpenAppend opens a JSON-lines file of a run directory for appending,
// creating it if needed. A torn last line, as a process killed while
// writing leaves, is cut off first, so that what is appended starts on a
// line of its own and readers, which accept only a torn last line, still
// read the file.
func OpenAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err == nil && size > 0 {
		err = cutTornTail(f, size)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return f, nil
}

// cutTornTail truncates f after its last newline when it does not end
// with one, and leaves the offset at the end.
func cutTornTail(f *os.File, size int64) error {
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	const chunk = 4096
	end := size
	for end > 0 {
		start := max(0, end-chunk)
		buf := make([]byte, end-start)
		if _, err := f.ReadAt(buf, start); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if err := f.Truncate(end); err != nil {
		return err
	}
	_, err := f.Seek(end, io.SeekStart)
	return err
}

// WriteTimeScale records in dir the time scale f a run plays its scenario
// at; nothing for 1.
func WriteTimeScale(dir string, f float64) error {
	if f == 1 {
		return nil
	}
	err := os.WriteFile(filepath.Join(dir, FileTimeScale), []byte(strconv.FormatFloat(f, 'g', -1, 64)+"\n"), 0o644)
	if err != nil {
		return fmt.Errorf("write time scale: %w", err)
	}
	return nil
}

// ReadTimeScale returns the time scale a run in dir played its scenario
// at: 1 when none is recorded.
func ReadTimeScale(dir string) (float64, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileTimeScale))
	if errors.Is(err, fs.ErrNotExist) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read time scale: %w", err)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("read time scale: %s holds %q, not a positive number", FileTimeScale, b)
	}
	return f, nil
}
