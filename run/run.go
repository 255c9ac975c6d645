// Package run is gameday's orchestrator: it starts the target, drives the
// load, injects and reverts faults on the timeline, collects metrics, and
// leaves everything the run saw in a run directory, which Judge turns into
// verdicts and reports.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/judge"
	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target"
)

// Defaults of a run.
const (
	// DefaultOutDir is where run directories are created.
	DefaultOutDir = "runs"
	// DefaultTeardownTimeout bounds reverting faults and stopping the target
	// after the run, whatever ended it.
	DefaultTeardownTimeout = 30 * time.Second
	// scrapeReadyTimeout bounds the wait for the first scrape of every target.
	scrapeReadyTimeout = 15 * time.Second
)

// Option configures Run.
type Option func(*options)

type options struct {
	outDir    string
	progress  func(rundir.Event)
	logger    *slog.Logger
	teardown  time.Duration
	timeScale float64 // 0: 1
	refapp    string
	// refappArgs come before the reference backend's own arguments (see
	// local.Refapp.BinaryArgs).
	refappArgs []string
	guard      []string
	env        scenarios.Environment
	// live is told the load's status every liveEvery; nil: never.
	live      func(LiveStatus)
	liveEvery time.Duration
}

// WithEnvironment is where the env and file values of the scenario's
// templates are read, when the scenario was loaded without them (see
// scenarios.WithEnvironment); without either, such values are missing.
func WithEnvironment(env scenarios.Environment) Option { return func(o *options) { o.env = env } }

// WithTimeScale records that the scenario was loaded with
// scenarios.WithTimeScale(f), so that the run directory is judged again
// at the same scale.
func WithTimeScale(f float64) Option { return func(o *options) { o.timeScale = f } }

// WithOutDir sets the folder in which the run directory is created.
func WithOutDir(dir string) Option { return func(o *options) { o.outDir = dir } }

// WithProgress sets a function that sees every event as it happens; it is
// called from several goroutines, one at a time.
func WithProgress(fn func(rundir.Event)) Option { return func(o *options) { o.progress = fn } }

// WithLogger sets the logger of gameday's own diagnostics.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithTeardownTimeout bounds reverting faults and stopping the target after
// the run, whatever ended it (default DefaultTeardownTimeout): every call to
// a fault's backend is bounded by it, and what could not be reverted in
// time is named in the error.
func WithTeardownTimeout(d time.Duration) Option { return func(o *options) { o.teardown = d } }

// WithRefappBinary sets the reference backend's executable when the scenario
// names none.
func WithRefappBinary(path string, args ...string) Option {
	return func(o *options) { o.refapp, o.refappArgs = path, args }
}

// WithGuard starts, for a run whose target has a Toxiproxy of its own, a
// guard process that outlives a SIGKILL of the run and undoes what the
// run's journal says is still applied: command is the executable and its
// arguments, to which the run directory is appended (gameday runs itself:
// "gameday __guard DIR"). Without it no guard runs.
func WithGuard(command ...string) Option { return func(o *options) { o.guard = command } }

// lookupEnv reads a variable of the environment the run was given; empty
// when it was given none.
func (o options) lookupEnv(name string) string {
	if o.env.LookupEnv == nil {
		return ""
	}
	v, _ := o.env.LookupEnv(name)
	return v
}

// Result is a finished run.
type Result struct {
	// Dir is the run directory.
	Dir    string
	Report *reports.Report
}

