package run

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gameday/gameday/chaos"
)

// Event types of events.jsonl.
const (
	EventRunStarted    = "run.started"
	EventTargetReady   = "target.ready"
	EventLoadStarted   = "load.started"
	EventStreamStarted = "stream.started"
	EventStreamEnded   = "stream.finished"
	EventLoadFinished  = "load.finished"
	EventFaultInjected = "fault.injected"
	EventFaultRecover  = "fault.recovered"
	EventFaultError    = "fault.error"
	EventInterrupted   = "run.interrupted"
	EventRunError      = "run.error"
	EventRunFinished   = "run.finished"
)

// Event is one line of a run's events.jsonl: something that happened on
// the timeline, with when it happened.
type Event struct {
	Time     time.Time      `json:"time"`
	Type     string         `json:"type"`
	Fault    string         `json:"fault,omitempty"`
	Stream   string         `json:"stream,omitempty"`
	Instance string         `json:"instance,omitempty"`
	PID      int            `json:"pid,omitempty"`
	Records  []chaos.Record `json:"records,omitempty"`
	Message  string         `json:"message,omitempty"`
	// Attrs holds event-specific facts (base URL, run id...).
	Attrs map[string]string `json:"attrs,omitempty"`
}

// eventLog appends events to a file, one JSON object a line, each written
// through to the file as it happens so that a run killed with SIGKILL
// leaves every event before its death.
type eventLog struct {
	mu       sync.Mutex // guards f, err, panicked and listener calls
	f        *os.File
	err      error
	listener func(Event)
	redact   *redactor
	// panicked is the first panic of the listener, which Emit contains: it
	// is called from every goroutine of the run (the supervisor's, the
	// teardown's), and none of them may crash the process before every
	// fault is reverted. onPanic is told, once.
	panicked any
	onPanic  func(any)
}

func createEventLog(path string, listener func(Event), redact *redactor) (*eventLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create event log: %w", err)
	}
	if listener == nil {
		listener = func(Event) {}
	}
	return &eventLog{f: f, listener: listener, redact: redact}, nil
}

// Emit writes e, stamping it with the current time when it has none. The
// first write error is kept and returned by Close.
func (l *eventLog) Emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Message = l.redact.string(e.Message)
	if len(e.Attrs) > 0 {
		attrs := make(map[string]string, len(e.Attrs))
		for k, v := range e.Attrs {
			attrs[k] = l.redact.string(v)
		}
		e.Attrs = attrs
	}
	line, err := json.Marshal(e)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && l.f != nil {
		_, err = l.f.Write(append(line, '\n'))
	}
	if err != nil && l.err == nil {
		l.err = fmt.Errorf("write event %s: %w", e.Type, err)
	}
	l.listen(e)
}

// listen calls the listener; l.mu is held. A panic is kept and reported to
// onPanic once, and the listener is not called again.
func (l *eventLog) listen(e Event) {
	if l.panicked != nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			l.panicked = p
			if l.onPanic != nil {
				go l.onPanic(p) // not under l.mu: it may emit
			}
		}
	}()
	l.listener(e)
}

func (l *eventLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return l.err
	}
	err := errors.Join(l.err, l.f.Sync(), l.f.Close())
	l.f = nil
	return err
}

// ReadEvents decodes an events.jsonl stream. A torn last line, as left by a
// run killed while writing, is ignored.
func ReadEvents(r io.Reader) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var pending error
	line := 0
	for sc.Scan() {
		line++
		if pending != nil {
			return out, pending
		}
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Only the last line may be torn.
			pending = fmt.Errorf("events line %d: %w", line, err)
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}
