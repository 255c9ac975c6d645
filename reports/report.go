// Package reports writes the reports of a finished run: report.json (a
// versioned document, report.schema.json), report.md (a short summary for
// CI), junit.xml, a self-contained report.html with charts, the verdict
// table on the terminal, and the comparison of two runs. A Report is built
// once, from the run directory alone, and every format renders the same
// Report with no clock of its own, so a run's reports can be written again
// byte for byte. Formats is the table of writers.
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
	// Proves says what a passing run shows; Runbook is the facilitator's
	// note (both from the scenario).
	Proves  string `json:"proves,omitempty"`
	Runbook string `json:"runbook,omitempty"`
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
	// RTO holds one entry per RTO check and injection of its fault.
	RTO []RecoveryCheck `json:"rto,omitempty"`
	// RPO holds one entry per RPO check and injection of its fault.
	RPO []DataLossCheck `json:"rpo,omitempty"`
	// Timeline is the client-side results over time, for the charts; nil
	// when the run has no results.
	Timeline *Timeline `json:"timeline,omitempty"`

	// ScenarioYAML is the scenario as run, as the run directory holds it.
	// Files lists the files of the run directory the reports link to,
	// relative to it. Neither is in report.json (the files are beside it).
	ScenarioYAML string   `json:"-"`
	Files        []string `json:"-"`
}

// Passed reports whether every check passed in a run that ran to its end.
func (r *Report) Passed() bool { return r.Status == StatusPassed }

// Counts returns how many checks of every kind (SLO, RTO, RPO) the report
// holds and how many of them passed.
func (r *Report) Counts() (passed, total int) {
	for _, c := range r.Checks {
		total++
		if c.Passed {
			passed++
		}
	}
	for _, c := range r.RTO {
		total++
		if c.Passed {
			passed++
		}
	}
	for _, c := range r.RPO {
		total++
		if c.Passed {
			passed++
		}
	}
	return passed, total
}

// FailedNames returns the names of the checks of every kind that did not
// pass, SLOs first, then RTO and RPO checks (each once, even when it failed
// for several injections).
func (r *Report) FailedNames() []string {
	var out []string
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, c := range r.Checks {
		if !c.Passed {
			add(c.Name)
		}
	}
	for _, c := range r.RTO {
		if !c.Passed {
			add(c.Name)
		}
	}
	for _, c := range r.RPO {
		if !c.Passed {
			add(c.Name)
		}
	}
	return out
}

// AllPassed reports whether every check of every kind passed.
func (r *Report) AllPassed() bool {
	passed, total := r.Counts()
	return passed == total
}

// Where the main view of a RecoveryCheck comes from.
const (
	// RecoveryFromResults: the raw per-request results, at 100 ms.
	RecoveryFromResults = "results"
	// RecoveryFromPromQL: the condition's PromQL series, at its step.
	RecoveryFromPromQL = "promql"
)

// RecoveryCheck is the RTO check of one injection of a fault.
type RecoveryCheck struct {
	Name  string `json:"name"`
	Fault string `json:"fault"`
	// Injection counts the fault's injections from 1 (a repeated fault has
	// one check per injection).
	Injection int `json:"injection"`
	// Condition says what recovered means: "success ratio >= 0.99 over 1s,
	// stable for 3s".
	Condition string `json:"condition"`
	Objective string `json:"objective"`
	// Measured is the RTO as text: "2.3s", "unbounded", or "" when it
	// could not be judged (Detail says why).
	Measured string `json:"measured"`
	Passed   bool   `json:"passed"`
	// Source says what Recovery was computed from: RecoveryFromResults or
	// RecoveryFromPromQL.
	Source   string        `json:"source,omitempty"`
	Recovery *slo.Recovery `json:"recovery,omitempty"`
	// Prometheus is the same condition computed from gameday's client
	// metrics at scrape resolution (PrometheusQuery), beside the raw view;
	// nil when there is none.
	Prometheus      *slo.Recovery `json:"prometheus,omitempty"`
	PrometheusQuery string        `json:"prometheusQuery,omitempty"`
	Detail          string        `json:"detail,omitempty"`
}

// DataLossCheck is the RPO check of one injection of a fault, on one write
// probe.
type DataLossCheck struct {
	Name      string `json:"name"`
	Fault     string `json:"fault"`
	Injection int    `json:"injection"`
	Probe     string `json:"probe"`
	Objective string `json:"objective"`
	// Measured is the RPO as text: "0s", "1.25s", or "" when it could not
	// be judged.
	Measured string `json:"measured"`
	Passed   bool   `json:"passed"`
	// From and To bound the writes judged for this injection: sent in
	// (From, To]; To zero: to the end. Consecutive injections have
	// consecutive ranges: a range ends with its fault window (or at the
	// next injection), so a lost write belongs to the first fault that
	// ended after it was sent.
	From time.Time     `json:"from,omitzero"`
	To   time.Time     `json:"to,omitzero"`
	Loss *slo.DataLoss `json:"loss,omitempty"`
	// ReplicationLagQuery is the expression ReplicationLag was read from.
	ReplicationLagQuery string `json:"replicationLagQuery,omitempty"`
	Detail              string `json:"detail,omitempty"`
}

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
	// Steps is the target's own recovery timeline, when the fault kind
	// watches it (a pod: killed, replacement created, scheduled, ready,
	// owner ready), in time order.
	Steps []Step `json:"steps,omitempty"`
}

// Step is one instant of a target's recovery timeline after a fault.
type Step struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
	// Detail says more: the replacement pod's name, the owner's readiness.
	Detail string `json:"detail,omitempty"`
}

// Process sums up what happened to one process of the target.
type Process struct {
	Instance string `json:"instance"`
	Starts   int    `json:"starts"`
	Exits    int    `json:"exits"`
}

// StreamSummary sums up the client-side results of one route of a stream.
type StreamSummary struct {
	Stream   string `json:"stream"`
	Route    string `json:"route"`
	Requests int    `json:"requests"`
	// Canceled counts the requests gameday itself cut (an interrupt, an
	// abort): in Requests, in no ratio, code or latency.
	Canceled int `json:"canceled,omitempty"`
	// Dropped counts what the stream's schedule made due but gameday never
	// sent, every worker of the stream being busy (a target slower than
	// the stream's MaxWorkers allow for): not in Requests, in no ratio.
	Dropped      int            `json:"dropped,omitempty"`
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
