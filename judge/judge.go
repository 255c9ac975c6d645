package judge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/slo"
)

// JudgeAndWrite judges the run in dir and writes its reports into it:
// every format of reports.Formats, or those WithFormats names.
func JudgeAndWrite(ctx context.Context, dir string, opts ...JudgeOption) (*reports.Report, error) {
	rep, err := Judge(ctx, dir, opts...)
	if err != nil {
		return nil, err
	}
	var o judgeOptions
	for _, opt := range opts {
		opt(&o)
	}
	formats := o.formats
	if formats == nil {
		formats = reports.Formats()
	}
	return rep, WriteReports(dir, rep, formats)
}

// WriteReports writes rep into dir in each of formats, each to its file.
func WriteReports(dir string, rep *reports.Report, formats []reports.Format) error {
	for _, format := range formats {
		f, err := os.Create(filepath.Join(dir, format.File))
		if err != nil {
			return fmt.Errorf("write %s: %w", format.File, err)
		}
		werr := format.Write(f, rep)
		if err := errors.Join(werr, f.Close()); err != nil {
			return err
		}
	}
	return nil
}

// Judge rebuilds the report of the run in dir from the directory alone:
// the scenario as run, events.jsonl, the load results and the stored TSDB.
// A run that was killed is judged up to the moment it died.
//
// PromQL checks of a target with a Prometheus of its own are answered by
// that server the first time (it holds the data; the run's TSDB holds
// gameday's own metrics and what the run scraped itself) and its answers
// recorded in the run directory, which later judgments read; see
// WithPromQLFrom.
func Judge(ctx context.Context, dir string, opts ...JudgeOption) (*reports.Report, error) {
	var o judgeOptions
	for _, opt := range opts {
		opt(&o)
	}
	path := filepath.Join(dir, rundir.FileScenario)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("judge %s: %w", dir, err)
	}
	scale, err := rundir.ReadTimeScale(dir)
	if err != nil {
		return nil, fmt.Errorf("judge %s: %w", dir, err)
	}
	s, err := scenarios.LoadBytes(path, raw, scenarios.WithTimeScale(scale))
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, rundir.FileEvents))
	if err != nil {
		return nil, fmt.Errorf("judge %s: %w", dir, err)
	}
	events, err := rundir.ReadEvents(f)
	_ = f.Close() // read only
	if err != nil {
		return nil, fmt.Errorf("judge %s: %w", dir, err)
	}

	rep := &reports.Report{Scenario: s.Name, Description: s.Description, Proves: s.Proves, Runbook: s.Runbook, Dir: filepath.Clean(dir), ScenarioYAML: string(raw), Files: rawFiles(dir)}
	tl, started, loadFinished := timelineOf(events, rep)
	if !started {
		rep.Status = reports.StatusAborted
		if rep.Reason == "" {
			rep.Reason = "the run ended before the load started"
		}
		return rep, nil
	}
	resultsDir := filepath.Join(dir, rundir.DirResults)
	if !loadFinished {
		// A killed run is judged up to the moment it died: the last result
		// on disk, when it is later than the last event.
		last, err := lastResult(resultsDir, s)
		if err != nil {
			return nil, err
		}
		if last.After(tl.End) {
			tl.End = last
		}
	}
	rep.Start, rep.End = tl.Start, tl.End
	for _, p := range []scenarios.Phase{scenarios.PhaseWarmup, scenarios.PhaseFault, scenarios.PhaseBetween, scenarios.PhaseRecovery} {
		for _, w := range tl.Windows(p) {
			rep.Phases = append(rep.Phases, reports.Phase{Name: string(p), Start: w.Start, End: w.End})
		}
	}
	slices.SortStableFunc(rep.Phases, func(a, b reports.Phase) int { return a.Start.Compare(b.Start) })

	rtos := newRTOJudges(s.Checks.RTO, tl)
	slos := make([]*slo.Judge, len(s.Checks.SLOs))
	for i, spec := range s.Checks.SLOs {
		slos[i] = slo.NewJudge(spec, tl)
	}
	series := newTimeline(tl.Start, tl.End)
	summaries, err := readResults(resultsDir, s, tl, func(r slo.Request) {
		series.add(r)
		for _, j := range slos {
			j.Add(r)
		}
		for _, j := range rtos {
			j.add(r)
		}
	})
	if err != nil {
		return nil, err
	}
	rep.Load = summaries
	rep.Timeline = series.report()

	var query slo.QueryRangeFunc // nil: the run has no metrics
	if st, err := os.Stat(filepath.Join(dir, rundir.DirTSDB)); err == nil && st.IsDir() {
		stored, err := metrics.OpenStored(filepath.Join(dir, rundir.DirTSDB))
		if err != nil {
			return nil, fmt.Errorf("judge %s: %w", dir, err)
		}
		defer func() { _ = stored.Close() }() // opened read only
		query = stored.QueryRange
	}
	if pr := s.Target.Prometheus(); pr != nil {
		from := o.promQLFrom
		if from == "" {
			from = PromQLFromRecord
			if _, err := os.Stat(promqlRecordPath(dir)); err != nil {
				from = PromQLFromTarget
			}
		}
		switch from {
		case PromQLFromTarget:
			remote, err := remoteQuerier(s, pr, o.values, o.env)
			if err != nil {
				return nil, fmt.Errorf("judge %s: %w", dir, err)
			}
			q, done, err := recording(remote.QueryRange, promqlRecordPath(dir))
			if err != nil {
				return nil, fmt.Errorf("judge %s: %w", dir, err)
			}
			defer func() { _ = done() }() // each answer was written as it came
			query = q
		case PromQLFromRecord:
			q, err := recorded(promqlRecordPath(dir))
			if err != nil {
				return nil, fmt.Errorf("judge %s: %w", dir, err)
			}
			query = q
		}
	}
	for _, j := range slos {
		rep.Checks = append(rep.Checks, j.Verdict(ctx, query))
	}
	for _, j := range rtos {
		rep.RTO = append(rep.RTO, j.verdict(ctx, query, s.Metrics.ScrapeInterval))
	}
	if len(s.Checks.RPO) > 0 {
		writes, err := probeWrites(dir)
		if err != nil {
			return nil, fmt.Errorf("judge %s: %w", dir, err)
		}
		rep.RPO = rpoChecks(ctx, s.Checks.RPO, tl, writes, query, s.Metrics.ScrapeInterval)
	}
	missingInjections(rep, s, tl)
	if rep.Status == "" {
		rep.Status = reports.StatusPassed
		if !rep.AllPassed() {
			rep.Status = reports.StatusFailed
		}
	}
	return rep, nil
}

