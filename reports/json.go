package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/gameday/gameday/slo"
)

// SchemaVersion names the format of report.json. A change that removes or
// renames a field, or changes a unit, gets a new version; report.schema.json
// is its JSON Schema.
const SchemaVersion = "gameday.report/v1"

// report.json keeps its units in its field names or values: durations are
// numbers of milliseconds in fields ending in "Ms" (exact to the
// nanosecond), instants RFC 3339 strings in UTC, ratios numbers in [0, 1]
// in fields ending in "Ratio", rates in fields ending in "PerSecond", and
// a check's measured value names its unit in measuredUnit. The types below
// are that document; the Report keeps Go's types.

type jsonReport struct {
	Version     string              `json:"version"`
	Scenario    string              `json:"scenario"`
	Description string              `json:"description,omitempty"`
	Proves      string              `json:"proves,omitempty"`
	Runbook     string              `json:"runbook,omitempty"`
	Dir         string              `json:"dir"`
	Status      Status              `json:"status"`
	Reason      string              `json:"reason,omitempty"`
	Start       time.Time           `json:"start"`
	End         time.Time           `json:"end"`
	DurationMs  float64             `json:"durationMs"`
	Phases      []Phase             `json:"phases"`
	Faults      []Fault             `json:"faults"`
	Processes   []Process           `json:"processes,omitempty"`
	Load        []jsonStream        `json:"load"`
	Checks      []jsonVerdict       `json:"checks"`
	RTO         []jsonRecoveryCheck `json:"rto,omitempty"`
	RPO         []jsonDataLossCheck `json:"rpo,omitempty"`
	Timeline    *jsonTimeline       `json:"timeline,omitempty"`
}

type jsonStream struct {
	Stream              string         `json:"stream"`
	Route               string         `json:"route"`
	Requests            int            `json:"requests"`
	Canceled            int            `json:"canceled,omitempty"`
	Dropped             int            `json:"dropped,omitempty"`
	Successes           int            `json:"successes"`
	SuccessRatio        float64        `json:"successRatio"`
	ThroughputPerSecond float64        `json:"throughputPerSecond"`
	P50Ms               float64        `json:"p50Ms"`
	P90Ms               float64        `json:"p90Ms"`
	P99Ms               float64        `json:"p99Ms"`
	MaxMs               float64        `json:"maxMs"`
	Codes               map[string]int `json:"codes"`
	Errors              []ErrorCount   `json:"errors,omitempty"`
}

// Units of a check's measured value in report.json.
const (
	UnitRatio     = "ratio"      // a success ratio, in [0, 1]
	UnitSeconds   = "seconds"    // a latency quantile
	UnitPerSecond = "per_second" // a throughput
	UnitPromQL    = "promql"     // the PromQL expression's own unit
)

type jsonVerdict struct {
	Name         string       `json:"name"`
	SLI          string       `json:"sli"`
	Objective    string       `json:"objective"`
	During       []string     `json:"during"`
	Mode         string       `json:"mode"`
	Windows      []slo.Window `json:"windows"`
	Measured     *float64     `json:"measured"`
	MeasuredUnit string       `json:"measuredUnit"`
	MeasuredText string       `json:"measuredText"`
	Samples      int          `json:"samples"`
	Canceled     int          `json:"canceled,omitempty"`
	Passed       bool         `json:"passed"`
	Detail       string       `json:"detail,omitempty"`
}

// MeasuredUnit is the unit of a verdict's Measured value, one of UnitRatio,
// UnitSeconds, UnitPerSecond and UnitPromQL, read from its SLI.
func MeasuredUnit(v slo.Verdict) string {
	switch {
	case v.SLI == "success_ratio" || strings.HasPrefix(v.SLI, "success_ratio "):
		return UnitRatio
	case strings.HasPrefix(v.SLI, "latency p"):
		return UnitSeconds
	case v.SLI == "throughput" || strings.HasPrefix(v.SLI, "throughput "):
		return UnitPerSecond
	}
	return UnitPromQL
}

type jsonRecoveryCheck struct {
	Name            string        `json:"name"`
	Fault           string        `json:"fault"`
	Injection       int           `json:"injection"`
	Condition       string        `json:"condition"`
	Objective       string        `json:"objective"`
	Measured        string        `json:"measured"`
	Passed          bool          `json:"passed"`
	Source          string        `json:"source,omitempty"`
	Recovery        *jsonRecovery `json:"recovery,omitempty"`
	Prometheus      *jsonRecovery `json:"prometheus,omitempty"`
	PrometheusQuery string        `json:"prometheusQuery,omitempty"`
	Detail          string        `json:"detail,omitempty"`
}

