package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
)

// outageTarget answers 503 to every request for exactly the duration a
// trigger names, from the moment the trigger arrives, and 200 otherwise.
// It records when each outage ended: the ground truth of an RTO.
type outageTarget struct {
	srv   *httptest.Server
	until atomic.Int64 // unix nanoseconds: 503 before it
	mu    sync.Mutex
	ends  map[string]time.Time // by trigger name
}

func newOutageTarget(t *testing.T) *outageTarget {
	o := &outageTarget{ends: map[string]time.Time{}}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/trigger" {
			d, err := time.ParseDuration(r.URL.Query().Get("d"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			end := time.Now().Add(d)
			o.until.Store(end.UnixNano())
			o.mu.Lock()
			o.ends[r.URL.Query().Get("n")] = end
			o.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if time.Now().UnixNano() < o.until.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// Ground truth for RTO (acceptance 2 of the RTO/RPO issue): a target that
// answers 503 for an exact, known duration after a trigger sent by an http
// fault. Over 20 injections, in two runs played side by side, the measured
// RTO is within 100 ms of the truth: the end of the outage minus the
// injection time gameday recorded. The test prints the worst error.
func TestRTOGroundTruth(t *testing.T) {
	const runs, perRun = 2, 10
	const spacing = 2200 * time.Millisecond
	rng := rand.New(rand.NewPCG(8, 2026))
	type trial struct {
		name    string
		outage  time.Duration
		measure time.Duration
		truth   time.Duration
	}
	results := make([][]trial, runs)
	var wg sync.WaitGroup
	for r := range runs {
		var faults, checks strings.Builder
		var trials []trial
		for i := range perRun {
			name := fmt.Sprintf("out-%d", i)
			d := time.Duration(200+rng.IntN(1200)) * time.Millisecond
			trials = append(trials, trial{name: name, outage: d})
			at := 500*time.Millisecond + time.Duration(i)*spacing
			fmt.Fprintf(&faults, "  - {name: %s, at: %s, http: {url: \"{{.Base}}/trigger?n=%s&d=%s\", expect: [204]}}\n", name, at, name, d)
			fmt.Fprintf(&checks, "    - {name: rto-%s, fault: %s, recovery: {successRatio: \">= 0.99\", window: 500ms}, stableFor: 500ms, objective: \"<= 2s\"}\n", name, name)
		}
		target := newOutageTarget(t)
		duration := 500*time.Millisecond + perRun*spacing
		scenario := writeFile(t, "rto.yaml", fmt.Sprintf(`apiVersion: gameday/v1
kind: Scenario
name: rto-ground-truth
target:
  external:
    baseURL: %s
metrics: {scrapeInterval: 500ms}
load:
  - name: l
    duration: %s
    profile: {constant: {rate: 200/s}}
    timeout: 1s
    requests: [{url: "{{.Base}}/"}]
faults:
%schecks:
  rto:
%s`, target.srv.URL, duration, faults.String(), checks.String()))
		wg.Go(func() {
			out := t.TempDir()
			code, stdout, stderr := cli(t, context.Background(), "run", scenario, "--out", out)
			if code != exitOK {
				t.Errorf("run %d = exit %d\n%s\n%s", r, code, stdout, stderr)
				return
			}
			dir := runDir(t, out)
			rep := readReport(t, dir)
			sameReportAgain(t, dir)
			target.mu.Lock()
			defer target.mu.Unlock()
			for i := range trials {
				tr := &trials[i]
				c := findRTO(rep, "rto-"+tr.name)
				if c == nil || c.Recovery == nil || !c.Recovery.Recovered {
					t.Errorf("run %d, %s: %+v; want a recovery", r, tr.name, c)
					continue
				}
				tr.measure = c.Recovery.RTO
				tr.truth = target.ends[tr.name].Sub(c.Recovery.Injected)
			}
			results[r] = trials
		})
	}
	wg.Wait()
	var worst time.Duration
	n := 0
	for r, trials := range results {
		for _, tr := range trials {
			if tr.truth == 0 {
				continue
			}
			n++
			e := (tr.measure - tr.truth).Abs()
			worst = max(worst, e)
			t.Logf("run %d %s: outage %s, truth %s, measured %s, error %s", r, tr.name, tr.outage, tr.truth, tr.measure, e)
			if e > 100*time.Millisecond {
				t.Errorf("run %d %s: measured RTO %s, truth %s: off by %s; want within 100ms", r, tr.name, tr.measure, tr.truth, e)
			}
		}
	}
	if n < 20 {
		t.Errorf("%d trials judged; want 20", n)
	}
	t.Logf("worst RTO error over %d trials: %s", n, worst)
}

// sameReportAgain runs gameday report on dir and fails unless it rebuilds
// report.json byte for byte (acceptance 7 of the RTO/RPO issue).
func sameReportAgain(t *testing.T, dir string) {
	t.Helper()
	before, err := os.ReadFile(filepath.Join(dir, rundir.FileReport))
	if err != nil {
		t.Error(err)
		return
	}
	code, _, stderr := cli(t, context.Background(), "report", dir)
	after, _ := os.ReadFile(filepath.Join(dir, rundir.FileReport))
	if code == exitAborted || code == exitUsage || !bytes.Equal(before, after) {
		t.Errorf("gameday report %s = exit %d (%s); report.json rebuilt the same: %v", dir, code, stderr, bytes.Equal(before, after))
	}
}

func findRTO(rep *reports.Report, name string) *reports.RecoveryCheck {
	for i := range rep.RTO {
		if rep.RTO[i].Name == name {
			return &rep.RTO[i]
		}
	}
	return nil
}

func findRPO(rep *reports.Report, name string) *reports.DataLossCheck {
	for i := range rep.RPO {
		if rep.RPO[i].Name == name {
			return &rep.RPO[i]
		}
	}
	return nil
}

// lossyStore acknowledges every PUT /kv/ID and answers GET /kv/ID with 200
// or 404; a trigger silently drops the last K writes it acknowledged and
// records which, with their ack times: the ground truth of an RPO.
type lossyStore struct {
	srv     *httptest.Server
	mu      sync.Mutex
	order   []string             // acknowledged IDs, in ack order
	acked   map[string]time.Time // ID → when the store acknowledged it
	dropped map[string][]string  // trigger name → IDs dropped
	// dropTimes keeps the ack times of the dropped IDs.
	dropTimes map[string]time.Time
}

func newLossyStore(t *testing.T) *lossyStore {
	s := &lossyStore{acked: map[string]time.Time{}, dropped: map[string][]string{}, dropTimes: map[string]time.Time{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/drop":
			k, err := strconv.Atoi(r.URL.Query().Get("k"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.mu.Lock()
			k = min(k, len(s.order))
			gone := slices.Clone(s.order[len(s.order)-k:])
			s.order = s.order[:len(s.order)-k]
			for _, id := range gone {
				s.dropTimes[id] = s.acked[id]
				delete(s.acked, id)
			}
			s.dropped[r.URL.Query().Get("n")] = gone
			s.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		case strings.HasPrefix(r.URL.Path, "/kv/") && r.Method == http.MethodPut:
			id := strings.TrimPrefix(r.URL.Path, "/kv/")
			s.mu.Lock()
			s.order = append(s.order, id)
			s.acked[id] = time.Now()
			s.mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		case strings.HasPrefix(r.URL.Path, "/kv/") && r.Method == http.MethodGet:
			s.mu.Lock()
			_, ok := s.acked[strings.TrimPrefix(r.URL.Path, "/kv/")]
			s.mu.Unlock()
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// Ground truth for RPO (acceptance 3 of the RTO/RPO issue): a store that
// silently drops exactly the last K acknowledged writes on a trigger. Over
// 20 injections with K from 1 to 8 the measured lost count is exactly K,
// the lost IDs are the dropped ones and the lost window is within one probe
// interval of the true one; over 20 injections that drop nothing, the RPO
// is 0 and nothing is reported lost. Both runs are played side by side.
func TestRPOGroundTruth(t *testing.T) {
	const perRun = 20
	const spacing = 600 * time.Millisecond
	const every = 50 * time.Millisecond
	rng := rand.New(rand.NewPCG(3, 2026))
	var wg sync.WaitGroup
	for _, lossy := range []bool{true, false} {
		var faults, checks strings.Builder
		ks := map[string]int{}
		for i := range perRun {
			name := fmt.Sprintf("drop-%d", i)
			k := 0
			if lossy {
				k = 1 + rng.IntN(8)
			}
			ks[name] = k
			at := 500*time.Millisecond + time.Duration(i)*spacing
			fmt.Fprintf(&faults, "  - {name: %s, at: %s, http: {url: \"{{.Base}}/drop?n=%s&k=%d\", expect: [204]}}\n", name, at, name, k)
			fmt.Fprintf(&checks, "    - {name: rpo-%s, fault: %s, objective: \"<= 0s\"}\n", name, name)
		}
		store := newLossyStore(t)
		duration := 500*time.Millisecond + perRun*spacing
		scenario := writeFile(t, "rpo.yaml", fmt.Sprintf(`apiVersion: gameday/v1
kind: Scenario
name: rpo-ground-truth
target:
  external:
    baseURL: %s
metrics: {scrapeInterval: 500ms}
load:
  - name: l
    duration: %s
    profile: {constant: {rate: 20/s}}
    timeout: 1s
    requests: [{url: "{{.Base}}/"}]
probes:
  writes:
    - name: kv
      every: %s
      settle: 200ms
      write: {method: PUT, url: "{{.Base}}/kv/{{.ID}}"}
      read: {url: "{{.Base}}/kv/{{.ID}}"}
faults:
%schecks:
  rpo:
%s`, store.srv.URL, duration, every, faults.String(), checks.String()))
		wg.Go(func() {
			out := t.TempDir()
			code, stdout, stderr := cli(t, context.Background(), "run", scenario, "--out", out)
			want := exitOK
			if lossy {
				want = exitFailed
			}
			if code != want {
				t.Errorf("lossy=%v: run = exit %d; want %d\n%s\n%s", lossy, code, want, stdout, stderr)
			}
			dir := runDir(t, out)
			rep := readReport(t, dir)
			sameReportAgain(t, dir)
			store.mu.Lock()
			defer store.mu.Unlock()
			n, worst := 0, time.Duration(0)
			for name, k := range ks {
				c := findRPO(rep, "rpo-"+name)
				if c == nil || c.Loss == nil {
					t.Errorf("lossy=%v %s: %+v; want a judged RPO", lossy, name, c)
					continue
				}
				n++
				l := c.Loss
				gone := store.dropped[name]
				if l.Lost != k || len(gone) != k || !sameIDs(l.LostIDs, gone) {
					t.Errorf("lossy=%v %s: lost %d %v; the store dropped %d %v", lossy, name, l.Lost, l.LostIDs, len(gone), gone)
					continue
				}
				if k == 0 {
					if l.RPO != 0 || !c.Passed || l.Unverified != 0 {
						t.Errorf("%s: nothing dropped, yet RPO %s, passed %v, unverified %d", name, l.RPO, c.Passed, l.Unverified)
					}
					continue
				}
				from, to := store.acked0(gone)
				e := max((l.LostFrom.Sub(from)).Abs(), (l.LostTo.Sub(to)).Abs())
				worst = max(worst, e)
				if e > every {
					t.Errorf("%s: lost window %s … %s; the store's is %s … %s: off by %s, more than one probe interval", name,
						l.LostFrom.Format(time.StampMicro), l.LostTo.Format(time.StampMicro), from.Format(time.StampMicro), to.Format(time.StampMicro), e)
				}
				t.Logf("%s: K=%d lost %d, RPO %s, split brain %d, lost window off by %s", name, k, l.Lost, l.RPO, l.SplitBrain, e)
			}
			if n < perRun {
				t.Errorf("lossy=%v: %d injections judged; want %d", lossy, n, perRun)
			}
			t.Logf("lossy=%v: %d injections, worst lost-window error %s", lossy, n, worst)
		})
	}
	wg.Wait()
}

// acked0 returns the store's ack times of the oldest and newest of ids,
// all dropped; the caller holds s.mu.
func (s *lossyStore) acked0(ids []string) (from, to time.Time) {
	for _, id := range ids {
		at := s.dropTimes[id]
		if from.IsZero() || at.Before(from) {
			from = at
		}
		if at.After(to) {
			to = at
		}
	}
	return from, to
}

func sameIDs(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
