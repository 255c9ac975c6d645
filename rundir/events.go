package rundir

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gameday/gameday/chaos"
)

// Event types of events.jsonl. Writers and readers use these constants,
// never the strings.
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
	// EventSteadyState is the verdict of the steady-state checks on the
	// warmup, before the first fault; Message says which failed, if any.
	EventSteadyState = "steady_state.checked"
	// EventAborted is an abort condition that tripped; Message says which
	// and why.
	EventAborted = "run.aborted"
	// EventProbeStarted and EventProbeVerified bracket a write probe's
	// writes and its read-back (Stream names the probe).
	EventProbeStarted  = "probe.started"
	EventProbeStopped  = "probe.stopped"
	EventProbeVerified = "probe.verified"
	EventInterrupted   = "run.interrupted"
	EventRunError      = "run.error"
	EventRunFinished   = "run.finished"

	// Events of the processes a target supervises.
	EventProcessStarted     = "process.started"
	EventProcessReady       = "process.ready"
	EventProcessExited      = "process.exited"
	EventProcessStartFailed = "process.start_failed"
	EventProcessStopping    = "process.stopping"

	// Events of the run's guard process.
	EventGuardStarted  = "guard.started"
	EventGuardReverted = "guard.reverted"
)

// Attributes of events, in Event.Attrs.
const (
	// AttrPassed is "true" or "false" on EventSteadyState.
	AttrPassed = "passed"
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

// ReadEventsOf reads the events.jsonl of the run directory dir.
func ReadEventsOf(dir string) ([]Event, error) {
	f, err := os.Open(filepath.Join(dir, FileEvents))
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer func() { _ = f.Close() }() // read only
	return ReadEvents(f)
}
