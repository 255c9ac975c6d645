// Package reports writes the reports of a finished run: report.json,
// report.md and the verdict table on the terminal. A Report is built once,
// from the run directory alone, and every format renders the same Report.
package reports

import (
	"time"

	"github.com/gameday/gameday/slo"
)

// Status is how a run ended.
type Status string

// The statuses of a run.
const (
	StatusPassed      Status = "passed"      // every check passed
	StatusFailed      Status = "failed"      // a check failed
	StatusInterrupted Status = "interrupted" // stopped by a signal before the end
	StatusAborted     Status = "aborted"     // stopped by an error of the run or its environment
)

// Report is everything a run's reports say.
type Report struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description,omitempty"`
	// Dir is the run directory the report was built from.
	Dir    string `json:"dir"`
	Status Status `json:"status"`
	// Reason says why a run was interrupted or aborted.
	Reason string `json:"reason,omitempty"`
	// Start and End bound the load; offsets in the report count from Start.
	Start     time.Time       `json:"start"`
	End       time.Time       `json:"end"`
	Phases    []Phase         `json:"phases"`
	Faults    []Fault         `json:"faults"`
	Processes []Process       `json:"processes,omitempty"`
	Load      []StreamSummary `json:"load"`
	Checks    []slo.Verdict   `json:"checks"`
}

// Passed reports whether every check passed in a run that ran to its end.
func (r *Report) Passed() bool { return r.Status == StatusPassed }

// Failed returns the checks that did not pass.
func (r *Report) Failed() []slo.Verdict {
	var out []slo.Verdict
	for _, c := range r.Checks {
		if !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

// Phase is one phase window of the run.
type Phase struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Fault is what one fault did to one target.
type Fault struct {
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Target      string    `json:"target"`
	Action      string    `json:"action"`
	InjectedAt  time.Time `json:"injectedAt"`
	RecoveredAt time.Time `json:"recoveredAt,omitzero"`
	// Error is set when injecting or recovering the fault failed.
	Error string `json:"error,omitempty"`
	// Output is what an action fault's command printed or its request got
	// back, bounded.
	Output string `json:"output,omitempty"`
}

// Process sums up what happened to one process of the target.
type Process struct {
	Instance string `json:"instance"`
	Starts   int    `json:"starts"`
	Exits    int    `json:"exits"`
}

// StreamSummary sums up the client-side results of one route of a stream.
type StreamSummary struct {
	Stream       string         `json:"stream"`
	Route        string         `json:"route"`
	Requests     int            `json:"requests"`
	Successes    int            `json:"successes"`
	SuccessRatio float64        `json:"successRatio"`
	Throughput   float64        `json:"throughput"` // successful requests per second
	P50          time.Duration  `json:"p50"`
	P90          time.Duration  `json:"p90"`
	P99          time.Duration  `json:"p99"`
	Max          time.Duration  `json:"max"`
	Codes        map[string]int `json:"codes"` // status code ("0" for transport errors) to count
	// Errors counts the distinct transport error messages, the most frequent first, at most 5.
	Errors []ErrorCount `json:"errors,omitempty"`
}

// ErrorCount is how often one error message was seen.
type ErrorCount struct {
	Error string `json:"error"`
	Count int    `json:"count"`
}