// Run plays scenario s, whose source is raw, and judges it. It returns the
// result whenever a run directory was made, and an error carrying an exit
// code when the run did not pass: *ChecksFailedError, *AbortedError (which
// includes an interrupt through ctx). Every fault is reverted and every
// process stopped before Run returns, whatever ended the run.
func Run(ctx context.Context, s *scenarios.Scenario, raw []byte, opts ...Option) (*Result, error) {
	o := options{outDir: DefaultOutDir, progress: func(rundir.Event) {}, logger: slog.New(slog.DiscardHandler), teardown: DefaultTeardownTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	now := time.Now()
	runID := rundir.NewRunID(now)
	vals := s.Values()
	if vals == nil {
		var err error
		if vals, err = scenarios.Resolve(s, o.env); err != nil {
			return nil, err
		}
	}
	dir, err := createRunDir(o.outDir, s.Name, now)
	if err != nil {
		return nil, &AbortedError{Reason: "create run directory", Err: err}
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.FileScenario), raw, 0o644); err != nil {
		return nil, &AbortedError{Reason: "write scenario", Err: err}
	}
	if o.timeScale != 0 {
		if err := rundir.WriteTimeScale(dir, o.timeScale); err != nil {
			return nil, &AbortedError{Reason: "write scenario", Err: err}
		}
	}
	redact := newRedactor(vals.Secrets())
	events, err := createEventLog(filepath.Join(dir, rundir.FileEvents), o.progress, redact)
	if err != nil {
		return nil, &AbortedError{Reason: "create event log", Err: err}
	}
	r := &runner{s: s, dir: dir, runID: runID, opts: o, events: events, vals: vals, redact: redact}
	// A panic of the progress listener, on whichever goroutine emitted the
	// event, aborts the run through runCtx; everything is still reverted.
	runCtx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	events.onPanic = func(p any) {
		abort(&AbortedError{Reason: "internal error", Err: fmt.Errorf("panic: %v", p)})
	}
	events.Emit(rundir.Event{Type: rundir.EventRunStarted, Attrs: map[string]string{"scenario": s.Name, "dir": dir, "runID": runID}})
	runErr := r.execute(runCtx)
	if runErr == nil && ctx.Err() == nil && runCtx.Err() != nil {
		runErr = context.Cause(runCtx)
	}
	switch {
	case runErr == nil:
	case ctx.Err() == nil && runCtx.Err() != nil:
		runErr = errors.Join(context.Cause(runCtx), r.teardownErr)
		events.Emit(rundir.Event{Type: rundir.EventRunError, Message: runErr.Error()})
	case ctx.Err() != nil:
		events.Emit(rundir.Event{Type: rundir.EventInterrupted, Message: context.Cause(ctx).Error()})
		runErr = &AbortedError{Reason: "interrupted", Err: context.Cause(ctx)}
		if r.teardownErr != nil {
			runErr = errors.Join(runErr, r.teardownErr)
		}
	default:
		events.Emit(rundir.Event{Type: rundir.EventRunError, Message: runErr.Error()})
		var ab *AbortedError
		if !errors.As(runErr, &ab) {
			runErr = &AbortedError{Reason: "the run failed", Err: runErr}
		}
	}
	events.Emit(rundir.Event{Type: rundir.EventRunFinished})
	if err := events.Close(); err != nil {
		runErr = errors.Join(runErr, &AbortedError{Reason: "event log", Err: err})
	}

	if r.running != nil && r.running.Prometheus != nil && ctx.Err() == nil {
		// The target's Prometheus has the last samples of the load only
		// after its next scrape.
		sleepUntil(ctx, time.Now().Add(r.remoteSettle()))
	}
	// Judge from the run directory alone, as `gameday report` does.
	report, jerr := judge.JudgeAndWrite(context.WithoutCancel(ctx), dir, judge.WithValues(vals))
	runErr, jerr = redact.err(runErr), redact.err(jerr)
	res := &Result{Dir: dir, Report: report}
	if runErr != nil {
		return res, errors.Join(runErr, jerr)
	}
	if jerr != nil {
		return res, &AbortedError{Reason: "judge the run", Err: jerr}
	}
	if failed := report.FailedNames(); len(failed) > 0 {
		return res, &ChecksFailedError{Failed: failed}
	}
	return res, nil
}

