package load

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Defaults of a ResultsFile.
const (
	// DefaultFlushInterval is how often a ResultsFile writes its buffer to
	// the file, bounding what a SIGKILL loses: a run killed is judged on
	// its results up to this long before it died. A flush is one write(2)
	// of what the interval buffered, not an fsync (a SIGKILL leaves what
	// the kernel has); ten a second per stream cost nothing measurable.
	DefaultFlushInterval = 100 * time.Millisecond
	// DefaultResultsBuffer is the size of a ResultsFile's write buffer.
	DefaultResultsBuffer = 64 << 10
)

// ResultsFileOption configures a ResultsFile.
type ResultsFileOption func(*resultsFileConfig)

type resultsFileConfig struct {
	flushInterval time.Duration
	keepBodies    bool
	redact        *strings.Replacer
}

// WithRedactor replaces secrets in every result's URL, error and (when
// kept) body before it is written; nil: nothing is replaced.
func WithRedactor(r *strings.Replacer) ResultsFileOption {
	return func(c *resultsFileConfig) { c.redact = r }
}

// WithFlushInterval sets how often the file's buffer is written to disk in
// the background; 0 or less: only on Flush and Close.
func WithFlushInterval(d time.Duration) ResultsFileOption {
	return func(c *resultsFileConfig) { c.flushInterval = d }
}

// WithBodies keeps response bodies and headers in the file. By default they
// are dropped: the checks never need them, they dominate the file's size,
// and response headers may carry secrets (Set-Cookie). DecodeResults reads
// the bodies back but not the headers; Vegeta's own decoder reads both.
func WithBodies(keep bool) ResultsFileOption {
	return func(c *resultsFileConfig) { c.keepBodies = keep }
}

// ResultsFile is a Sink that streams results to a file in Vegeta's gob
// encoding (vegeta.NewEncoder). Every result's Attack field is
// "<stream>/<route>" so ReadResults can split them back out. A hit Run
// dropped is written as a record of its own (see Dropped), so the file
// alone tells what was sent and what was dropped, and when. Record and
// Drop are safe for concurrent use; writes are buffered and flushed every
// flush interval, on Flush and on Close.
type ResultsFile struct {
	keepBodies bool
	redact     *strings.Replacer // nil: nothing to redact
	stopFlush  chan struct{}     // closed by Close to end the background flusher
	flushDone  chan struct{}     // closed when the background flusher has ended

	mu     sync.Mutex // guards f, w, enc, err and closed
	f      *os.File
	w      *bufio.Writer
	enc    vegeta.Encoder
	err    error // the first write error; sticky
	closed bool
}

var _ DropSink = (*ResultsFile)(nil)

// CreateResultsFile creates (or truncates) the file at path and returns a
// ResultsFile writing to it. Close it when done.
func CreateResultsFile(path string, opts ...ResultsFileOption) (*ResultsFile, error) {
	cfg := resultsFileConfig{flushInterval: DefaultFlushInterval}
	for _, o := range opts {
		o(&cfg)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create results file: %w", err)
	}
	w := bufio.NewWriterSize(f, DefaultResultsBuffer)
	rf := &ResultsFile{
		keepBodies: cfg.keepBodies,
		redact:     cfg.redact,
		stopFlush:  make(chan struct{}),
		flushDone:  make(chan struct{}),
		f:          f,
		w:          w,
		enc:        vegeta.NewEncoder(w),
	}
	if cfg.flushInterval > 0 {
		go rf.flushEvery(cfg.flushInterval)
	} else {
		close(rf.flushDone)
	}
	return rf, nil
}

func (rf *ResultsFile) flushEvery(d time.Duration) {
	defer close(rf.flushDone)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-rf.stopFlush:
			return
		case <-t.C:
			_ = rf.Flush() // a failure is sticky: Close reports it
		}
	}
}

// Record appends r to the file with its Attack set to "<stream>/<route>",
// without its body and headers unless WithBodies(true). It does not modify r.
// A write error is kept and returned by Flush and Close; records after an
// error or after Close are dropped.
func (rf *ResultsFile) Record(stream, route string, r *vegeta.Result) {
	rec := *r
	if !isAttack(r.Attack, stream, route) {
		rec.Attack = stream + "/" + route
	}
	if !rf.keepBodies {
		rec.Body, rec.Headers = nil, nil
	}
	if rf.redact != nil {
		rec.URL, rec.Error = rf.redact.Replace(rec.URL), rf.redact.Replace(rec.Error)
		if len(rec.Body) > 0 {
			rec.Body = []byte(rf.redact.Replace(string(rec.Body)))
		}
	}
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.closed || rf.err != nil {
		return
	}
	if err := rf.enc.Encode(&rec); err != nil {
		rf.err = fmt.Errorf("write results file %s: %w", rf.f.Name(), err)
	}
}