// missingInjections adds a failed RTO or RPO entry for each check whose
// fault was never injected: a check that judged nothing must not pass.
func missingInjections(rep *reports.Report, s *scenarios.Scenario, tl slo.Timeline) {
	injected := map[string]bool{}
	for _, sp := range tl.Faults {
		injected[sp.Fault] = true
	}
	const detail = "the fault was never injected in this run: nothing to judge"
	for _, c := range s.Checks.RTO {
		if !injected[c.Fault] {
			rep.RTO = append(rep.RTO, reports.RecoveryCheck{Name: c.Name, Fault: c.Fault, Condition: conditionText(c), Objective: c.Objective.String(), Detail: detail})
		}
	}
	for _, c := range s.Checks.RPO {
		if !injected[c.Fault] {
			rep.RPO = append(rep.RPO, reports.DataLossCheck{Name: c.Name, Fault: c.Fault, Probe: c.Probe, Objective: c.Objective.String(), Detail: detail})
		}
	}
}

// timelineOf reads the load window, the fault spans, the processes and
// how the run ended from its events, filling rep; started is false when
// the load never started.
func timelineOf(events []rundir.Event, rep *reports.Report) (tl slo.Timeline, started, loadFinished bool) {
	// A record is one fault on one target at one injection; a span is one
	// injection of a fault (a repeated fault has one per injection).
	type key struct {
		fault, target string
		at            time.Time
	}
	type spanKey struct {
		fault string
		n     int
	}
	records := map[key]*reports.Fault{}
	injection := map[key]spanKey{}
	injections := map[string]int{}
	var order []key
	procs := map[string]*reports.Process{}
	finished := false
	var last time.Time
	for _, e := range events {
		last = e.Time
		switch e.Type {
		case rundir.EventLoadStarted:
			tl.Start, started = e.Time, true
		case rundir.EventLoadFinished:
			tl.End, loadFinished = e.Time, true
		case rundir.EventFaultInjected, rundir.EventFaultRecover:
			if e.Type == rundir.EventFaultInjected && len(e.Records) > 0 {
				injections[e.Fault]++
			}
			for _, rec := range e.Records {
				k := key{rec.Fault, rec.Target, rec.InjectedAt}
				f, ok := records[k]
				if !ok {
					f = &reports.Fault{}
					records[k] = f
					order = append(order, k)
					injection[k] = spanKey{rec.Fault, max(injections[rec.Fault], 1)}
				}
				mergeRecord(f, rec)
			}
		case rundir.EventFaultError:
			rep.Faults = append(rep.Faults, reports.Fault{Name: e.Fault, Error: e.Message, InjectedAt: e.Time})
		case rundir.EventProcessStarted:
			p := processEntry(procs, e.Instance)
			p.Starts++
		case rundir.EventProcessExited:
			p := processEntry(procs, e.Instance)
			p.Exits++
		case rundir.EventSteadyState:
			if e.Attrs[rundir.AttrPassed] == "false" && rep.Status == "" {
				rep.Status, rep.Reason = reports.StatusAborted, "not in steady state before the first fault, so no fault was injected: "+e.Message
			}
		case rundir.EventAborted:
			if rep.Status == "" {
				rep.Status, rep.Reason = reports.StatusAborted, "abort condition tripped: "+e.Message
			}
		case rundir.EventInterrupted:
			rep.Status, rep.Reason = reports.StatusInterrupted, "interrupted: "+e.Message
		case rundir.EventRunError:
			if rep.Status == "" {
				rep.Status, rep.Reason = reports.StatusAborted, e.Message
			}
		case rundir.EventRunFinished:
			finished = true
		}
	}
	if started && !loadFinished {
		tl.End = last
		if rep.Status == "" {
			rep.Status, rep.Reason = reports.StatusAborted, "the run died before the load finished; judged up to its last event or result"
		}
	}
	if !finished && rep.Status == "" {
		rep.Status, rep.Reason = reports.StatusAborted, "the run died before it finished; judged up to its last event"
	}

	spans := map[spanKey]*slo.Span{}
	var keys []spanKey
	for _, k := range order {
		f := records[k]
		rep.Faults = append(rep.Faults, *f)
		sk := injection[k]
		sp, ok := spans[sk]
		if !ok {
			spans[sk] = &slo.Span{Fault: f.Name, Start: f.InjectedAt, End: f.RecoveredAt}
			keys = append(keys, sk)
			continue
		}
		if f.InjectedAt.Before(sp.Start) {
			sp.Start = f.InjectedAt
		}
		if f.RecoveredAt.IsZero() || sp.End.IsZero() {
			sp.End = time.Time{}
		} else if f.RecoveredAt.After(sp.End) {
			sp.End = f.RecoveredAt
		}
	}
	for _, k := range keys {
		tl.Faults = append(tl.Faults, *spans[k])
	}
	slices.SortStableFunc(rep.Faults, func(a, b reports.Fault) int { return a.InjectedAt.Compare(b.InjectedAt) })
	for _, name := range slices.Sorted(maps.Keys(procs)) {
		rep.Processes = append(rep.Processes, *procs[name])
	}
	return tl, started, loadFinished
}