// createRunDir makes DIR/<UTC timestamp>-<name>, adding a suffix when two
// runs start within the same second.
func createRunDir(out, name string, now time.Time) (string, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	base := filepath.Join(out, now.UTC().Format("20060102T150405Z")+"-"+name)
	dir := base
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", err
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

// runner is one run in progress.
type runner struct {
	s      *scenarios.Scenario
	dir    string
	runID  string
	opts   options
	events *eventLog
	vals   *scenarios.Values
	redact *redactor

	target   Target
	running  *target.Running
	journal  *rundir.Journal
	guard    *guard
	lease    *rundir.Lease
	prom     *metrics.Embedded
	own      *http.Server
	results  []*load.ResultsFile
	probeLog *rundir.ProbeLog // nil without write probes
	sessions map[string]*load.Sessions

	mu       sync.Mutex // guards faults, logFiles and lastRecovered
	faults   []chaos.Fault
	logFiles []io.WriteCloser // the target's process logs, closed at teardown
	// lastRecovered is when a fault was last recovered: the write probes'
	// settle period starts from it.
	lastRecovered time.Time

	// teardownErr is what teardown could not do, kept whatever else ended
	// the run.
	teardownErr error
}

// execute runs the live part: target, metrics, timeline. Whatever ends it —
// success, error, panic, cancelled ctx — it reverts every fault and stops
// everything it started before it returns.
func (r *runner) execute(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &AbortedError{Reason: "internal error", Err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
		}
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.teardown)
		defer cancel()
		if terr := r.teardown(tctx); terr != nil {
			r.teardownErr = &AbortedError{Reason: "teardown", Err: terr}
			r.events.Emit(rundir.Event{Type: rundir.EventRunError, Message: r.teardownErr.Error()})
			err = errors.Join(err, r.teardownErr)
		}
	}()
	if err := r.startTarget(ctx); err != nil {
		return &AbortedError{Reason: "start the target", Err: err}
	}
	collector, err := r.startMetrics(ctx)
	if err != nil {
		return &AbortedError{Reason: "start metrics", Err: err}
	}
	faults, err := r.buildFaults()
	if err != nil {
		return &AbortedError{Reason: "prepare faults", Err: err}
	}
	defer r.closeSessions()
	if err := r.startSessions(ctx); err != nil {
		return &AbortedError{Reason: "set up sessions", Err: err}
	}
	return r.timeline(ctx, collector, faults)
}

func (r *runner) startTarget(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(r.dir, rundir.DirLogs), 0o755); err != nil {
		return err
	}
	lease, err := rundir.TakeLease(r.runID)
	if err != nil {
		return err
	}
	r.lease = lease
	if r.journal, err = rundir.CreateJournal(r.dir); err != nil {
		return err
	}
	if r.needsGuard() && len(r.opts.guard) > 0 {
		if r.guard, err = startGuard(r.opts.guard, r.dir, r.runID); err != nil {
			return fmt.Errorf("start the guard: %w", err)
		}
		r.events.Emit(rundir.Event{Type: rundir.EventGuardStarted, PID: r.guard.cmd.Process.Pid})
	}
	t, err := newTarget(r.s, targetEnv{
		runID:   r.runID,
		dir:     r.dir,
		funcs:   r.vals.Funcs(),
		journal: r.journal,
		live:    rundir.Live,
		logs: func(instance string) io.Writer {
			f, err := os.OpenFile(filepath.Join(r.dir, rundir.DirLogs, instance+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return io.Discard
			}
			w := r.redact.writer(f) // a process may print what its env holds
			r.mu.Lock()
			r.logFiles = append(r.logFiles, w)
			r.mu.Unlock()
			return w
		},
		onEvent: func(e target.Event) {
			r.events.Emit(rundir.Event{Time: e.Time, Type: e.Type, Instance: e.Instance, PID: e.PID, Message: e.Detail})
		},
		refapp:     r.opts.refapp,
		refappArgs: r.opts.refappArgs,
		kubeconfig: r.opts.lookupEnv("KUBECONFIG"),
	})
	if err != nil {
		return err
	}
	r.target = t
	running, err := t.Start(ctx)
	if err != nil {
		return err
	}
	r.running = running
	r.events.Emit(rundir.Event{Type: rundir.EventTargetReady, Attrs: running.Attrs})
	return nil
}

// needsGuard reports whether the target has a Toxiproxy server that
// outlives gameday, whose changes a guard must undo after a SIGKILL.
func (r *runner) needsGuard() bool { return r.s.Target.OutlivingToxiproxy() }

