package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// valid returns the brief's example, decoded and defaulted; it validates.
func valid(t *testing.T) *Scenario {
	t.Helper()
	s, err := Load("testdata/brief.good.yaml")
	if err != nil {
		t.Fatalf("Load(brief) = %v", err)
	}
	return s
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *Scenario)
		path   string // the path of the only problem
		msg    string // a substring of its message
	}{
		{"api version", func(s *Scenario) { s.APIVersion = "v1" }, "apiVersion", `unsupported apiVersion "v1" (want "gameday/v1")`},
		{"kind", func(s *Scenario) { s.Kind = "" }, "kind", `unsupported kind "" (want "Scenario")`},
		{"name missing", func(s *Scenario) { s.Name = "" }, "name", "required"},
		{"name upper case", func(s *Scenario) { s.Name = "Quick" }, "name", `invalid name "Quick"`},
		{"name leading dash", func(s *Scenario) { s.Name = "-q" }, "name", `invalid name "-q"`},
		{"name too long", func(s *Scenario) { s.Name = strings.Repeat("a", 64) }, "name", "at most 63 characters"},
		{"no target", func(s *Scenario) { s.Target.Local = nil }, "target", "exactly one of local, processes, external, kubernetes is required, got none"},
		{"no api replicas", func(s *Scenario) { s.Target.Local.APIReplicas = 0 }, "target.local.apiReplicas", "apiReplicas 0 is out of range (want 1 to 8)"},
		{"too many api replicas", func(s *Scenario) { s.Target.Local.APIReplicas = 1 << 40 }, "target.local.apiReplicas", "out of range"},
		{"too many api replicas, faults checked against the most", func(s *Scenario) { s.Target.Local.APIReplicas = 9; s.Faults[0].Network.Link = "gateway-api-8" }, "target.local.apiReplicas", "apiReplicas 9 is out of range"},
		{"negative restart delay", func(s *Scenario) { s.Target.Local.RestartDelay = -time.Second }, "target.local.restartDelay", "restartDelay -1s is negative"},
		{"zero token ttl", func(s *Scenario) { s.Target.Local.TokenTTL = 0 }, "target.local.tokenTTL", "tokenTTL 0s is not positive (want more than 0s)"},
		{"sub-second token ttl", func(s *Scenario) { s.Target.Local.TokenTTL = 1500 * time.Millisecond }, "target.local.tokenTTL", "tokenTTL 1500ms is not a whole number of seconds"},
		{"toxiproxy https", func(s *Scenario) { s.Target.Local.Toxiproxy = "https://127.0.0.1:8474" }, "target.local.toxiproxy", "is not an http URL"},
		{"toxiproxy remote", func(s *Scenario) { s.Target.Local.Toxiproxy = "http://10.0.0.1:8474" }, "target.local.toxiproxy", "is not on loopback"},
		{"toxiproxy not a url", func(s *Scenario) { s.Target.Local.Toxiproxy = "http://[::1" }, "target.local.toxiproxy", "is not a URL"},
		{"scrape interval", func(s *Scenario) { s.Metrics.ScrapeInterval = 99 * time.Millisecond }, "metrics.scrapeInterval", "scrapeInterval 99ms is too short (want at least 100ms)"},
		{"no load", func(s *Scenario) { s.Load = nil; s.Faults = nil; s.Checks.SLOs = s.Checks.SLOs[2:] }, "load", "at least one load stream is required"},
		{"stream name", func(s *Scenario) { s.Load[0].Name = "a b" }, "load[0].name", `invalid name "a b"`},
		{"stream duration", func(s *Scenario) { s.Load[0].Duration = 0; s.Faults = nil }, "load[0].duration", "duration 0s is not positive"},
		{"no profile", func(s *Scenario) { s.Load[0].Profile.Constant = nil }, "load[0].profile", "exactly one profile is required, got 0 (want one of constant, linear, steps, spike, sine)"},
		{"zero rate", func(s *Scenario) { s.Load[0].Profile.Constant.Rate = Rate{} }, "load[0].profile.constant.rate", `rate "0/0s" is not positive`},
		{"no requests", func(s *Scenario) { s.Load[0].Requests = nil }, "load[0].requests", "at least one request is required"},
		{"no url", func(s *Scenario) { s.Load[0].Requests[0].URL = "" }, "load[0].requests[0].url", "required"},
		{"bad template field", func(s *Scenario) { s.Load[0].Requests[0].URL = "{{.Host}}/" }, "load[0].requests[0].url", "can't evaluate field Host"},
		{"relative url", func(s *Scenario) { s.Load[0].Requests[0].URL = "/v1/feed" }, "load[0].requests[0].url", "start it with {{.Base}}"},
		{"bad body template", func(s *Scenario) { s.Load[0].Requests[1].Body = "{{" }, "load[0].requests[1].body", "invalid template"},
		{"bad header template", func(s *Scenario) { s.Load[0].Requests[1].Header["X"] = "{{.Nope}}" }, "load[0].requests[1].header.X", "can't evaluate field Nope"},
		{"method", func(s *Scenario) { s.Load[0].Requests[0].Method = "get" }, "load[0].requests[0].method", `unknown method "get"`},
		{"weight", func(s *Scenario) { s.Load[0].Requests[0].Weight = 0 }, "load[0].requests[0].weight", "weight 0 is less than 1"},
		{"duplicate route", func(s *Scenario) { s.Load[0].Requests[1].Name = s.Load[0].Requests[0].Name }, "load[0].requests[1].name", `duplicate route name "GET /v1/feed"`},
		{"timeout", func(s *Scenario) { s.Load[0].Timeout = 0 }, "load[0].timeout", "timeout 0s is not positive"},
		{"max workers", func(s *Scenario) { s.Load[0].MaxWorkers = -1 }, "load[0].maxWorkers", "maxWorkers -1 is negative"},
		{"fault name missing", func(s *Scenario) { s.Faults[0].Name = "" }, "faults[0].name", "required"},
		{"fault name duplicate", func(s *Scenario) { s.Faults[1].Name = s.Faults[0].Name }, "faults[1].name", `duplicate name "slow-api-1" (also faults[0])`},
		{"fault kind none", func(s *Scenario) { s.Faults[1].Process = nil }, "faults[1]", "exactly one of network, process, http, exec, pod is required, got none"},
		{"fault kind both", func(s *Scenario) { s.Faults[1].Network = s.Faults[0].Network }, "faults[1]", "got both"},
		{"at negative", func(s *Scenario) { s.Faults[0].At = -time.Second }, "faults[0].at", "at -1s is negative"},
		{"at the end", func(s *Scenario) { s.Faults[0].At = 40 * time.Second }, "faults[0].at", "at 40s is not before the end of the load (40s)"},
		{"for negative", func(s *Scenario) { s.Faults[0].For = -time.Second }, "faults[0].for", "for -1s is negative"},
		{"link", func(s *Scenario) { s.Faults[0].Network.Link = "gateway-api-3" }, "faults[0].network.link", `unknown link "gateway-api-3" (want one of client-gateway, gateway-api-1, gateway-api-2, api-store-1, api-store-2, repl-store-1, repl-store-2, api-cache, api-queue, worker-queue, worker-push)`},
		{"link with too many replicas", func(s *Scenario) { s.Target.Local.APIReplicas = 8; s.Faults[0].Network.Link = "gateway-api-9" }, "faults[0].network.link", "gateway-api-8, api-store-1,"},
		{"store link beyond the replicas", func(s *Scenario) { s.Faults[0].Network.Link = "repl-store-3" }, "faults[0].network.link", `unknown link "repl-store-3"`},
		{"store replicas", func(s *Scenario) { s.Target.Local.StoreReplicas = 4 }, "target.local.storeReplicas", "storeReplicas 4 is out of range (want 0 to 3)"},
		{"replication", func(s *Scenario) { s.Target.Local.Replication = "semi" }, "target.local.replication", `replication "semi" is not one of async, sync`},
		{"toxic", func(s *Scenario) { s.Faults[0].Network.Toxic = "slow" }, "faults[0].network.toxic", `unknown toxic "slow" (want one of latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, down)`},
		{"latency zero", func(s *Scenario) { s.Faults[0].Network.Latency = 0 }, "faults[0].network.latency", "latency 0s is not positive"},
		{"latency on timeout", func(s *Scenario) { s.Faults[0].Network.Toxic = ToxicTimeout; s.Faults[0].Network.Jitter = 0 }, "faults[0].network.latency", "latency applies only to toxic latency, not timeout"},
		{"bandwidth rate", func(s *Scenario) {
			n := s.Faults[0].Network
			n.Toxic, n.Latency, n.Jitter = ToxicBandwidth, 0, 0
		}, "faults[0].network.rateKBps", "rateKBps 0 is not positive"},
		{"toxicity high", func(s *Scenario) { *s.Faults[0].Network.Toxicity = 1.01 }, "faults[0].network.toxicity", "toxicity 1.01 is out of range (want 0 to 1)"},
		{"toxicity NaN", func(s *Scenario) { *s.Faults[0].Network.Toxicity = nan() }, "faults[0].network.toxicity", "out of range"},
		{"direction", func(s *Scenario) { s.Faults[0].Network.Direction = "sideways" }, "faults[0].network.direction", `unknown direction "sideways" (want one of upstream, downstream, both)`},
		{"empty selector", func(s *Scenario) { s.Faults[1].Process.Selector = nil }, "faults[1].process.selector", "an empty selector is not allowed"},
		{"selector key", func(s *Scenario) { s.Faults[1].Process.Selector = map[string]string{"app": "x"} }, "faults[1].process.selector.app", `unknown label "app" (want one of instance, role, service)`},
		{"selector matches nothing", func(s *Scenario) { s.Faults[1].Process.Selector = map[string]string{"role": "database"} }, "faults[1].process.selector",
			"selector {role: database} matches no process (processes: store-1 {role: store}, store-2 {role: store}, sentinel {role: sentinel}, cache {role: cache}, queue {role: queue}, pushmock {role: pushmock}, worker {role: worker}, api-1 {role: api}, api-2 {role: api}, gateway {role: gateway})"},
		{"signal", func(s *Scenario) { s.Faults[1].Process.Signal = "HUP" }, "faults[1].process.signal", `unknown signal "HUP" (want one of KILL, TERM, INT, STOP)`},
		{"count", func(s *Scenario) { s.Faults[1].Process.Mode, s.Faults[1].Process.Count = ModeFixed, 0 }, "faults[1].process.count", "count 0 is less than 1 (mode fixed hits count processes)"},
		{"stop without for", func(s *Scenario) { s.Faults[1].Process.Signal = SignalStop }, "faults[1].process.signal", "signal STOP requires the fault's for"},
		{"slo name", func(s *Scenario) { s.Checks.SLOs[2].Name = "" }, "checks.slos[2].name", "required"},
		{"slo name duplicate", func(s *Scenario) { s.Checks.SLOs[2].Name = "availability" }, "checks.slos[2].name", `duplicate name "availability" (also checks.slos[0])`},
		{"slo none", func(s *Scenario) { s.Checks.SLOs[2].PromQL = "" }, "checks.slos[2]", "exactly one of promql, client is required, got none"},
		{"slo both", func(s *Scenario) { s.Checks.SLOs[0].PromQL = "up" }, "checks.slos[0]", "got both"},
		{"sli", func(s *Scenario) { s.Checks.SLOs[0].Client.SLI = "errors" }, "checks.slos[0].client.sli", `unknown sli "errors" (want one of success_ratio, latency, throughput, dropped_ratio)`},
		{"quantile zero", func(s *Scenario) { s.Checks.SLOs[1].Client.Quantile = 0 }, "checks.slos[1].client.quantile", "quantile 0 is out of range"},
		{"quantile above one", func(s *Scenario) { s.Checks.SLOs[1].Client.Quantile = 99 }, "checks.slos[1].client.quantile", "quantile 99 is out of range"},
		{"quantile one", func(s *Scenario) { s.Checks.SLOs[1].Client.Quantile = 1; s.Checks.SLOs[1].Name = "" }, "checks.slos[1].name", "required"}, // 1 itself is fine
		{"quantile not latency", func(s *Scenario) { s.Checks.SLOs[0].Client.Quantile = 0.5 }, "checks.slos[0].client.quantile", "quantile applies only to sli latency, not success_ratio"},
		{"client stream", func(s *Scenario) { s.Checks.SLOs[0].Client.Stream = "web" }, "checks.slos[0].client.stream", `unknown stream "web" (want one of mobile)`},
		{"client route", func(s *Scenario) { s.Checks.SLOs[0].Client.Route = "feed" }, "checks.slos[0].client.route", `unknown route "feed" (want one of GET /v1/feed, POST /v1/posts)`},
		{"objective", func(s *Scenario) { s.Checks.SLOs[0].Objective = Objective{} }, "checks.slos[0].objective", "required"},
		{"objective op", func(s *Scenario) { s.Checks.SLOs[0].Objective.Op = "==" }, "checks.slos[0].objective", `unknown operator "=="`},
		{"during", func(s *Scenario) { s.Checks.SLOs[1].During[1] = "steady" }, "checks.slos[1].during[1]", `unknown phase "steady" (want one of warmup, fault, between, recovery, all)`},
		{"mode", func(s *Scenario) { s.Checks.SLOs[2].Mode = "" }, "checks.slos[2].mode", `unknown mode "" (want one of overall, always)`},
		{"step", func(s *Scenario) { s.Checks.SLOs[2].Step = 0 }, "checks.slos[2].step", "step 0s is not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid(t)
			tt.mutate(s)
			err := Validate(s)
			var serr *Error
			if !errors.As(err, &serr) {
				t.Fatalf("Validate(%s) = %v; want *Error", tt.name, err)
			}
			if len(serr.Problems) != 1 {
				t.Fatalf("Validate(%s) = %d problems:\n%v\nwant 1 at %s", tt.name, len(serr.Problems), err, tt.path)
			}
			p := serr.Problems[0]
			if p.Path != tt.path || !strings.Contains(p.Msg, tt.msg) {
				t.Errorf("Validate(%s) = %q; want path %s and a message containing %q", tt.name, p, tt.path, tt.msg)
			}
			if p.File != "testdata/brief.good.yaml" || p.Pos.Line == 0 {
				t.Errorf("Validate(%s) problem at %q %v; want a position in testdata/brief.good.yaml", tt.name, p.File, p.Pos)
			}
		})
	}
}