type jsonRecovery struct {
	Fault          string       `json:"fault"`
	Injected       time.Time    `json:"injected"`
	Reverted       time.Time    `json:"reverted,omitzero"`
	End            time.Time    `json:"end"`
	ResolutionMs   float64      `json:"resolutionMs"`
	StableForMs    float64      `json:"stableForMs"`
	Impacted       bool         `json:"impacted"`
	Detected       time.Time    `json:"detected,omitzero"`
	TimeToDetectMs float64      `json:"timeToDetectMs"`
	Recovered      bool         `json:"recovered"`
	RecoveredAt    time.Time    `json:"recoveredAt,omitzero"`
	RTOMs          float64      `json:"rtoMs"`
	ImpactMs       float64      `json:"impactMs"`
	Breaches       []slo.Breach `json:"breaches,omitempty"`
	Samples        int          `json:"samples"`
	Canceled       int          `json:"canceled"`
	NoData         int          `json:"noData"`
	Detail         string       `json:"detail,omitempty"`
}

type jsonDataLossCheck struct {
	Name                string        `json:"name"`
	Fault               string        `json:"fault"`
	Injection           int           `json:"injection"`
	Probe               string        `json:"probe"`
	Objective           string        `json:"objective"`
	Measured            string        `json:"measured"`
	Passed              bool          `json:"passed"`
	From                time.Time     `json:"from,omitzero"`
	To                  time.Time     `json:"to,omitzero"`
	Loss                *jsonDataLoss `json:"loss,omitempty"`
	ReplicationLagQuery string        `json:"replicationLagQuery,omitempty"`
	Detail              string        `json:"detail,omitempty"`
}

type jsonDataLoss struct {
	Fault         string    `json:"fault"`
	Injected      time.Time `json:"injected"`
	Writes        int       `json:"writes"`
	Acknowledged  int       `json:"acknowledged"`
	Found         int       `json:"found"`
	Lost          int       `json:"lost"`
	LostIDs       []string  `json:"lostIDs,omitempty"`
	LostFrom      time.Time `json:"lostFrom,omitzero"`
	LostTo        time.Time `json:"lostTo,omitzero"`
	RPOMs         float64   `json:"rpoMs"`
	SplitBrain    int       `json:"splitBrain"`
	SplitBrainIDs []string  `json:"splitBrainIDs,omitempty"`
	Unverified    int       `json:"unverified"`
	UnverifiedIDs []string  `json:"unverifiedIDs,omitempty"`
	WorstRPOMs    float64   `json:"worstRPOMs"`
	// ReplicationLag is in the metric's own unit (its name says which).
	ReplicationLag *float64 `json:"replicationLag,omitempty"`
}

type jsonTimeline struct {
	BucketMs float64            `json:"bucketMs"`
	Streams  []jsonStreamSeries `json:"streams"`
}

type jsonStreamSeries struct {
	Stream string      `json:"stream"`
	Points []jsonPoint `json:"points"`
}

type jsonPoint struct {
	OffsetMs            float64  `json:"offsetMs"`
	Requests            int      `json:"requests"`
	Successes           int      `json:"successes"`
	SuccessRatio        *float64 `json:"successRatio"`
	ThroughputPerSecond float64  `json:"throughputPerSecond"`
	P50Ms               float64  `json:"p50Ms"`
	P90Ms               float64  `json:"p90Ms"`
	P99Ms               float64  `json:"p99Ms"`
}

// millis renders d in milliseconds; fromMillis reads it back exactly.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fromMillis(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// WriteJSON writes r as indented JSON in the format SchemaVersion names.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(toJSON(r)); err != nil {
		return fmt.Errorf("write report.json: %w", err)
	}
	return nil
}

// ReadJSON decodes a report written by WriteJSON; it refuses a document of
// another version.
func ReadJSON(rd io.Reader) (*Report, error) {
	var d jsonReport
	if err := json.NewDecoder(rd).Decode(&d); err != nil {
		return nil, fmt.Errorf("read report.json: %w", err)
	}
	if d.Version == "" {
		return nil, fmt.Errorf("read report.json: no version: written by an older gameday (gameday report RUN_DIR rewrites it as %s)", SchemaVersion)
	}
	if d.Version != SchemaVersion {
		return nil, fmt.Errorf("read report.json: version %q, want %q", d.Version, SchemaVersion)
	}
	return fromJSON(&d), nil
}

