package reports

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/gameday/gameday/scenarios"
)

// The HTML report is one file that works offline: its charts are drawn by
// uPlot (reports/assets/uplot, MIT, vendored at the version its LICENSE
// and README name), embedded with the report's own script and styles.
var (
	//go:embed assets/uplot/uPlot.iife.min.js
	uplotJS string
	//go:embed assets/uplot/uPlot.min.css
	uplotCSS string
	//go:embed assets/report.js
	reportJS string
	//go:embed assets/report.css
	reportCSS string
	//go:embed assets/report.html.tmpl
	reportTemplate string
)

var htmlTemplate = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"mark":   mark,
	"orNone": orNone,
	"ms":     ms,
	"pct":    func(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) },
	"rate":   func(x float64) string { return fmt.Sprintf("%.1f/s", x) },
	"join":   strings.Join,
	"lower":  strings.ToLower,
	"upper":  strings.ToUpper,
	"codes":  codes,
	"since":  since,
	"dur":    func(d time.Duration) string { return d.Round(time.Millisecond).String() },
}).Parse(reportTemplate))

// chartData is what the report's script draws: offsets in seconds from the
// start of the load, throughput in successes per second, ratios in [0, 1],
// latencies in milliseconds.
type chartData struct {
	DurationS  float64          `json:"durationS"`
	BucketS    float64          `json:"bucketS"`
	Streams    []chartStream    `json:"streams"`
	Phases     []chartSpan      `json:"phases"`
	Faults     []chartSpan      `json:"faults"`
	Objectives []chartObjective `json:"objectives"`
	Marks      []chartMark      `json:"marks"`
}

type chartStream struct {
	Name       string     `json:"name"`
	X          []float64  `json:"x"`
	Throughput []float64  `json:"throughput"`
	Ratio      []*float64 `json:"ratio"`
	P50        []*float64 `json:"p50"`
	P90        []*float64 `json:"p90"`
	P99        []*float64 `json:"p99"`
}

type chartSpan struct {
	Name   string  `json:"name"`
	Target string  `json:"target,omitempty"`
	From   float64 `json:"from"`
	To     float64 `json:"to"`
}

// chartObjective is an SLO's objective drawn as a line on the chart of its
// SLI: "throughput", "ratio" or "latency" (in ms).
type chartObjective struct {
	Check string  `json:"check"`
	Chart string  `json:"chart"`
	Op    string  `json:"op"`
	Value float64 `json:"value"`
	Label string  `json:"label"`
}

// chartMark is an instant marked on every chart: an injection's detection
// and recovery (RTO), the window of lost writes (RPO), a pod's recovery
// step.
type chartMark struct {
	Kind  string  `json:"kind"` // rto-detected, rto-recovered, rpo-lost, step
	Check string  `json:"check"`
	Label string  `json:"label"`
	At    float64 `json:"at"`
	To    float64 `json:"to,omitempty"` // a window's end (rpo-lost)
}