// TestValidateDoesNotMutate validates an invalid scenario and checks that it
// is unchanged.
func TestValidateDoesNotMutate(t *testing.T) {
	s := valid(t)
	s.Faults[1].Process.Signal = ""
	s.Checks.SLOs[0].During = nil
	before, _ := json.Marshal(s)
	if err := Validate(s); err == nil {
		t.Fatal("Validate(invalid) = nil; want problems")
	}
	after, _ := json.Marshal(s)
	if string(before) != string(after) {
		t.Errorf("Validate changed the scenario:\nbefore %s\nafter  %s", before, after)
	}
}

// TestValidateOrder: problems come in document order, whatever order the
// checks run in, and a scenario built in Go (no positions) still validates.
func TestValidateOrder(t *testing.T) {
	s := valid(t)
	s.Checks.SLOs[2].Mode = "x"
	s.Name = ""
	s.Faults[0].Network.Toxic = "x"
	err := Validate(s)
	var serr *Error
	if !errors.As(err, &serr) {
		t.Fatalf("Validate = %v; want *Error", err)
	}
	var paths []string
	for _, p := range serr.Problems {
		paths = append(paths, p.Path)
	}
	want := "name faults[0].network.toxic checks.slos[2].mode"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("Validate problem paths = %s; want %s", got, want)
	}

	s.pos = nil
	err = Validate(s)
	if !errors.As(err, &serr) || len(serr.Problems) != 3 || serr.Problems[0].Pos != (Pos{}) {
		t.Errorf("Validate(no positions) = %v; want 3 problems without positions", err)
	}
}