func toJSON(r *Report) *jsonReport {
	d := &jsonReport{
		Version: SchemaVersion, Scenario: r.Scenario, Description: r.Description, Proves: r.Proves, Runbook: r.Runbook, Dir: r.Dir,
		Status: r.Status, Reason: r.Reason, Start: r.Start, End: r.End, DurationMs: millis(r.End.Sub(r.Start)),
		Phases: r.Phases, Faults: r.Faults, Processes: r.Processes,
		Load: []jsonStream{}, Checks: []jsonVerdict{},
	}
	for _, s := range r.Load {
		d.Load = append(d.Load, jsonStream{
			Stream: s.Stream, Route: s.Route, Requests: s.Requests, Canceled: s.Canceled, Dropped: s.Dropped,
			Successes: s.Successes, SuccessRatio: s.SuccessRatio, ThroughputPerSecond: s.Throughput,
			P50Ms: millis(s.P50), P90Ms: millis(s.P90), P99Ms: millis(s.P99), MaxMs: millis(s.Max),
			Codes: s.Codes, Errors: s.Errors,
		})
	}
	for _, v := range r.Checks {
		d.Checks = append(d.Checks, jsonVerdict{
			Name: v.Name, SLI: v.SLI, Objective: v.Objective, During: v.During, Mode: v.Mode, Windows: v.Windows,
			Measured: finite(v.Measured), MeasuredUnit: MeasuredUnit(v), MeasuredText: v.MeasuredText,
			Samples: v.Samples, Canceled: v.Canceled, Passed: v.Passed, Detail: v.Detail,
		})
	}
	for _, c := range r.RTO {
		d.RTO = append(d.RTO, jsonRecoveryCheck{
			Name: c.Name, Fault: c.Fault, Injection: c.Injection, Condition: c.Condition, Objective: c.Objective,
			Measured: c.Measured, Passed: c.Passed, Source: c.Source, Recovery: toJSONRecovery(c.Recovery),
			Prometheus: toJSONRecovery(c.Prometheus), PrometheusQuery: c.PrometheusQuery, Detail: c.Detail,
		})
	}
	for _, c := range r.RPO {
		d.RPO = append(d.RPO, jsonDataLossCheck{
			Name: c.Name, Fault: c.Fault, Injection: c.Injection, Probe: c.Probe, Objective: c.Objective,
			Measured: c.Measured, Passed: c.Passed, From: c.From, To: c.To, Loss: toJSONLoss(c.Loss),
			ReplicationLagQuery: c.ReplicationLagQuery, Detail: c.Detail,
		})
	}
	if tl := r.Timeline; tl != nil {
		jt := &jsonTimeline{BucketMs: millis(tl.Bucket), Streams: []jsonStreamSeries{}}
		for _, s := range tl.Streams {
			js := jsonStreamSeries{Stream: s.Stream, Points: make([]jsonPoint, len(s.Points))}
			for i, p := range s.Points {
				jp := jsonPoint{
					OffsetMs: millis(time.Duration(i) * tl.Bucket), Requests: p.Requests, Successes: p.Successes,
					ThroughputPerSecond: p.Throughput(tl.Bucket), P50Ms: millis(p.P50), P90Ms: millis(p.P90), P99Ms: millis(p.P99),
				}
				if ratio, ok := p.SuccessRatio(); ok {
					jp.SuccessRatio = &ratio
				}
				js.Points[i] = jp
			}
			jt.Streams = append(jt.Streams, js)
		}
		d.Timeline = jt
	}
	return d
}

func toJSONRecovery(v *slo.Recovery) *jsonRecovery {
	if v == nil {
		return nil
	}
	return &jsonRecovery{
		Fault: v.Fault, Injected: v.Injected, Reverted: v.Reverted, End: v.End,
		ResolutionMs: millis(v.Resolution), StableForMs: millis(v.StableFor), Impacted: v.Impacted,
		Detected: v.Detected, TimeToDetectMs: millis(v.TimeToDetect), Recovered: v.Recovered,
		RecoveredAt: v.RecoveredAt, RTOMs: millis(v.RTO), ImpactMs: millis(v.Impact), Breaches: v.Breaches,
		Samples: v.Samples, Canceled: v.Canceled, NoData: v.NoData, Detail: v.Detail,
	}
}

func toJSONLoss(l *slo.DataLoss) *jsonDataLoss {
	if l == nil {
		return nil
	}
	return &jsonDataLoss{
		Fault: l.Fault, Injected: l.Injected, Writes: l.Writes, Acknowledged: l.Acknowledged, Found: l.Found,
		Lost: l.Lost, LostIDs: l.LostIDs, LostFrom: l.LostFrom, LostTo: l.LostTo, RPOMs: millis(l.RPO),
		SplitBrain: l.SplitBrain, SplitBrainIDs: l.SplitBrainIDs, Unverified: l.Unverified,
		UnverifiedIDs: l.UnverifiedIDs, WorstRPOMs: millis(l.WorstRPO), ReplicationLag: l.ReplicationLag,
	}
}