func (r *Report) secs(t time.Time) float64 {
	if t.IsZero() {
		return r.End.Sub(r.Start).Seconds()
	}
	return round3(t.Sub(r.Start).Seconds())
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func msPtr(d time.Duration, ok bool) *float64 {
	if !ok {
		return nil
	}
	v := round3(millis(d))
	return &v
}

func (r *Report) chartData() chartData {
	d := chartData{DurationS: round3(r.End.Sub(r.Start).Seconds()), Streams: []chartStream{}, Phases: []chartSpan{}, Faults: []chartSpan{}, Objectives: []chartObjective{}, Marks: []chartMark{}}
	if tl := r.Timeline; tl != nil {
		d.BucketS = tl.Bucket.Seconds()
		for _, s := range tl.Streams {
			cs := chartStream{Name: s.Stream}
			for i, p := range s.Points {
				cs.X = append(cs.X, round3((time.Duration(i) * tl.Bucket).Seconds()))
				cs.Throughput = append(cs.Throughput, round3(p.Throughput(tl.Bucket)))
				ratio, ok := p.SuccessRatio()
				if ok {
					ratio = math.Round(ratio*1e6) / 1e6
					cs.Ratio = append(cs.Ratio, &ratio)
				} else {
					cs.Ratio = append(cs.Ratio, nil)
				}
				has := p.Successes > 0
				cs.P50, cs.P90, cs.P99 = append(cs.P50, msPtr(p.P50, has)), append(cs.P90, msPtr(p.P90, has)), append(cs.P99, msPtr(p.P99, has))
			}
			d.Streams = append(d.Streams, cs)
		}
	}
	for _, p := range r.Phases {
		d.Phases = append(d.Phases, chartSpan{Name: p.Name, From: r.secs(p.Start), To: r.secs(p.End)})
	}
	for _, f := range r.Faults {
		if f.InjectedAt.IsZero() || (f.Kind == "" && f.Error != "") {
			continue // an injection that failed: no window (the table says why)
		}
		d.Faults = append(d.Faults, chartSpan{Name: f.Name, Target: f.Target, From: r.secs(f.InjectedAt), To: r.secs(f.RecoveredAt)})
		for _, st := range f.Steps {
			d.Marks = append(d.Marks, chartMark{Kind: "step", Check: f.Name, Label: f.Name + ": " + st.Name, At: r.secs(st.At)})
		}
	}
	for _, c := range r.Checks {
		chart := map[string]string{UnitRatio: "ratio", UnitSeconds: "latency", UnitPerSecond: "throughput"}[MeasuredUnit(c)]
		o, err := scenarios.ParseObjective(c.Objective)
		if chart == "" || err != nil {
			continue
		}
		v := o.Value
		if chart == "latency" {
			v = round3(v * 1000)
		}
		d.Objectives = append(d.Objectives, chartObjective{Check: c.Name, Chart: chart, Op: string(o.Op), Value: v, Label: c.Name + " " + c.Objective})
	}
	for _, c := range r.RTO {
		v := c.Recovery
		if v == nil {
			continue
		}
		if v.Impacted {
			d.Marks = append(d.Marks, chartMark{Kind: "rto-detected", Check: c.label(), Label: c.label() + " detected", At: r.secs(v.Detected)})
		}
		if v.Recovered {
			d.Marks = append(d.Marks, chartMark{Kind: "rto-recovered", Check: c.label(), Label: c.label() + " RTO " + c.Measured, At: r.secs(v.RecoveredAt)})
		}
	}
	for _, c := range r.RPO {
		if l := c.Loss; l != nil && l.Lost > 0 {
			d.Marks = append(d.Marks, chartMark{Kind: "rpo-lost", Check: c.label(), Label: fmt.Sprintf("%s: %d writes lost, RPO %s", c.label(), l.Lost, c.Measured), At: r.secs(l.LostFrom), To: r.secs(l.LostTo)})
		}
	}
	return d
}

// WriteHTML writes r as one self-contained HTML page: the verdicts, the
// timeline charts (throughput, success ratio and latency quantiles per
// stream, phases shaded, fault windows, objectives as lines, RTO and RPO
// marked), the recovery and data-loss details, the faults and their
// recovery steps, the load, the scenario as run and links to the raw files
// beside it. It loads nothing from the network.
func WriteHTML(w io.Writer, r *Report) error {
	data, err := json.Marshal(r.chartData())
	if err != nil {
		return fmt.Errorf("write report.html: %w", err)
	}
	passed, total := r.Counts()
	view := struct {
		*Report
		Passed, Total  int
		Duration       string
		StartText      string
		Data           template.JS
		UPlotJS, JS    template.JS
		UPlotCSS, CSS  template.CSS
		Offset         func(time.Time) string
		HasCharts      bool
		Label          func(name string, n int) string
		PrometheusRTO  func(c RecoveryCheck) string
		ReplicationLag func(c DataLossCheck) string
	}{
		Report: r, Passed: passed, Total: total,
		Duration:  r.End.Sub(r.Start).Round(time.Millisecond).String(),
		StartText: r.Start.UTC().Format(time.RFC3339),
		// json.Marshal escapes <, > and &: no value of the run can close
		// the script element or start markup.
		Data: template.JS(data), //nolint:gosec // G203: escaped above
		// The assets are the repository's own files, embedded.
		UPlotJS:   template.JS(uplotJS),    //nolint:gosec // G203: embedded asset
		JS:        template.JS(reportJS),   //nolint:gosec // G203: embedded asset
		UPlotCSS:  template.CSS(uplotCSS),  //nolint:gosec // G203: embedded asset
		CSS:       template.CSS(reportCSS), //nolint:gosec // G203: embedded asset
		Offset:    r.offset,
		HasCharts: r.Timeline != nil && len(r.Timeline.Streams) > 0,
		Label:     injectionLabel,
		PrometheusRTO: func(c RecoveryCheck) string {
			v := c.Prometheus
			if v == nil {
				return "—"
			}
			if !v.Recovered {
				return "unbounded at " + v.Resolution.String()
			}
			return v.RTO.String() + " at " + v.Resolution.String()
		},
		ReplicationLag: func(c DataLossCheck) string {
			if c.Loss == nil || c.Loss.ReplicationLag == nil {
				return "—"
			}
			return fmt.Sprintf("%g", *c.Loss.ReplicationLag)
		},
	}
	if err := htmlTemplate.Execute(w, view); err != nil {
		return fmt.Errorf("write report.html: %w", err)
	}
	return nil
}