func processEntry(m map[string]*reports.Process, instance string) *reports.Process {
	p, ok := m[instance]
	if !ok {
		p = &reports.Process{Instance: instance}
		m[instance] = p
	}
	return p
}

// mergeRecord folds a record, as injected or as recovered, into f.
func mergeRecord(f *reports.Fault, rec chaos.Record) {
	f.Name, f.Kind, f.Target = rec.Fault, rec.Kind, rec.Target
	if rec.Action != "" {
		f.Action = rec.Action
	}
	if !rec.InjectedAt.IsZero() {
		f.InjectedAt = rec.InjectedAt
	}
	if !rec.RecoveredAt.IsZero() {
		f.RecoveredAt = rec.RecoveredAt
	}
	if rec.Output != "" {
		f.Output = rec.Output
	}
	if len(rec.Steps) > 0 {
		// The recovered record's steps are the whole timeline; an
		// injected one's its beginning.
		f.Steps = make([]reports.Step, len(rec.Steps))
		for i, st := range rec.Steps {
			f.Steps[i] = reports.Step{Name: st.Name, At: st.At, Detail: st.Detail}
		}
	}
}

// readResults streams every result of the run's streams through each, as
// a request of the SLIs, and sums them up per stream and route. Nothing
// holds every result: memory grows with the routes, not the results.
func readResults(dir string, s *scenarios.Scenario, tl slo.Timeline, each func(slo.Request)) ([]reports.StreamSummary, error) {
	type acc struct {
		sum    reports.StreamSummary
		lat    *slo.Latencies
		errors map[string]int
	}
	accs := map[[2]string]*acc{}
	for _, st := range s.Load {
		path := filepath.Join(dir, st.Name+".gob")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		err := load.ReadResults(path, func(stream, route string, r *vegeta.Result) error {
			outcome := load.Outcome(r)
			k := [2]string{stream, route}
			a, found := accs[k]
			if !found {
				a = &acc{sum: reports.StreamSummary{Stream: stream, Route: route, Codes: map[string]int{}}, lat: slo.NewLatencies(), errors: map[string]int{}}
				accs[k] = a
			}
			if outcome == load.OutcomeDropped {
				// Due but never sent, every worker busy: not a request, so
				// in no SLI of requests but dropped_ratio.
				a.sum.Dropped++
				each(slo.Request{Stream: stream, Route: route, Start: r.Timestamp, Dropped: true})
				return nil
			}
			ok := outcome == load.OutcomeSuccess
			canceled := outcome == load.OutcomeCanceled
			each(slo.Request{Stream: stream, Route: route, Start: r.Timestamp, Latency: r.Latency, OK: ok, Canceled: canceled})
			a.sum.Requests++
			if canceled {
				// Cut by gameday, not answered by the target: counted
				// apart, in no ratio.
				a.sum.Canceled++
				return nil
			}
			a.sum.Codes[strconv.Itoa(int(r.Code))]++
			if ok {
				a.sum.Successes++
				a.lat.Add(r.Latency)
			}
			if r.Error != "" && len(a.errors) < maxErrorKinds {
				a.errors[r.Error]++
			} else if r.Error != "" {
				if _, seen := a.errors[r.Error]; seen {
					a.errors[r.Error]++
				}
			}
			a.sum.Max = max(a.sum.Max, r.Latency)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read results of stream %q: %w", st.Name, err)
		}
	}

	durations := map[string]time.Duration{}
	for _, st := range s.Load {
		begin := tl.Start.Add(st.Start)
		end := begin.Add(st.Duration)
		if end.After(tl.End) {
			end = tl.End
		}
		durations[st.Name] = max(end.Sub(begin), 0)
	}
	var out []reports.StreamSummary
	for _, a := range accs {
		sum := a.sum
		if judged := sum.Requests - sum.Canceled; judged > 0 {
			sum.SuccessRatio = float64(sum.Successes) / float64(judged)
		}
		if d := durations[sum.Stream]; d > 0 {
			sum.Throughput = float64(sum.Successes) / d.Seconds()
		}
		sum.P50 = a.lat.Quantile(0.50)
		sum.P90 = a.lat.Quantile(0.90)
		sum.P99 = a.lat.Quantile(0.99)
		for msg, n := range a.errors {
			sum.Errors = append(sum.Errors, reports.ErrorCount{Error: msg, Count: n})
		}
		slices.SortFunc(sum.Errors, func(a, b reports.ErrorCount) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Error, b.Error))
		})
		if len(sum.Errors) > 5 {
			sum.Errors = sum.Errors[:5]
		}
		out = append(out, sum)
	}
	slices.SortFunc(out, func(a, b reports.StreamSummary) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Route, b.Route))
	})
	return out, nil
}