// remoteSettle is how long the run waits after the load for the target's
// Prometheus to scrape its last samples.
func (r *runner) remoteSettle() time.Duration {
	every := r.s.Metrics.ScrapeInterval
	if p := r.s.Target.Prometheus(); p != nil && p.ScrapeInterval > 0 {
		every = p.ScrapeInterval
	}
	return every + every/2
}

// startMetrics serves gameday's own client-side metrics on loopback and
// starts the embedded Prometheus scraping them and every target process.
func (r *runner) startMetrics(ctx context.Context) (*load.Collector, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	collector, err := load.NewCollector(reg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for own metrics: %w", err)
	}
	r.own = &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.own.Serve(ln) }()

	prom, err := metrics.OpenEmbedded(filepath.Join(r.dir, rundir.DirTSDB),
		metrics.WithScrapeInterval(r.s.Metrics.ScrapeInterval), metrics.WithLogger(r.opts.logger))
	if err != nil {
		return nil, err
	}
	r.prom = prom
	targets := []metrics.Target{{URL: "http://" + ln.Addr().String() + "/metrics", Labels: map[string]string{"role": "gameday", "instance": "gameday"}}}
	targets = append(targets, r.running.Scrape...)
	if err := prom.Start(ctx, targets); err != nil {
		return nil, err
	}
	// Wait for a first scrape of every target, so that the warmup phase has data.
	wctx, cancel := context.WithTimeout(ctx, scrapeReadyTimeout)
	defer cancel()
	if err := awaitScrapes(wctx, prom, len(targets), r.s.Metrics.ScrapeInterval); err != nil {
		return nil, err
	}
	return collector, nil
}

// querier answers the scenario's PromQL while the run plays: the target's
// own Prometheus when it has one, else the embedded one; nil before
// metrics start.
func (r *runner) querier() metrics.Querier {
	if r.running != nil && r.running.Prometheus != nil {
		return r.running.Prometheus
	}
	if r.prom != nil {
		return r.prom
	}
	return nil
}

