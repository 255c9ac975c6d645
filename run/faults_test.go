package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/gameday/gameday/chaos/kube"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target"
	"github.com/gameday/gameday/target/processes"
)

// generatedFaults are faults of every kind, every toxic, direction and
// preset, every signal and victim mode: the set TestEveryValidFaultInjects
// proves.
func generatedFaults(actionDir string) []scenarios.Fault {
	var out []scenarios.Fault
	add := func(f scenarios.Fault) {
		f.Name = fmt.Sprintf("f%d", len(out))
		out = append(out, f)
	}
	ptr := func(x float64) *float64 { return &x }
	toxics := []scenarios.NetworkFault{
		{Toxic: scenarios.ToxicLatency, Latency: time.Millisecond},
		{Toxic: scenarios.ToxicLatency, Latency: 200 * time.Millisecond, Jitter: 50 * time.Millisecond},
		{Toxic: scenarios.ToxicBandwidth, RateKBps: 1},
		{Toxic: scenarios.ToxicSlowClose, Delay: time.Millisecond},
		{Toxic: scenarios.ToxicTimeout},
		{Toxic: scenarios.ToxicTimeout, Timeout: 100 * time.Millisecond},
		{Toxic: scenarios.ToxicResetPeer},
		{Toxic: scenarios.ToxicResetPeer, Timeout: time.Second},
		{Toxic: scenarios.ToxicSlicer, AverageSize: 1},
		{Toxic: scenarios.ToxicSlicer, AverageSize: 64, SizeVariation: 63, Delay: 1500 * time.Microsecond},
		{Toxic: scenarios.ToxicLimitData, Bytes: 1},
	}
	for _, n := range toxics {
		for _, dir := range []scenarios.Direction{"", scenarios.Upstream, scenarios.Downstream, scenarios.Both} {
			for _, tox := range []*float64{nil, ptr(0), ptr(0.5), ptr(1)} {
				n := n
				n.Link, n.Direction, n.Toxicity = "client-svc", dir, tox
				add(scenarios.Fault{Network: &n})
			}
		}
	}
	add(scenarios.Fault{Network: &scenarios.NetworkFault{Link: "client-svc", Toxic: scenarios.ToxicDown}})
	for _, m := range []scenarios.MobilePreset{scenarios.Mobile3G, scenarios.MobileEdge, scenarios.MobileLossy} {
		add(scenarios.Fault{Network: &scenarios.NetworkFault{Link: "client-svc", Mobile: m}})
	}
	seed := int64(3)
	for _, sig := range []scenarios.Signal{scenarios.SignalKill, scenarios.SignalTerm, scenarios.SignalInt, scenarios.SignalStop} {
		for _, p := range []scenarios.ProcessFault{
			{Mode: scenarios.ModeOne},
			{Mode: scenarios.ModeAll},
			{Mode: scenarios.ModeFixed, Count: 2},
			{Count: 5}, // fixed by default; more than there are
			{Mode: scenarios.ModePercent, Percent: 34, Seed: &seed},
		} {
			p.Selector, p.Signal = map[string]string{"service": "svc"}, sig
			f := scenarios.Fault{Process: &p}
			if sig == scenarios.SignalStop {
				// Pauses that could hold one process at once are refused:
				// one after the other.
				f.At, f.For = time.Duration(len(out))*2*time.Second, time.Second
			}
			add(f)
		}
	}
	marker := filepath.Join(actionDir, "marker")
	add(scenarios.Fault{HTTP: &scenarios.HTTPFault{URL: `{{.URL "svc-1"}}/failover`}})
	add(scenarios.Fault{HTTP: &scenarios.HTTPFault{Method: "GET", URL: "{{.Base}}/", Expect: []int{200}, Retries: 2,
		Recover: &scenarios.HTTPRequest{URL: "{{.Base}}/back"}}})
	add(scenarios.Fault{Exec: &scenarios.ExecFault{Command: []string{"sh", "-c", "echo on > " + marker}}})
	add(scenarios.Fault{Exec: &scenarios.ExecFault{Command: []string{"sh", "-c", "echo on > " + marker},
		Recover: &scenarios.ExecCommand{Command: []string{"rm", "-f", marker}}}})
	return out
}