// ErrDropped starts the Error of the record a ResultsFile writes for a hit
// Run dropped (see DropSink): "<ErrDropped>: every worker busy". Such a
// record has no status (Code 0), no URL, no latency, and its Timestamp is
// when the hit was due; Outcome returns OutcomeDropped for it. Vegeta's own
// tools read it as a failed request.
var ErrDropped = errors.New("dropped by gameday")

// droppedMark starts a dropped hit's record's Error.
var droppedMark = ErrDropped.Error() + ": "

// Dropped reports whether r is the record of a hit Run dropped (see
// ErrDropped), not the result of a request.
func Dropped(r *vegeta.Result) bool {
	return r.Code == 0 && r.Latency == 0 && r.URL == "" && strings.HasPrefix(r.Error, droppedMark)
}

// Drop appends the record of a hit Run dropped, due at due.
func (rf *ResultsFile) Drop(stream, route string, due time.Time) {
	rec := vegeta.Result{Attack: stream + "/" + route, Timestamp: due, Error: droppedMark + "every worker busy"}
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.closed || rf.err != nil {
		return
	}
	if err := rf.enc.Encode(&rec); err != nil {
		rf.err = fmt.Errorf("write results file %s: %w", rf.f.Name(), err)
	}
}

// isAttack reports whether attack is "<stream>/<route>", as Run names it.
func isAttack(attack, stream, route string) bool {
	return len(attack) == len(stream)+1+len(route) &&
		strings.HasPrefix(attack, stream) && attack[len(stream)] == '/' && strings.HasSuffix(attack, route)
}

// Flush writes the buffered records to the file. It returns the first write
// error the file has met.
func (rf *ResultsFile) Flush() error {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	return rf.flushLocked()
}

func (rf *ResultsFile) flushLocked() error {
	if rf.err != nil || rf.closed {
		return rf.err
	}
	if err := rf.w.Flush(); err != nil {
		rf.err = fmt.Errorf("write results file %s: %w", rf.f.Name(), err)
	}
	return rf.err
}

// Close flushes and closes the file. It returns the first error the file
// has met; a second Close returns nil.
func (rf *ResultsFile) Close() error {
	rf.mu.Lock()
	if rf.closed {
		rf.mu.Unlock()
		return nil
	}
	close(rf.stopFlush)
	err := rf.flushLocked()
	rf.closed = true
	if cerr := rf.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close results file %s: %w", rf.f.Name(), cerr)
	}
	rf.mu.Unlock()
	<-rf.flushDone
	return err
}

// ReadResults decodes the results file at path and calls fn for each result
// in file order, as DecodeResults does; an error of fn is returned as it is.
func ReadResults(path string, fn func(stream, route string, r *vegeta.Result) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only: Close cannot lose data
	var fnErr error
	err = DecodeResults(f, func(stream, route string, r *vegeta.Result) error {
		fnErr = fn(stream, route, r)
		return fnErr
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return fmt.Errorf("read results %s: %w", path, err)
	}
	return nil
}

// DecodeResults decodes results in Vegeta's gob encoding from r and calls fn
// for each result in order, with the stream and route split out of its
// Attack field (route is "" when Attack has no "/"). The result is reused
// between calls: fn must not keep it. A torn last record, as a SIGKILL
// leaves, ends the stream without an error; an error of fn stops the
// decoding and is returned as it is.
//
// Response headers, which a file made WithBodies(true) holds, are skipped:
// encoding/gob sizes a map by the count its input claims before reading an
// entry (golang/go#79539, fixed after Go 1.26), so four kilobytes could
// demand gigabytes; gob skips a field the target lacks entry by entry,
// within the record's bytes. Nothing gameday judges reads them.
func DecodeResults(r io.Reader, fn func(stream, route string, r *vegeta.Result) error) error {
	dec := gob.NewDecoder(bufio.NewReaderSize(r, DefaultResultsBuffer))
	var rec storedResult
	var res vegeta.Result
	for n := 0; ; n++ {
		rec = storedResult{} // gob leaves fields absent from a record untouched
		if err := dec.Decode(&rec); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return fmt.Errorf("record %d: %w", n, err)
		}
		res = rec.result()
		stream, route, _ := strings.Cut(res.Attack, "/")
		if err := fn(stream, route, &res); err != nil {
			return err
		}
	}
}

// storedResult is vegeta.Result without Headers, as DecodeResults reads
// records: gob matches fields by name, so it reads vegeta.NewEncoder's
// records and skips their headers.
type storedResult struct {
	Attack    string
	Seq       uint64
	Code      uint16
	Timestamp time.Time
	Latency   time.Duration
	BytesOut  uint64
	BytesIn   uint64
	Error     string
	Body      []byte
	Method    string
	URL       string
}

func (s *storedResult) result() vegeta.Result {
	return vegeta.Result{
		Attack: s.Attack, Seq: s.Seq, Code: s.Code, Timestamp: s.Timestamp, Latency: s.Latency,
		BytesOut: s.BytesOut, BytesIn: s.BytesIn, Error: s.Error, Body: s.Body, Method: s.Method, URL: s.URL,
	}
}