// awaitScrapes polls until n targets have been scraped successfully.
func awaitScrapes(ctx context.Context, q metrics.Querier, n int, every time.Duration) error {
	tick := time.NewTicker(min(every/4, 100*time.Millisecond))
	defer tick.Stop()
	for {
		series, err := q.Query(ctx, "count(up == 1)", time.Now())
		if err == nil && len(series) == 1 && len(series[0].Points) == 1 && int(series[0].Points[0].V) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the first scrape of %d targets: %w", n, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// buildFaults turns the scenario's faults into chaos faults, one per entry.
func (r *runner) buildFaults() ([]chaos.Fault, error) {
	env := faultEnv{runID: r.runID, running: r.running, s: r.s, vals: r.vals}
	out := make([]chaos.Fault, len(r.s.Faults))
	for i, f := range r.s.Faults {
		cf, err := newFault(f, env)
		if err != nil {
			return nil, err
		}
		out[i] = cf
	}
	return out, nil
}

// timeline runs the load streams, the write probes and the faults from
// t0, with the steady-state check before the first fault and the abort
// guard throughout, and returns when the load has ended, every fault's
// own schedule is over and the probes have read their writes back.
//
//	t0 ── load and probes ─────────────────────────────── end of load ── settle ── read-back
//	 │        steady state? ─▶ faults (held until it holds)      │
//	 └─ abort guard, every second ────────────────────────────────┘
//
// A failed steady state or a tripped abort condition stops the load at
// once; an abort first reverts every fault. Either is returned as an
// AbortedError (exit 3), and the run is judged on what it has.
func (r *runner) timeline(ctx context.Context, collector *load.Collector, faults []chaos.Fault) error {
	if err := os.MkdirAll(filepath.Join(r.dir, rundir.DirResults), 0o755); err != nil {
		return err
	}
	probes, err := r.buildProbes()
	if err != nil {
		return err
	}
	var extra []load.Sink // live taps on every stream's results
	steady := r.steadySLOs()
	var warm *warmupRecorder
	if len(steady) > 0 && len(faults) > 0 {
		warm = &warmupRecorder{}
		extra = append(extra, warm)
	}
	var live *liveTap
	if r.opts.live != nil {
		live = newLiveTap()
		extra = append(extra, live)
	}
	aborts := r.buildAborts()
	for _, c := range aborts {
		if c.window != nil {
			extra = append(extra, c.window)
		}
	}
	var sinks [][]load.Sink
	for _, st := range r.s.Load {
		f, err := load.CreateResultsFile(filepath.Join(r.dir, rundir.DirResults, st.Name+".gob"), load.WithRedactor(r.redact.replacer()))
		if err != nil {
			return err
		}
		r.results = append(r.results, f)
		sinks = append(sinks, append([]load.Sink{f, collector}, extra...))
	}

	loadCtx, stopLoad := context.WithCancelCause(ctx)
	defer stopLoad(nil)
	faultCtx, stopFaults := context.WithCancel(loadCtx)
	defer stopFaults()
	// The probes write and the checks watch while the load plays.
	liveCtx, stopLive := context.WithCancel(loadCtx)
	defer stopLive()
	var haltOnce sync.Once
	var haltErr error // the steady-state failure or the abort that stopped the run; read after every goroutine ended
	halt := func(err error) {
		haltOnce.Do(func() {
			haltErr = err
			stopLoad(err)
		})
	}
	// gate holds the first injection of every fault until the steady
	// state holds.
	gate := make(chan struct{})
	if warm == nil {
		close(gate)
	}

	t0 := time.Now()
	r.events.Emit(rundir.Event{Time: t0, Type: rundir.EventLoadStarted})
	var streams, faultsWG, probesWG, checks sync.WaitGroup
	errs := make(chan error, len(r.s.Load)+2*len(faults)+2*len(probes)+2) // every goroutine once, and each fault's revert before the read-back
	goSafe := func(wg *sync.WaitGroup, fn func() error) {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					errs <- fmt.Errorf("panic: %v\n%s", p, debug.Stack())
					stopLoad(errors.New("internal error"))
				}
			}()
			if err := fn(); err != nil {
				errs <- err
				stopLoad(err)
			}
		})
	}
	for i, st := range r.s.Load {
		goSafe(&streams, func() error { return r.stream(loadCtx, t0, st, sinks[i]) })
	}
	for _, p := range probes {
		goSafe(&probesWG, func() error { return r.runProbe(liveCtx, p) })
	}
	for i, f := range faults {
		goSafe(&faultsWG, func() error { return r.fault(faultCtx, t0, r.s.Faults[i], f, gate) })
	}
	if live != nil {
		goSafe(&checks, func() error {
			live.reportLive(liveCtx, t0, r.loadTotal(), r.opts.liveEvery, r.opts.live)
			return nil
		})
	}
	if warm != nil {
		goSafe(&checks, func() error {
			if !sleepUntil(liveCtx, t0.Add(firstFaultAt(r.s.Faults))) {
				return nil // the load ended first: no fault to hold
			}
			if err := r.checkSteadyState(liveCtx, t0, time.Now(), steady, warm); err != nil {
				halt(err)
				return nil
			}
			close(gate)
			return nil
		})
	}
	if len(aborts) > 0 {
		goSafe(&checks, func() error {
			err := r.guardAborts(liveCtx, t0, aborts)
			if err == nil {
				return nil
			}
			// Every fault recovered at once: no fault starts after the
			// stop, those in the middle of a call end it, then every one
			// is reverted, as teardown would.
			halt(err)
			faultsWG.Wait()
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.teardown)
			defer cancel()
			if ferr := errors.Join(r.revertFaults(tctx, "reverted on abort")...); ferr != nil {
				return ferr
			}
			return nil
		})
	}
	streams.Wait()
	r.events.Emit(rundir.Event{Type: rundir.EventLoadFinished})
	loadEnd := time.Now()
	stopLive()
	probesWG.Wait()
	stopFaults()
	faultsWG.Wait()
	checks.Wait()
	if len(probes) > 0 {
		// The read-back needs every fault gone: those that last until the
		// end of the load are reverted now rather than at teardown.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.teardown)
		for _, err := range r.revertFaults(tctx, "reverted at the end of the load, before the write probes' read-back") {
			if err != nil {
				errs <- err
			}
		}
		cancel()
		r.mu.Lock()
		from := loadEnd
		if r.lastRecovered.After(from) {
			from = r.lastRecovered
		}
		r.mu.Unlock()
		var verify sync.WaitGroup
		for _, p := range probes {
			goSafe(&verify, func() error { return r.verifyProbe(ctx, p, from) })
		}
		verify.Wait()
	}
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if haltErr != nil {
		all = append([]error{haltErr}, all...)
	}
	if err := errors.Join(all...); err != nil {
		return err
	}
	return context.Cause(ctx)
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func (r *runner) stream(ctx context.Context, t0 time.Time, st scenarios.Stream, sinks []load.Sink) error {
	pacer, err := load.PacerOf(st.Profile, st.Duration)
	if err != nil {
		return fmt.Errorf("stream %q: %w", st.Name, err)
	}
	if !sleepUntil(ctx, t0.Add(st.Start)) {
		return nil
	}
	reqs := make([]load.Request, len(st.Requests))
	for i, q := range st.Requests {
		body, err := r.requestBody(q)
		if err != nil {
			return fmt.Errorf("stream %q: %w", st.Name, err)
		}
		reqs[i] = load.Request{Name: q.Name, Weight: q.Weight, Method: q.Method, URL: q.URL, Body: body, Header: q.Header}
	}
	ls := load.Stream{
		Name:       st.Name,
		Rate:       pacer,
		Duration:   st.Duration,
		Requests:   reqs,
		Timeout:    st.Timeout,
		MaxWorkers: st.MaxWorkers,
		Token:      r.running.Token,
		URLs:       r.running.URLs,
		Header:     r.running.Header,
		Funcs:      r.vals.Funcs(),
		RunID:      r.runID,
		RootCAs:    r.running.RootCAs,
	}
	seed := r.streamInputs(st, &ls)
	if ls.Session != nil {
		sinks = append(sinks[:len(sinks):len(sinks)], ls.Session) // a 401 re-logs its user
	}
	r.events.Emit(rundir.Event{Type: rundir.EventStreamStarted, Stream: st.Name, Attrs: map[string]string{"seed": seed}})
	sum, err := load.Run(ctx, ls, r.running.Base, sinks...)
	r.events.Emit(rundir.Event{Type: rundir.EventStreamEnded, Stream: st.Name, Message: fmt.Sprintf("%+v", sum)})
	if err != nil {
		return fmt.Errorf("stream %q: %w", st.Name, err)
	}
	return nil
}