// maxErrorKinds caps the distinct error messages counted per route: error
// texts may carry a port or an address each, and must not make the judge's
// memory grow with the results.
const maxErrorKinds = 1000

// lastResult is when the last result of the run's streams completed; zero
// when there is none.
func lastResult(dir string, s *scenarios.Scenario) (time.Time, error) {
	var last time.Time
	for _, st := range s.Load {
		path := filepath.Join(dir, st.Name+".gob")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		err := load.ReadResults(path, func(_, _ string, r *vegeta.Result) error {
			if load.Dropped(r) {
				return nil // never sent: no result completed
			}
			if end := r.Timestamp.Add(r.Latency); end.After(last) {
				last = end
			}
			return nil
		})
		if err != nil {
			return time.Time{}, fmt.Errorf("read results of stream %q: %w", st.Name, err)
		}
	}
	return last, nil
}

// JudgeOption configures Judge and JudgeAndWrite.
type JudgeOption func(*judgeOptions)

type judgeOptions struct {
	formats    []reports.Format
	values     *scenarios.Values
	env        scenarios.Environment
	promQLFrom string
}

// WithJudgeEnvironment is where the env and file values of the scenario's
// templates are read when WithValues gives none (the headers of the
// target's Prometheus); without either, such values are missing.
func WithJudgeEnvironment(env scenarios.Environment) JudgeOption {
	return func(o *judgeOptions) { o.env = env }
}

