package run

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/gameday/gameday/chaos/network"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
)

// lab is a target for a whole run in-process: an HTTP service behind a
// real embedded Toxiproxy, whose link "edge" the scenario declares.
type lab struct {
	svc    *httptest.Server
	tp     *network.EmbeddedToxiproxy
	listen string

	mu    sync.Mutex // guards fail and store
	fail  bool       // answer the load with 500
	store map[string]bool
}

// newLab starts the service: "/" answers the load (200, or 500 when
// failing), POST /w/ID stores ID unless its sequence number ends in 7
// (the write is acknowledged and lost), GET /r/ID says 200 or 404.
func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{store: map[string]bool{}}
	l.svc = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch {
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/w/"):
			id := strings.TrimPrefix(r.URL.Path, "/w/")
			if !strings.HasSuffix(id, "7") {
				l.store[id] = true
			}
			w.WriteHeader(http.StatusCreated)
		case strings.HasPrefix(r.URL.Path, "/r/"):
			if !l.store[strings.TrimPrefix(r.URL.Path, "/r/")] {
				w.WriteHeader(http.StatusNotFound)
			}
		case l.fail:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(l.svc.Close)
	tp, err := network.StartToxiproxy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	l.tp = tp
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.listen = ln.Addr().String()
	_ = ln.Close() // Toxiproxy listens there
	return l
}

// scenario is an external scenario against the lab with the given load
// and faults (YAML without the keys decoded elsewhere); the caller adds
// probes, steady-state SLOs and abort conditions in Go.
func (l *lab) scenario(t *testing.T, duration, faults string) (*scenarios.Scenario, []byte) {
	t.Helper()
	raw := []byte(fmt.Sprintf(`apiVersion: gameday/v1
kind: Scenario
name: wire
target:
  external:
    baseURL: "http://%[1]s"
    toxiproxy:
      url: %[2]s
      links: [{name: edge, listen: "%[1]s", upstream: "%[3]s"}]
metrics: {scrapeInterval: 250ms}
load:
  - name: l
    duration: %[4]s
    profile: {constant: {rate: 40/s}}
    timeout: 300ms
    requests: [{name: root, url: "{{.Base}}/"}]
faults:
%[5]s
checks:
  slos: [{name: anything, client: {sli: success_ratio}, objective: ">= 0"}]
`, l.listen, l.tp.URL, l.svc.Listener.Addr(), duration, faults))
	s, err := scenarios.LoadBytes("wire.yaml", raw)
	if err != nil {
		t.Fatal(err)
	}
	return s, raw
}

// dirty says what of gameday's the lab's Toxiproxy still holds; "" when
// nothing.
func (l *lab) dirty(t *testing.T) string {
	t.Helper()
	c := toxiclient.NewClient(l.tp.URL)
	c.UserAgent = "gameday-test"
	proxies, err := c.Proxies()
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for name, p := range proxies {
		left = append(left, "proxy "+name)
		for _, tx := range p.ActiveToxics {
			left = append(left, "toxic "+tx.Name)
		}
	}
	return strings.Join(left, ", ")
}

// run plays s and returns its error and events.
func (l *lab) run(t *testing.T, s *scenarios.Scenario, raw []byte, opts ...Option) (*Result, []rundir.Event, error) {
	t.Helper()
	return l.runCtx(t, context.Background(), s, raw, opts...)
}

func (l *lab) runCtx(t *testing.T, ctx context.Context, s *scenarios.Scenario, raw []byte, opts ...Option) (*Result, []rundir.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, s, raw, append([]Option{WithOutDir(t.TempDir()), WithTeardownTimeout(10 * time.Second)}, opts...)...)
	if res == nil {
		t.Fatalf("Run() = nil result, %v", err)
	}
	events, rerr := rundir.ReadEventsOf(res.Dir)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if left := l.dirty(t); left != "" {
		t.Errorf("after the run the Toxiproxy holds %s; want nothing of gameday's", left)
	}
	return res, events, err
}

// eventsOf returns the events of type typ, and the index of the first.
func eventsOf(events []rundir.Event, typ string) ([]rundir.Event, int) {
	var out []rundir.Event
	first := -1
	for i, e := range events {
		if e.Type == typ {
			if first < 0 {
				first = i
			}
			out = append(out, e)
		}
	}
	return out, first
}

func exitCode(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 0
}