// fault runs one fault's schedule: inject at At (and again every
// Repeat.Every, Repeat.Count times); each time recover after For, or at once
// when the fault ends by itself (Recover then waits for that end: a kill
// until its victims are back); a fault with neither stays until the load
// ends. The first injection waits for gate to close (the steady state
// held). Whatever it leaves applied, teardown reverts.
func (r *runner) fault(ctx context.Context, t0 time.Time, spec scenarios.Fault, f chaos.Fault, gate <-chan struct{}) error {
	n, every := 1, time.Duration(0)
	if spec.Repeat != nil {
		n, every = spec.Repeat.Count, spec.Repeat.Every
	}
	r.mu.Lock()
	r.faults = append(r.faults, f)
	r.mu.Unlock()
	for i := range n {
		at := spec.At + time.Duration(i)*every
		if !sleepUntil(ctx, t0.Add(at)) {
			return nil
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		injected := time.Now()
		recs, err := f.Inject(ctx)
		if len(recs) > 0 || ctx.Err() == nil {
			r.events.Emit(rundir.Event{Type: rundir.EventFaultInjected, Fault: spec.Name, Records: recs})
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil // the run is ending: not a failure of the fault
			}
			r.events.Emit(rundir.Event{Type: rundir.EventFaultError, Fault: spec.Name, Message: err.Error()})
			return fmt.Errorf("inject fault %q: %w", spec.Name, err)
		}
		switch {
		case spec.For > 0:
			// For is the fault's duration: from when it was injected, even
			// when that was late.
			if !sleepUntil(ctx, injected.Add(spec.For)) {
				return nil
			}
		case endsByItself(f):
			// Recover waits for the end.
		default:
			<-ctx.Done()
			return nil
		}
		recs, err = f.Recover(ctx)
		r.recovered(spec.Name, recs, "")
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, chaos.ErrNotRecovered) {
				// The target did not recover: what the game day is for
				// finding out (its RTO is unbounded), not a failure of
				// the run. The schedule goes on.
				r.events.Emit(rundir.Event{Type: rundir.EventFaultError, Fault: spec.Name, Message: err.Error()})
				continue
			}
			r.events.Emit(rundir.Event{Type: rundir.EventFaultError, Fault: spec.Name, Message: err.Error()})
			return fmt.Errorf("recover fault %q: %w", spec.Name, err)
		}
	}
	return nil
}