// Where PromQL checks of a target with a Prometheus of its own are
// answered from; see WithPromQLFrom. A target without one is always judged
// from the run's TSDB.
const (
	// PromQLFromRecord: what the target's Prometheus answered when the run
	// was first judged, recorded in the run directory (the default when the
	// record exists).
	PromQLFromRecord = "record"
	// PromQLFromTarget: ask the target's Prometheus again, and record its
	// answers (the default when there is no record).
	PromQLFromTarget = "target"
	// PromQLFromRun: the run's TSDB (what its embedded Prometheus scraped).
	PromQLFromRun = "run"
)

// WithFormats names the report formats JudgeAndWrite writes; by default
// every one of reports.Formats.
func WithFormats(formats []reports.Format) JudgeOption {
	return func(o *judgeOptions) { o.formats = formats }
}

// WithValues gives the env and file values of the scenario's templates (the
// headers of the target's Prometheus); without it they are read from the
// process's environment when needed.
func WithValues(v *scenarios.Values) JudgeOption { return func(o *judgeOptions) { o.values = v } }

// WithPromQLFrom says where PromQL checks are answered from:
// PromQLFromRecord, PromQLFromTarget or PromQLFromRun; by default the
// record when there is one, else the target.
func WithPromQLFrom(source string) JudgeOption {
	return func(o *judgeOptions) { o.promQLFrom = source }
}

// remoteQuerier returns a client of the target's Prometheus, with its
// headers.
func remoteQuerier(s *scenarios.Scenario, pr *scenarios.PrometheusServer, vals *scenarios.Values, env scenarios.Environment) (*metrics.Remote, error) {
	if len(pr.Header) > 0 && vals == nil {
		var err error
		if vals, err = scenarios.Resolve(s, env); err != nil {
			return nil, err
		}
	}
	h := http.Header{}
	for k, v := range pr.Header {
		tm, err := template.New(k).Option("missingkey=error").Funcs(vals.Funcs()).Parse(v)
		if err != nil {
			return nil, fmt.Errorf("prometheus header %s: %w", k, err)
		}
		var b strings.Builder
		if err := tm.Execute(&b, nil); err != nil {
			return nil, fmt.Errorf("prometheus header %s: %w", k, err)
		}
		h.Set(k, b.String())
	}
	return metrics.NewRemote(pr.URL, metrics.WithHeader(h))
}