// TestWriteProbesInARun: two probes write through a fault, every
// acknowledged write is read back after the fault's recovery and the
// settle period, and the lost ones (sequence numbers ending in 7) are
// found lost, in one probe.jsonl tagged by probe.
func TestWriteProbesInARun(t *testing.T) {
	l := newLab(t)
	s, raw := l.scenario(t, "1500ms", `  - {name: slow, at: 300ms, for: 400ms, network: {link: edge, toxic: latency, latency: 20ms}}`)
	for _, name := range []string{"orders", "carts"} {
		s.Probes.Writes = append(s.Probes.Writes, scenarios.WriteProbe{
			Name:  name,
			Write: scenarios.ProbeRequest{Method: "POST", URL: "{{.Base}}/w/{{.ID}}"},
			Read:  scenarios.ProbeRequest{Method: "GET", URL: "{{.Base}}/r/{{.ID}}"},
			Every: 50 * time.Millisecond, Timeout: time.Second, Settle: 200 * time.Millisecond, MaxInFlight: 4,
		})
	}
	res, events, err := l.run(t, s, raw)
	if err != nil {
		t.Fatalf("Run() = %v; want a pass", err)
	}
	_, loadFinished := eventsOf(events, rundir.EventLoadFinished)
	recovered, _ := eventsOf(events, rundir.EventFaultRecover)
	if len(recovered) == 0 {
		t.Fatalf("no %s event", rundir.EventFaultRecover)
	}
	lastRecovered := recovered[len(recovered)-1].Time
	for _, name := range []string{"orders", "carts"} {
		var seen []string
		var verified rundir.Event
		for i, e := range events {
			if e.Stream != name || !strings.HasPrefix(e.Type, "probe.") {
				continue
			}
			seen = append(seen, e.Type)
			if e.Type == rundir.EventProbeStopped && i < loadFinished {
				t.Errorf("probe %s stopped at event %d, before the load finished (%d)", name, i, loadFinished)
			}
			if e.Type == rundir.EventProbeVerified {
				verified = e
			}
		}
		if want := []string{rundir.EventProbeStarted, rundir.EventProbeStopped, rundir.EventProbeVerified}; strings.Join(seen, ",") != strings.Join(want, ",") {
			t.Errorf("events of probe %s = %v; want %v", name, seen, want)
		}
		if settled := lastRecovered.Add(200 * time.Millisecond); verified.Time.Before(settled) {
			t.Errorf("probe %s verified at %s; want after the last recovery and the settle period, %s", name, verified.Time, settled)
		}
		notFound, _ := strconv.Atoi(verified.Attrs["notFound"])
		acked, _ := strconv.Atoi(verified.Attrs["acked"])
		found, _ := strconv.Atoi(verified.Attrs["found"])
		if acked < 10 || notFound == 0 || found+notFound != acked {
			t.Errorf("probe %s verified: %s; want at least 10 acked writes, each found or not, some not", name, verified.Message)
		}
	}
	results, err := rundir.ReadProbe(res.Dir)
	if err != nil {
		t.Fatalf("ReadProbe() error: %v", err)
	}
	per := map[string]int{}
	for _, r := range results {
		per[r.Probe]++
		if r.Write.Outcome == "acked" && r.Read == nil {
			t.Errorf("probe %s write %s acked and never read back", r.Probe, r.Write.ID)
		}
		if r.Read != nil && (r.Read.Outcome == "not_found") != strings.HasSuffix(r.Write.ID, "7") {
			t.Errorf("probe %s write %s read back %s; want not_found exactly for the IDs the service drops", r.Probe, r.Write.ID, r.Read.Outcome)
		}
	}
	if per["orders"] == 0 || per["carts"] == 0 || len(per) != 2 {
		t.Errorf("probe.jsonl writes per probe = %v; want both probes', tagged", per)
	}
}