func fromJSON(d *jsonReport) *Report {
	r := &Report{
		Scenario: d.Scenario, Description: d.Description, Proves: d.Proves, Runbook: d.Runbook, Dir: d.Dir, Status: d.Status, Reason: d.Reason,
		Start: d.Start, End: d.End, Phases: d.Phases, Faults: d.Faults, Processes: d.Processes,
	}
	for _, s := range d.Load {
		r.Load = append(r.Load, StreamSummary{
			Stream: s.Stream, Route: s.Route, Requests: s.Requests, Canceled: s.Canceled, Dropped: s.Dropped,
			Successes: s.Successes, SuccessRatio: s.SuccessRatio, Throughput: s.ThroughputPerSecond,
			P50: fromMillis(s.P50Ms), P90: fromMillis(s.P90Ms), P99: fromMillis(s.P99Ms), Max: fromMillis(s.MaxMs),
			Codes: s.Codes, Errors: s.Errors,
		})
	}
	for _, v := range d.Checks {
		measured := math.NaN()
		if v.Measured != nil {
			measured = *v.Measured
		}
		r.Checks = append(r.Checks, slo.Verdict{
			Name: v.Name, SLI: v.SLI, Objective: v.Objective, During: v.During, Mode: v.Mode, Windows: v.Windows,
			Measured: measured, MeasuredText: v.MeasuredText, Samples: v.Samples, Canceled: v.Canceled,
			Passed: v.Passed, Detail: v.Detail,
		})
	}
	for _, c := range d.RTO {
		r.RTO = append(r.RTO, RecoveryCheck{
			Name: c.Name, Fault: c.Fault, Injection: c.Injection, Condition: c.Condition, Objective: c.Objective,
			Measured: c.Measured, Passed: c.Passed, Source: c.Source, Recovery: fromJSONRecovery(c.Recovery),
			Prometheus: fromJSONRecovery(c.Prometheus), PrometheusQuery: c.PrometheusQuery, Detail: c.Detail,
		})
	}
	for _, c := range d.RPO {
		r.RPO = append(r.RPO, DataLossCheck{
			Name: c.Name, Fault: c.Fault, Injection: c.Injection, Probe: c.Probe, Objective: c.Objective,
			Measured: c.Measured, Passed: c.Passed, From: c.From, To: c.To, Loss: fromJSONLoss(c.Loss),
			ReplicationLagQuery: c.ReplicationLagQuery, Detail: c.Detail,
		})
	}
	if jt := d.Timeline; jt != nil {
		tl := &Timeline{Bucket: fromMillis(jt.BucketMs)}
		for _, js := range jt.Streams {
			s := StreamSeries{Stream: js.Stream, Points: make([]Point, len(js.Points))}
			for i, p := range js.Points {
				s.Points[i] = Point{Requests: p.Requests, Successes: p.Successes, P50: fromMillis(p.P50Ms), P90: fromMillis(p.P90Ms), P99: fromMillis(p.P99Ms)}
			}
			tl.Streams = append(tl.Streams, s)
		}
		r.Timeline = tl
	}
	return r
}

func fromJSONRecovery(v *jsonRecovery) *slo.Recovery {
	if v == nil {
		return nil
	}
	return &slo.Recovery{
		Fault: v.Fault, Injected: v.Injected, Reverted: v.Reverted, End: v.End,
		Resolution: fromMillis(v.ResolutionMs), StableFor: fromMillis(v.StableForMs), Impacted: v.Impacted,
		Detected: v.Detected, TimeToDetect: fromMillis(v.TimeToDetectMs), Recovered: v.Recovered,
		RecoveredAt: v.RecoveredAt, RTO: fromMillis(v.RTOMs), Impact: fromMillis(v.ImpactMs), Breaches: v.Breaches,
		Samples: v.Samples, Canceled: v.Canceled, NoData: v.NoData, Detail: v.Detail,
	}
}

func fromJSONLoss(l *jsonDataLoss) *slo.DataLoss {
	if l == nil {
		return nil
	}
	return &slo.DataLoss{
		Fault: l.Fault, Injected: l.Injected, Writes: l.Writes, Acknowledged: l.Acknowledged, Found: l.Found,
		Lost: l.Lost, LostIDs: l.LostIDs, LostFrom: l.LostFrom, LostTo: l.LostTo, RPO: fromMillis(l.RPOMs),
		SplitBrain: l.SplitBrain, SplitBrainIDs: l.SplitBrainIDs, Unverified: l.Unverified,
		UnverifiedIDs: l.UnverifiedIDs, WorstRPO: fromMillis(l.WorstRPOMs), ReplicationLag: l.ReplicationLag,
	}
}