// TestEveryValidFaultInjectsAndRecovers builds every generated fault the
// way a run does, checks that it validates, and injects and recovers it
// against a real target: real child processes behind a real (embedded)
// Toxiproxy.
func TestEveryValidFaultInjectsAndRecovers(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	three := 3
	restart := time.Duration(0)
	s := &scenarios.Scenario{
		APIVersion: scenarios.APIVersion, Kind: scenarios.KindScenario, Name: "generated",
		Target: scenarios.Target{Processes: &scenarios.ProcessesTarget{
			Services: []scenarios.Service{{Name: "svc", Command: self, Replicas: &three, RestartDelay: &restart,
				Env: map[string]string{childEnv: "{{.Addr}}"}}},
			Edges: []scenarios.Edge{{Name: "client-svc", From: scenarios.FromClient, To: "svc"}},
			Base:  "",
		}},
		Load: []scenarios.Stream{{Name: "l", Duration: time.Hour, Profile: scenarios.Profile{Constant: &scenarios.ConstantProfile{Rate: scenarios.Rate{Freq: 1, Per: time.Second}}},
			Requests: []scenarios.Request{{URL: "{{.Base}}/"}}}},
		Checks: scenarios.Checks{SLOs: []scenarios.SLO{{Name: "ok", Client: &scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio}, Objective: scenarios.Objective{Op: scenarios.OpGE, Value: 0, Text: ">= 0"}}}},
		Faults: generatedFaults(t.TempDir()),
	}
	// The base edge reaches 3 instances, which {{.Base}} cannot: add a
	// client edge to the first instance's service of its own.
	s.Target.Processes.Services = append(s.Target.Processes.Services, scenarios.Service{Name: "front", Command: self,
		Env: map[string]string{childEnv: "{{.Addr}}"}})
	s.Target.Processes.Edges = append(s.Target.Processes.Edges, scenarios.Edge{Name: "client-front", From: scenarios.FromClient, To: "front"})
	s.Target.Processes.Base = "client-front"
	for i := range s.Faults {
		if n := s.Faults[i].Network; n != nil {
			n.Link = "client-svc-1"
		}
	}
	scenarios.SetDefaults(s)
	if err := scenarios.Validate(s); err != nil {
		t.Fatalf("the generated faults do not validate:\n%v", err)
	}
	vals, err := scenarios.Resolve(s, scenarios.OSEnvironment())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pt, err := processes.Start(ctx, s.Target.Processes, processes.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pt.Stop(context.Background()) }()
	env := faultEnv{runID: "20261128T091500Z-abcdef", running: pt.Running(), s: s, vals: vals}
	kinds := map[string]int{}
	for _, spec := range s.Faults {
		f, err := newFault(spec, env)
		if err != nil {
			t.Errorf("%s (%s): build: %v", spec.Name, describe(spec), err)
			continue
		}
		if _, err := f.Inject(ctx); err != nil {
			t.Errorf("%s (%s): Inject() = %v", spec.Name, describe(spec), err)
		}
		if recs, err := f.Recover(ctx); err != nil {
			t.Errorf("%s (%s): Recover() = %+v, %v", spec.Name, describe(spec), recs, err)
		}
		kinds[spec.Kind()]++
	}
	t.Logf("injected and recovered %d faults: %v", len(s.Faults), kinds)
	// Nothing is left on the Toxiproxy.
	for name, l := range pt.Running().Links {
		p, err := l.Toxiproxy.Proxy(l.Proxy)
		if err != nil || !p.Enabled || len(p.ActiveToxics) > 0 {
			t.Errorf("link %s after every fault: %+v, %v; want enabled, no toxic", name, p, err)
		}
	}
}

// describe says what a generated fault is, for failure messages.
func describe(f scenarios.Fault) string {
	switch {
	case f.Network != nil:
		return f.Network.Describe()
	case f.Process != nil:
		return fmt.Sprintf("%s mode %s", f.Process.Signal, f.Process.Mode)
	case f.HTTP != nil:
		return "http " + f.HTTP.URL
	case f.Exec != nil:
		return "exec " + strings.Join(f.Exec.Command, " ")
	}
	return "?"
}

// TestNewPodFault builds the pod fault of a scenario against a target's
// cluster, and refuses one without a cluster or outside its namespaces.
func TestNewPodFault(t *testing.T) {
	f := scenarios.Fault{Name: "kill-api", Pod: &scenarios.PodFault{Namespace: "shop", LabelSelector: "app=api", Mode: scenarios.ModeOne, MaxVictims: 1, ReadyTimeout: time.Minute}}
	client := fake.NewClientset()
	for _, tc := range []struct {
		name    string
		running target.Running
		wantErr string
	}{
		{name: "kubernetes target", running: target.Running{Kube: client, Namespaces: []string{"shop"}}},
		{name: "no cluster", running: target.Running{}, wantErr: "the target has no Kubernetes cluster"},
		{name: "other namespace", running: target.Running{Kube: client, Namespaces: []string{"billing"}}, wantErr: `namespace "shop" is not one of the target's (billing)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cf, err := newFault(f, faultEnv{runID: "r1", running: &tc.running})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("newFault(pod) = %v; want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("newFault(pod) = %v; want no error", err)
			}
			if _, ok := cf.(*kube.Fault); !ok || cf.Name() != "kill-api" || !endsByItself(cf) {
				t.Errorf("newFault(pod) = %T %q, ends by itself %v; want a *kube.Fault kill-api that ends by itself", cf, cf.Name(), endsByItself(cf))
			}
		})
	}
}