// TestSteadyStateFailureInjectsNoFault: the service fails before the
// first fault, so the steady-state SLO fails: no fault is injected, the
// load stops long before its end, the run exits 3 with an aborted report
// and nothing is left on the Toxiproxy.
func TestSteadyStateFailureInjectsNoFault(t *testing.T) {
	l := newLab(t)
	l.fail = true
	s, raw := l.scenario(t, "60s", `  - {name: slow, at: 700ms, network: {link: edge, toxic: latency, latency: 20ms}}`)
	s.Checks.SLOs = append(s.Checks.SLOs, scenarios.SLO{
		Name: "steady", Client: &scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio},
		Objective: scenarios.Objective{Op: scenarios.OpGE, Value: 0.99, Text: ">= 0.99"},
		During:    []scenarios.Phase{scenarios.PhaseAll}, Mode: scenarios.ModeOverall, Step: time.Second, SteadyState: true,
	})
	res, events, err := l.run(t, s, raw)
	var aborted *AbortedError
	if !errors.As(err, &aborted) || exitCode(err) != ExitAborted || !strings.Contains(err.Error(), "steady") {
		t.Fatalf("Run() = %v (exit %d); want an AbortedError, exit 3, naming the steady state", err, exitCode(err))
	}
	steady, _ := eventsOf(events, rundir.EventSteadyState)
	if len(steady) != 1 || !strings.Contains(steady[0].Message, "steady: success_ratio 0.0000 (objective >= 0.99)") || steady[0].Attrs["passed"] != "false" {
		t.Errorf("%s events = %+v; want one naming the failed check, its measure and objective", rundir.EventSteadyState, steady)
	}
	if injected, _ := eventsOf(events, rundir.EventFaultInjected); len(injected) != 0 {
		t.Errorf("%s events = %+v; want none", rundir.EventFaultInjected, injected)
	}
	loadStarted, _ := eventsOf(events, rundir.EventLoadStarted)
	finished, _ := eventsOf(events, rundir.EventLoadFinished)
	if len(finished) != 1 || finished[0].Time.After(loadStarted[0].Time.Add(60*time.Second)) {
		t.Errorf("%s events = %+v; want one, the load stopped before its 60s", rundir.EventLoadFinished, finished)
	}
	if res.Report == nil || res.Report.Status != reports.StatusAborted {
		t.Errorf("report = %+v; want status aborted", res.Report)
	}
}

// TestSteadyStatePassesThenFaults: in steady state, the verdict comes
// first, then the fault.
func TestSteadyStatePassesThenFaults(t *testing.T) {
	l := newLab(t)
	s, raw := l.scenario(t, "1200ms", `  - {name: slow, at: 700ms, for: 200ms, network: {link: edge, toxic: latency, latency: 20ms}}`)
	s.Checks.SLOs = append(s.Checks.SLOs, scenarios.SLO{
		Name: "steady", PromQL: `sum(gameday_requests_total{outcome="success"}) / sum(gameday_requests_total)`,
		Objective: scenarios.Objective{Op: scenarios.OpGE, Value: 0.99, Text: ">= 0.99"},
		During:    []scenarios.Phase{scenarios.PhaseAll}, Mode: scenarios.ModeOverall, Step: 250 * time.Millisecond, SteadyState: true,
	}, scenarios.SLO{
		Name: "fast", Client: &scenarios.ClientSLI{SLI: scenarios.SLILatency, Quantile: 0.99},
		Objective: scenarios.Objective{Op: scenarios.OpLE, Value: 0.3, Unit: scenarios.UnitDuration, Text: "<= 300ms"},
		During:    []scenarios.Phase{scenarios.PhaseAll}, Mode: scenarios.ModeOverall, Step: time.Second, SteadyState: true,
	})
	_, events, err := l.run(t, s, raw)
	if err != nil {
		t.Fatalf("Run() = %v; want a pass", err)
	}
	steady, iSteady := eventsOf(events, rundir.EventSteadyState)
	_, iInjected := eventsOf(events, rundir.EventFaultInjected)
	if len(steady) != 1 || steady[0].Attrs["passed"] != "true" || !strings.Contains(steady[0].Message, "steady: ") || !strings.Contains(steady[0].Message, "fast: ") {
		t.Fatalf("%s events = %+v; want one passing, naming both checks", rundir.EventSteadyState, steady)
	}
	if iInjected < 0 || iInjected < iSteady {
		t.Errorf("fault injected at event %d, steady state at %d; want the verdict first", iInjected, iSteady)
	}
}

