package scenarios

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSetDefaults(t *testing.T) {
	s, err := Decode("f.yaml", []byte(`apiVersion: gameday/v1
kind: Scenario
name: t
metrics: {scrapeInterval: 2s}
load:
  - name: a
    duration: 30s
    profile: {constant: {rate: 10/s}}
    requests:
      - url: "{{.Base}}/v1/feed?limit=20"
      - {method: POST, url: "{{ .Base }}/v1/posts#frag", weight: 3, name: post}
faults:
  - {name: lat, at: 1s, network: {link: client-gateway, toxic: latency, latency: 1ms}}
  - {name: bw, at: 1s, network: {link: client-gateway, toxic: bandwidth, rateKBps: 1}}
  - {name: to, at: 1s, network: {link: client-gateway, toxic: timeout}}
  - {name: rp, at: 1s, network: {link: client-gateway, toxic: reset_peer, direction: downstream, toxicity: 0}}
  - {name: dn, at: 1s, network: {link: client-gateway, toxic: down}}
  - {name: k, at: 1s, process: {selector: {role: api}}}
checks:
  slos:
    - {name: p, promql: up, objective: "> 0"}
    - {name: c, client: {sli: latency}, objective: "< 1s"}
    - {name: r, client: {sli: success_ratio}, objective: "> 0.9", during: fault, mode: always, step: 5s}
`))
	if err != nil {
		t.Fatalf("Decode = %v", err)
	}
	SetDefaults(s)
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("after SetDefaults, %s = %v; want %v", what, got, want)
		}
	}
	check("target.local", *s.Target.Local, LocalTarget{APIReplicas: DefaultAPIReplicas, StoreReplicas: DefaultStoreReplicas, Replication: DefaultReplication, RestartDelay: DefaultRestartDelay, TokenTTL: DefaultTokenTTL, GatewayRateLimit: LocalGatewayRateLimit})
	check("metrics.scrapeInterval", s.Metrics.ScrapeInterval, 2*time.Second) // set: kept
	st := s.Load[0]
	check("load[0].timeout", st.Timeout, DefaultStreamTimeout)
	check("load[0].requests[0]", st.Requests[0], Request{Name: "GET /v1/feed", Weight: 1, Method: "GET", URL: "{{.Base}}/v1/feed?limit=20"})
	check("load[0].requests[1].name", st.Requests[1].Name, "post")
	check("load[0].requests[1].weight", st.Requests[1].Weight, 3)
	dirs := []Direction{Downstream, Downstream, Upstream, Downstream, ""}
	for i, want := range dirs {
		check(s.Faults[i].Name+" direction", s.Faults[i].Network.Direction, want)
	}
	check("lat toxicity", *s.Faults[0].Network.Toxicity, 1.0)
	check("rp toxicity", *s.Faults[3].Network.Toxicity, 0.0) // set: kept
	check("k process", *s.Faults[5].Process, ProcessFault{Selector: map[string]string{"role": "api"}, Signal: SignalKill, Mode: ModeOne})
	slos := s.Checks.SLOs
	check("slos[0].during", slos[0].During, []Phase{PhaseAll})
	check("slos[0].mode", slos[0].Mode, ModeOverall)
	check("slos[0].step", slos[0].Step, 2*time.Second) // PromQL: the scrape interval
	check("slos[1].step", slos[1].Step, time.Second)   // client: 1s
	check("slos[1].client.quantile", slos[1].Client.Quantile, 0.99)
	check("slos[2].client.quantile", slos[2].Client.Quantile, 0.0) // not latency
	check("slos[2]", []any{slos[2].During, slos[2].Mode, slos[2].Step}, []any{[]Phase{PhaseFault}, ModeAlways, 5 * time.Second})
	if err := Validate(s); err != nil {
		t.Errorf("Validate(SetDefaults(s)) = %v; want nil", err)
	}
}

func TestDefaultRequestName(t *testing.T) {
	tests := []struct {
		method, url, want string
	}{
		{"GET", "{{.Base}}/v1/feed", "GET /v1/feed"},
		{"GET", "{{ .Base }}/v1/feed?limit=20", "GET /v1/feed"},
		{"POST", "{{- .Base -}}/v1/posts", "POST /v1/posts"},
		{"GET", "{{.Base}}", "GET /"},
		{"GET", "{{.Base}}?q=1", "GET /"},
		{"GET", "{{.Base}}/v1/posts/{{.ID}}", "GET /v1/posts/{{.ID}}"},
		{"GET", "{{.Base}}/a#top", "GET /a"},
		{"GET", "http://x/y", "GET http://x/y"}, // no {{.Base}}: kept
	}
	for _, tt := range tests {
		if got := DefaultRequestName(tt.method, tt.url); got != tt.want {
			t.Errorf("DefaultRequestName(%q, %q) = %q; want %q", tt.method, tt.url, got, tt.want)
		}
	}
}

