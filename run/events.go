package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gameday/gameday/rundir"
)

// eventLog appends events to a file, one JSON object a line, each written
// through to the file as it happens so that a run killed with SIGKILL
// leaves every event before its death.
type eventLog struct {
	mu       sync.Mutex // guards f, err, panicked and listener calls
	f        *os.File
	err      error
	listener func(rundir.Event)
	redact   *redactor
	// panicked is the first panic of the listener, which Emit contains: it
	// is called from every goroutine of the run (the supervisor's, the
	// teardown's), and none of them may crash the process before every
	// fault is reverted. onPanic is told, once.
	panicked any
	onPanic  func(any)
}

func createEventLog(path string, listener func(rundir.Event), redact *redactor) (*eventLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create event log: %w", err)
	}
	if listener == nil {
		listener = func(rundir.Event) {}
	}
	return &eventLog{f: f, listener: listener, redact: redact}, nil
}

// Emit writes e, stamping it with the current time when it has none. The
// first write error is kept and returned by Close.
func (l *eventLog) Emit(e rundir.Event) {
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
func (l *eventLog) listen(e rundir.Event) {
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