// TestAbortRevertsEveryFault: a fault that would last until the end of the
// load takes the service down; the abort condition trips, every fault is
// recovered after the abort event, the load stops, the run exits 3 with
// an aborted report, and the Toxiproxy is clean. A client and a PromQL
// condition (the embedded Prometheus) each.
func TestAbortRevertsEveryFault(t *testing.T) {
	for _, tt := range []struct {
		name  string
		abort scenarios.Abort
	}{
		{"client", scenarios.Abort{Name: "availability", Client: &scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio},
			Objective: scenarios.Objective{Op: scenarios.OpGE, Value: 0.5, Text: ">= 0.5"}, Window: time.Second}},
		{"promql", scenarios.Abort{Name: "errors", PromQL: `sum(gameday_requests_total{outcome="transport_error"}) or vector(0)`,
			Objective: scenarios.Objective{Op: scenarios.OpLT, Value: 1, Text: "< 1"}, Window: time.Second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			s, raw := l.scenario(t, "60s", `  - {name: down, at: 300ms, network: {link: edge, toxic: down}}
  - {name: slow, at: 200ms, network: {link: edge, toxic: latency, latency: 1ms}}`)
			s.Checks.Abort = []scenarios.Abort{tt.abort}
			res, events, err := l.run(t, s, raw)
			if exitCode(err) != ExitAborted || !strings.Contains(err.Error(), "abort") {
				t.Fatalf("Run() = %v (exit %d); want an abort, exit 3", err, exitCode(err))
			}
			aborted, iAborted := eventsOf(events, rundir.EventAborted)
			if len(aborted) != 1 || !strings.Contains(aborted[0].Message, tt.abort.Name) || !strings.Contains(aborted[0].Message, tt.abort.Objective.Text) {
				t.Fatalf("%s events = %+v; want one naming the condition and its objective", rundir.EventAborted, aborted)
			}
			injected, _ := eventsOf(events, rundir.EventFaultInjected)
			recoveredAfter := map[string]time.Time{}
			for _, e := range events[iAborted:] {
				if e.Type == rundir.EventFaultRecover {
					recoveredAfter[e.Fault] = e.Time
				}
			}
			var last time.Time
			for _, e := range injected {
				at, ok := recoveredAfter[e.Fault]
				if !ok {
					t.Errorf("fault %s: no %s after the abort", e.Fault, rundir.EventFaultRecover)
				}
				if at.After(last) {
					last = at
				}
			}
			if len(injected) != 2 {
				t.Errorf("%d faults injected; want 2", len(injected))
			}
			t.Logf("abort → last fault recovered: %s (%s)", last.Sub(aborted[0].Time), aborted[0].Message)
			defer func() {
				if t.Failed() {
					for _, e := range events {
						t.Logf("%s %s %s %s", e.Time.Format("05.000"), e.Type, e.Fault, e.Message)
					}
				}
			}()
			_, iFinished := eventsOf(events, rundir.EventLoadFinished)
			if iFinished < iAborted {
				t.Errorf("load finished at event %d before the abort at %d; want the abort to stop it", iFinished, iAborted)
			}
			if res.Report == nil || res.Report.Status != reports.StatusAborted {
				t.Errorf("report = %+v; want status aborted", res.Report)
			}
		})
	}
}

// TestInterruptedReadBack: an interrupt during the settle period leaves
// every acknowledged write unread, never lost, and says so.
func TestInterruptedReadBack(t *testing.T) {
	l := newLab(t)
	s, raw := l.scenario(t, "1s", `  - {name: slow, at: 100ms, for: 100ms, network: {link: edge, toxic: latency, latency: 1ms}}`)
	s.Probes.Writes = []scenarios.WriteProbe{{
		Name:  "orders",
		Write: scenarios.ProbeRequest{Method: "POST", URL: "{{.Base}}/w/{{.ID}}"},
		Read:  scenarios.ProbeRequest{Method: "GET", URL: "{{.Base}}/r/{{.ID}}"},
		Every: 50 * time.Millisecond, Timeout: time.Second, Settle: time.Hour,
	}}
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	res, events, err := l.runCtx(t, ctx, s, raw, WithProgress(func(e rundir.Event) {
		if e.Type == rundir.EventProbeStopped {
			interrupt()
		}
	}))
	if exitCode(err) != ExitAborted {
		t.Fatalf("Run() interrupted = %v (exit %d); want exit 3", err, exitCode(err))
	}
	verified, _ := eventsOf(events, rundir.EventProbeVerified)
	if len(verified) != 1 || verified[0].Attrs["unread"] == "0" || verified[0].Attrs["unread"] != verified[0].Attrs["acked"] || verified[0].Attrs["notFound"] != "0" {
		t.Fatalf("%s events = %+v; want one, every acked write unread, none lost", rundir.EventProbeVerified, verified)
	}
	results, err := rundir.ReadProbe(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Read != nil {
			t.Errorf("write %s read back (%s) after the interrupt; want unread", r.Write.ID, r.Read.Outcome)
		}
	}
}