func TestLocalTargetDeclaration(t *testing.T) {
	type proc struct{ instance, role string }
	head := []proc{{"store-1", "store"}, {"store-2", "store"}}
	mid := []proc{{"sentinel", "sentinel"}, {"cache", "cache"}, {"queue", "queue"}, {"pushmock", "pushmock"}, {"worker", "worker"}}
	tail := []string{"api-cache", "api-queue", "worker-queue", "worker-push"}
	tests := []struct {
		apis, stores int
		links        []string
		procs        []proc
	}{
		{1, 1, append([]string{"client-gateway", "gateway-api-1", "api-store-1", "api-store-2", "repl-store-1", "repl-store-2"}, tail...),
			slices.Concat(head, mid, []proc{{"api-1", "api"}, {"gateway", "gateway"}})},
		{3, 2, append([]string{"client-gateway", "gateway-api-1", "gateway-api-2", "gateway-api-3",
			"api-store-1", "api-store-2", "api-store-3", "repl-store-1", "repl-store-2", "repl-store-3"}, tail...),
			slices.Concat(head, []proc{{"store-3", "store"}}, mid, []proc{{"api-1", "api"}, {"api-2", "api"}, {"api-3", "api"}, {"gateway", "gateway"}})},
	}
	for _, tt := range tests {
		lt := LocalTarget{APIReplicas: tt.apis, StoreReplicas: tt.stores}
		d := Target{Local: &lt}.Declaration()
		if !reflect.DeepEqual(d.Links, tt.links) {
			t.Errorf("%+v: links = %v; want %v", lt, d.Links, tt.links)
		}
		var got []proc
		for _, in := range d.Instances {
			got = append(got, proc{in.Labels["instance"], in.Labels["role"]})
			if in.Labels["service"] != in.Labels["role"] || in.Name != in.Labels["instance"] {
				t.Errorf("%+v: instance %s has labels %v", lt, in.Name, in.Labels)
			}
		}
		if !reflect.DeepEqual(got, tt.procs) {
			t.Errorf("%+v: processes = %v; want %v", lt, got, tt.procs)
		}
	}
	in := Instance{Name: "api-2", Labels: map[string]string{"instance": "api-2", "role": "api"}}
	matches := []struct {
		sel  map[string]string
		want bool
	}{
		{map[string]string{"role": "api"}, true},
		{map[string]string{"role": "api", "instance": "api-2"}, true},
		{map[string]string{"role": "api", "instance": "api-1"}, false},
		{map[string]string{"zone": "a"}, false},
		{nil, true},
	}
	for _, m := range matches {
		if got := in.Matches(m.sel); got != m.want {
			t.Errorf("%+v.Matches(%v) = %t; want %t", in, m.sel, got, m.want)
		}
	}
}

func TestEnd(t *testing.T) {
	s := &Scenario{Load: []Stream{{Duration: 30 * time.Second}, {Start: 20 * time.Second, Duration: 15 * time.Second}, {Duration: time.Second}}}
	if got := s.End(); got != 35*time.Second {
		t.Errorf("End() = %v; want 35s", got)
	}
	if got := (&Scenario{}).End(); got != 0 {
		t.Errorf("Scenario{}.End() = %v; want 0", got)
	}
}

// TestWrittenZeroHonoured: a valid zero the author wrote is kept, not
// replaced by the default.
func TestWrittenZeroHonoured(t *testing.T) {
	s, err := Load("testdata/written-zeros.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Target.Local.RestartDelay; got != 0 {
		t.Errorf("Load(written-zeros.good.yaml).Target.Local.RestartDelay = %v; want 0 as written", got)
	}
	if got := s.Target.Local.StoreReplicas; got != 0 {
		t.Errorf("Load(written-zeros.good.yaml).Target.Local.StoreReplicas = %d; want 0 as written", got)
	}
	if got := s.Faults[0].Network.Toxicity; got == nil || *got != 0 {
		t.Errorf("Load(written-zeros.good.yaml).Faults[0].Network.Toxicity = %v; want 0 as written", got)
	}
	// Left out, the same fields are defaulted.
	if got := s.Target.Local.APIReplicas; got != DefaultAPIReplicas {
		t.Errorf("APIReplicas = %d; want the default %d", got, DefaultAPIReplicas)
	}
}