// teardown reverts every fault still applied, stops scraping, the target
// and the metrics server, and closes the results files. It runs once, on
// every exit path of execute.
func (r *runner) teardown(ctx context.Context) error {
	errs := r.revertFaults(ctx, "reverted at teardown")
	r.mu.Lock()
	r.faults = nil
	r.mu.Unlock()
	if r.prom != nil {
		r.prom.Stop()
	}
	if r.target != nil {
		if err := r.target.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop target: %w", err))
		}
	}
	r.mu.Lock()
	for _, f := range r.logFiles {
		_ = f.Close()
	}
	r.logFiles = nil
	r.mu.Unlock()
	var pending []chaos.Effect
	if r.journal != nil {
		var err error
		pending, err = rundir.Pending(r.dir)
		if err == nil && len(pending) > 0 {
			errs = append(errs, &NotRevertedError{Effects: pending})
		}
		errs = append(errs, r.journal.Close())
	}
	if r.guard != nil {
		if len(pending) > 0 {
			// The guard keeps trying on its own, after the run is gone.
			errs = append(errs, r.guard.handOver())
		} else {
			errs = append(errs, r.guard.release())
		}
	}
	if r.lease != nil {
		errs = append(errs, r.lease.Release())
	}
	if r.own != nil {
		_ = r.own.Close()
	}
	if r.prom != nil {
		if err := r.prom.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close metrics: %w", err))
		}
	}
	for _, f := range r.results {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if r.probeLog != nil {
		if err := r.probeLog.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// revertFaults recovers every fault of the run that may still be applied,
// in parallel, each bounded by ctx; recovering one already recovered is
// harmless. It is teardown's, and the abort's and the probes' before it.
func (r *runner) revertFaults(ctx context.Context, why string) []error {
	r.mu.Lock()
	faults := slices.Clone(r.faults)
	r.mu.Unlock()
	ferrs := make([]error, len(faults))
	var wg sync.WaitGroup
	for i, f := range faults {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					ferrs[i] = fmt.Errorf("revert fault %q: panic: %v", f.Name(), p)
				}
			}()
			recs, err := f.Recover(ctx)
			r.recovered(f.Name(), recs, why)
			if err != nil {
				r.events.Emit(rundir.Event{Type: rundir.EventFaultError, Fault: f.Name(), Message: "revert: " + err.Error()})
				ferrs[i] = fmt.Errorf("revert fault %q: %w", f.Name(), err)
			}
		})
	}
	wg.Wait()
	return ferrs
}

// recovered emits the records of a recovery, if any, and notes when it was.
func (r *runner) recovered(fault string, recs []chaos.Record, why string) {
	if len(recs) == 0 {
		return
	}
	r.events.Emit(rundir.Event{Type: rundir.EventFaultRecover, Fault: fault, Records: recs, Message: why})
	r.mu.Lock()
	r.lastRecovered = time.Now()
	r.mu.Unlock()
}