func TestValidateProgrammatic(t *testing.T) {
	s := &Scenario{
		APIVersion: APIVersion, Kind: KindScenario, Name: "go",
		Load: []Stream{{Name: "a", Duration: time.Second, Profile: Profile{Constant: &ConstantProfile{Rate: Rate{1, time.Second}}},
			Requests: []Request{{URL: "{{.Base}}/"}}}},
		Checks: Checks{SLOs: []SLO{{Name: "ok", Client: &ClientSLI{SLI: SLISuccessRatio}, Objective: Objective{Op: OpGE, Value: 0.99, Text: ">= 0.99"}}}},
	}
	if err := Validate(s); err == nil {
		t.Errorf("Validate(undefaulted) = nil; want problems (no target, no timeout...)")
	}
	SetDefaults(s)
	if err := Validate(s); err != nil {
		t.Errorf("Validate(SetDefaults(s)) = %v; want nil", err)
	}
}

// manyRoutes is a scenario of one stream with routes requests and slos
// SLOs, each naming a route that does not exist.
func manyRoutes(routes, slos int) *Scenario {
	st := Stream{Name: "s", Duration: time.Minute, Profile: Profile{Constant: &ConstantProfile{Rate: Rate{Freq: 1, Per: time.Second}}}}
	for i := range routes {
		st.Requests = append(st.Requests, Request{Name: fmt.Sprintf("r%d", i), URL: "{{.Base}}/"})
	}
	s := &Scenario{APIVersion: APIVersion, Kind: KindScenario, Name: "many", Load: []Stream{st}}
	for i := range slos {
		s.Checks.SLOs = append(s.Checks.SLOs, SLO{Name: fmt.Sprintf("slo%d", i), Client: &ClientSLI{SLI: SLISuccessRatio, Stream: "s", Route: "missing"},
			Objective: Objective{Op: OpGE, Value: 0.99, Text: ">= 0.99"}})
	}
	SetDefaults(s)
	return s
}

// TestManyRoutes: route checks are linear in the routes, not SLOs ×
// routes², and each message lists at most maxListed routes. The time bound
// is generous (issue 13 asks for under a second on a quiet machine).
func TestManyRoutes(t *testing.T) {
	s := manyRoutes(2000, 2000)
	done := make(chan error, 1)
	go func() { done <- Validate(s) }()
	select {
	case err := <-done:
		var serr *Error
		if !errors.As(err, &serr) || len(serr.Problems) != 2000 {
			t.Fatalf("Validate(2000 routes, 2000 SLOs) = %v; want 2000 problems", err)
		}
		if msg := serr.Problems[0].Msg; !strings.HasSuffix(msg, "r19 and 1980 more)") {
			t.Errorf("Validate(2000 routes).Problems[0].Msg = %q; want it to end \"r19 and 1980 more)\"", msg)
		}
	case <-time.After(fuzzInputTime * 5):
		t.Fatalf("Validate(2000 routes, 2000 SLOs) still running after %s", fuzzInputTime*5)
	}
}

// BenchmarkManyRoutes measures the route checks of a large scenario.
func BenchmarkManyRoutes(b *testing.B) {
	s := manyRoutes(2000, 2000)
	for b.Loop() {
		_ = Validate(s)
	}
}