// TestWrittenNullDefaulted: a field written null is not a written value
// (the decoder leaves it as it is), so it is defaulted like one left out.
// The JSON schema refuses null, so this case is not a testdata file.
func TestWrittenNullDefaulted(t *testing.T) {
	data, err := os.ReadFile("testdata/written-zeros.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), `- url: "{{.Base}}/v1/feed"`, `- {url: "{{.Base}}/v1/feed", weight: null, method: null, name: null}`, 1))
	s, err := LoadBytes("nulls.yaml", data)
	if err != nil {
		t.Fatalf("LoadBytes(weight, method, name: null) = %v; want no error", err)
	}
	if r := s.Load[0].Requests[0]; r.Weight != DefaultWeight || r.Method != DefaultMethod || r.Name != "GET /v1/feed" {
		t.Errorf("LoadBytes(weight, method, name: null) request = %d, %q, %q; want the defaults %d, %q, %q", r.Weight, r.Method, r.Name, DefaultWeight, DefaultMethod, "GET /v1/feed")
	}
}

// TestSetDefaultsChecks loads the scenario that uses every field of the
// recovery checks, the abort guard and the write probes, and checks what
// SetDefaults filled in and what it left as written.
func TestSetDefaultsChecks(t *testing.T) {
	s, err := Load("testdata/recovery.good.yaml")
	if err != nil {
		t.Fatalf("Load(recovery) = %v", err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("after SetDefaults, %s = %v; want %v", what, got, want)
		}
	}
	rto := s.Checks.RTO
	check("rto[0].stableFor", rto[0].StableFor, DefaultStableFor)
	check("rto[0].recovery.window", rto[0].Recovery.Window, DefaultRecoveryWindow)
	check("rto[0].recovery.quantile", rto[0].Recovery.Quantile, DefaultRecoveryQuantile)
	check("rto[0].recovery.step", rto[0].Recovery.Step, time.Duration(0)) // client-side: no step
	check("rto[1].stableFor", rto[1].StableFor, 5*time.Second)            // written: kept
	check("rto[1].recovery.window", rto[1].Recovery.Window, 2*time.Second)
	check("rto[1].recovery.quantile", rto[1].Recovery.Quantile, 0.0)   // no latency: no quantile
	check("rto[2].recovery.step", rto[2].Recovery.Step, 2*time.Second) // PromQL: the scrape interval
	check("rto[2].recovery.window", rto[2].Recovery.Window, time.Duration(0))
	check("rto[3].recovery.quantile", rto[3].Recovery.Quantile, 0.9)
	check("rto[4].recovery.step", rto[4].Recovery.Step, 500*time.Millisecond)
	check("rto[0].objective", rto[0].Objective, Objective{Op: OpLE, Value: 10, Unit: UnitDuration, Text: "<= 10s"})
	check("rto[0].recovery.successRatio", *rto[0].Recovery.SuccessRatio, Objective{Op: OpGE, Value: 0.99, Text: ">= 0.99"})
	check("rpo[0].probe", s.Checks.RPO[0].Probe, "posts")
	check("rpo[1].probe", s.Checks.RPO[1].Probe, "tuned")
	ab := s.Checks.Abort
	check("abort[0].window", ab[0].Window, DefaultAbortWindow)
	check("abort[1].window", ab[1].Window, 10*time.Second)
	check("abort[1].client.quantile", ab[1].Client.Quantile, DefaultQuantile)
	check("abort[2].window", ab[2].Window, DefaultAbortWindow)
	w := s.Probes.Writes
	check("writes[0]", []any{w[0].Write.Method, w[0].Read.Method, w[0].Every, w[0].Timeout, w[0].Settle, w[0].MaxInFlight},
		[]any{"POST", "GET", DefaultProbeEvery, DefaultProbeTimeout, DefaultProbeSettle, DefaultProbeMaxInFlight})
	check("writes[1]", []any{w[1].Write.Method, w[1].Read.Method, w[1].Every, w[1].Timeout, w[1].Settle, w[1].MaxInFlight},
		[]any{"PUT", "GET", 100 * time.Millisecond, time.Second, time.Duration(0), 4}) // written, settle 0s included: kept
	check("writes[1] statuses", [][]int{w[1].Acked, w[1].Found, w[1].NotFound}, [][]int{{200, 201}, {200}, {404, 410}})
	check("slos[0]", []any{s.Checks.SLOs[0].SteadyState, s.Checks.SLOs[0].During}, []any{true, []Phase{PhaseBetween, PhaseRecovery}})
}

// TestRPOProbeDefault: an RPO check names the only write probe by default;
// with several, none is chosen for it.
func TestRPOProbeDefault(t *testing.T) {
	for _, tt := range []struct {
		probes []string
		want   string
	}{
		{nil, ""},
		{[]string{"only"}, "only"},
		{[]string{"a", "b"}, ""},
	} {
		s := &Scenario{Checks: Checks{RPO: []RPO{{Name: "r", Fault: "f"}}}}
		for _, name := range tt.probes {
			s.Probes.Writes = append(s.Probes.Writes, WriteProbe{Name: name})
		}
		SetDefaults(s)
		if got := s.Checks.RPO[0].Probe; got != tt.want {
			t.Errorf("SetDefaults(probes %v): rpo[0].probe = %q; want %q", tt.probes, got, tt.want)
		}
	}
}
