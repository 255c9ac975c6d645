package scenarios

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// base is a valid scenario that decode tests append to.
const base = `apiVersion: gameday/v1
kind: Scenario
name: t
load:
  - {name: a, duration: 30s, profile: {constant: {rate: 10/s}}, requests: [{url: "{{.Base}}/"}]}
`

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // the problems, exactly
	}{
		{"empty", "", []string{"f.yaml: the scenario is empty"}},
		{"only a document marker", "---\n", []string{"f.yaml:1:1: the scenario is empty"}},
		{"null document", "~\n", []string{"f.yaml:1:1: the scenario is empty"}},
		{"scalar document", "hello\n", []string{`f.yaml:1:1: expected a map, got the string "hello"`}},
		{"list document", "- a\n", []string{"f.yaml:1:1: expected a map, got a list"}},
		{"second document", base + "---\nname: u\n", []string{"f.yaml:6:1: a scenario file holds one document"}},
		{"second empty document", base + "---\n", []string{"f.yaml:6:1: a scenario file holds one document"}},
		{"syntax error in the second document", base + "---\n[\n", []string{"f.yaml:8:1: invalid YAML: did not find expected node content before the end of the file"}},
		{"unknown top-level key", base + "fault: []\n", []string{
			`f.yaml:6:1: fault: unknown field "fault" (known: apiVersion, kind, name, description, proves, runbook, target, metrics, sessions, load, faults, probes, checks)`}},
		{"File is not a key", base + "File: x\n", []string{
			`f.yaml:6:1: File: unknown field "File" (known: apiVersion, kind, name, description, proves, runbook, target, metrics, sessions, load, faults, probes, checks)`}},
		{"list key", base + "[a]: 1\n", []string{"f.yaml:6:1: a key must be a string, got a list"}},
		{"int overflow", base + "target: {local: {apiReplicas: 99999999999999999999}}\n", []string{
			"f.yaml:6:31: target.local.apiReplicas: expected an integer, got 99999999999999999999"}},
		{"float for int", base + "target: {local: {apiReplicas: 2.5}}\n", []string{
			"f.yaml:6:31: target.local.apiReplicas: expected an integer, got 2.5"}},
		{"quoted int", base + "target: {local: {apiReplicas: \"2\"}}\n", []string{
			`f.yaml:6:31: target.local.apiReplicas: expected an integer, got the string "2"`}},
		{"string for float", base + "faults: [{network: {toxicity: high}}]\n", []string{
			`f.yaml:6:31: faults[0].network.toxicity: expected a finite number, got the string "high"`}},
		{"map for string", base + "description: {a: b}\n", []string{
			"f.yaml:6:14: description: expected a string, got a map"}},
		{"list for header value", base + "faults: [{process: {selector: {role: [api]}}}]\n", []string{
			"f.yaml:6:38: faults[0].process.selector.role: expected a string, got a list"}},
		{"bad merge", base + "metrics: {<<: 1}\n", []string{
			"f.yaml:6:15: metrics: a merge key (<<) takes a map or a list of maps, got 1"}},
		{"problems in merged maps", base + "x: &m {bogus: 1}\n", []string{
			`f.yaml:6:1: x: unknown field "x" (known: apiVersion, kind, name, description, proves, runbook, target, metrics, sessions, load, faults, probes, checks)`}},
		{"aliases are expanded", base + "metrics: &m {scrapeInterval: 1s}\nchecks: *m\n", []string{
			`f.yaml:6:14: checks.scrapeInterval: unknown field "scrapeInterval" (known: slos, rto, rpo, abort)`}},
		{"every problem at once", base + "faults:\n  - {name: a, at: 5, network: {latncy: 1s}}\n  - {name: b, at: 1s, process: [x]}\n", []string{
			`f.yaml:7:19: faults[0].at: invalid duration "5": a bare number needs a unit, such as "5s" or "5ms"`,
			`f.yaml:7:32: faults[0].network.latncy: unknown field "latncy" (known: link, toxic, mobile, latency, jitter, timeout, rateKBps, delay, averageSize, sizeVariation, bytes, direction, toxicity)`,
			`f.yaml:8:32: faults[1].process: expected a map, got a list`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Decode("f.yaml", []byte(tt.in))
			var serr *Error
			if !errors.As(err, &serr) {
				t.Fatalf("Decode(%q) = %v, %v; want *Error", tt.in, s, err)
			}
			if s != nil {
				t.Errorf("Decode(%q) returned a scenario with its error", tt.in)
			}
			var got []string
			for _, p := range serr.Problems {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode(%q) problems:\n  %s\nwant:\n  %s", tt.in, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if serr.ExitCode() != 2 {
				t.Errorf("Decode(%q) error ExitCode() = %d; want 2", tt.in, serr.ExitCode())
			}
		})
	}
}

// TestDecodeTooManyAliases: aliases that expand a few kilobytes into a
// million nodes (100 streams x 100 requests x 100 headers) are cut off with
// one problem.
func TestDecodeTooManyAliases(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: gameday/v1\nkind: Scenario\nname: t\nload:\n  - requests: &r\n      - header: &h {")
	for i := range 100 {
		fmt.Fprintf(&b, "h%d: x, ", i)
	}
	b.WriteString("z: x}\n")
	for range 99 {
		b.WriteString("      - header: *h\n")
	}
	for range 99 {
		b.WriteString("  - requests: *r\n")
	}
	_, err := Decode("f.yaml", []byte(b.String()))
	var serr *Error
	if !errors.As(err, &serr) || len(serr.Problems) != 1 || !strings.Contains(serr.Problems[0].Msg, "too large once its aliases and merge keys (<<) are expanded") {
		t.Errorf("Decode(alias bomb) = %v; want one problem: too large once its aliases and merge keys (<<) are expanded", err)
	}
}

func TestDecodeValues(t *testing.T) {
	s, err := Decode("f.yaml", []byte(base+`target:
  local: {apiReplicas: 3, restartDelay: 0, toxiproxy: "http://[::1]:8474"}
faults:
  - {name: f, at: 0, for: 1m30s, network: {link: client-gateway, toxic: latency, latency: 250ms, toxicity: 0.25}}
checks:
  slos:
    - {name: a, client: {sli: latency, quantile: 0.9}, objective: "<= 300ms", during: fault}
    - {name: b, promql: "up", objective: ">= 99.5%", during: [warmup, recovery], step: 2s}
    - {name: c, promql: "up", objective: "> 1", during: null}
`))
	if err != nil {
		t.Fatalf("Decode = %v", err)
	}
	if got, want := *s.Target.Local, (LocalTarget{APIReplicas: 3, Toxiproxy: "http://[::1]:8474"}); got != want {
		t.Errorf("Target.Local = %+v; want %+v", got, want)
	}
	if got, want := s.Load[0].Profile.Constant.Rate, (Rate{10, time.Second}); got != want {
		t.Errorf("Load[0].Profile.Constant.Rate = %v; want %v", got, want)
	}
	f := s.Faults[0]
	if f.At != 0 || f.For != 90*time.Second || f.Network.Latency != 250*time.Millisecond || *f.Network.Toxicity != 0.25 {
		t.Errorf("Faults[0] = at %v, for %v, latency %v, toxicity %v; want 0s, 1m30s, 250ms, 0.25", f.At, f.For, f.Network.Latency, *f.Network.Toxicity)
	}
	slos := s.Checks.SLOs
	if got, want := slos[0].During, []Phase{PhaseFault}; !reflect.DeepEqual(got, want) {
		t.Errorf("SLOs[0].During = %v; want %v (a scalar is a list of one)", got, want)
	}
	if got, want := slos[1].During, []Phase{PhaseWarmup, PhaseRecovery}; !reflect.DeepEqual(got, want) {
		t.Errorf("SLOs[1].During = %v; want %v", got, want)
	}
	if slos[2].During != nil {
		t.Errorf("SLOs[2].During = %v; want nil for null", slos[2].During)
	}
	if got, want := slos[0].Objective, (Objective{Op: OpLE, Value: 0.3, Unit: UnitDuration, Text: "<= 300ms"}); got != want {
		t.Errorf("SLOs[0].Objective = %+v; want %+v", got, want)
	}
	if got, want := slos[1].Objective.Value, 0.995; got != want {
		t.Errorf("SLOs[1].Objective.Value = %g; want %g", got, want)
	}
	if slos[0].Client.Quantile != 0.9 || slos[1].Step != 2*time.Second {
		t.Errorf("SLOs quantile, step = %g, %v; want 0.9, 2s", slos[0].Client.Quantile, slos[1].Step)
	}
	if s.File != "f.yaml" {
		t.Errorf("File = %q; want f.yaml", s.File)
	}
}

func TestDecodeMergeKeys(t *testing.T) {
	s, err := Decode("f.yaml", []byte(`apiVersion: gameday/v1
kind: Scenario
name: t
load:
  - &a {name: a, duration: 30s, timeout: 1s, profile: {constant: {rate: 10/s}}, requests: [{url: "{{.Base}}/"}]}
  - <<: *a
    name: b
  - <<: [{duration: 5s}, *a]
    name: c
`))
	if err != nil {
		t.Fatalf("Decode = %v", err)
	}
	tests := []struct {
		i        int
		name     string
		duration time.Duration
	}{
		{0, "a", 30 * time.Second},
		{1, "b", 30 * time.Second}, // merged from a, name overridden
		{2, "c", 5 * time.Second},  // the first merged map wins
	}
	for _, tt := range tests {
		st := s.Load[tt.i]
		if st.Name != tt.name || st.Duration != tt.duration || st.Timeout != time.Second || len(st.Requests) != 1 {
			t.Errorf("Load[%d] = %q, %v, timeout %v, %d requests; want %q, %v, 1s, 1", tt.i, st.Name, st.Duration, st.Timeout, len(st.Requests), tt.name, tt.duration)
		}
	}
}

func TestDecodePositions(t *testing.T) {
	s, err := Decode("f.yaml", []byte(`apiVersion: gameday/v1
kind: Scenario
name: t
load:
  - name: a
    requests:
      - url: x
faults:
  - name: f
    network: {link: client-gateway, latency: 1s}
`))
	if err != nil {
		t.Fatalf("Decode = %v", err)
	}
	tests := []struct {
		path string
		want Pos
	}{
		{"", Pos{1, 1}},
		{"name", Pos{3, 7}},
		{"load", Pos{4, 1}},          // a list value is cited at its key
		{"load[0]", Pos{5, 5}},       // a list element at its start
		{"load[0].name", Pos{5, 11}}, // a scalar at its value
		{"load[0].requests[0].url", Pos{7, 14}},
		{"load[0].duration", Pos{5, 5}}, // not written: its parent
		{"faults[0].network", Pos{10, 5}},
		{"faults[0].network.latency", Pos{10, 46}},
		{"faults[0].network.toxic", Pos{10, 5}},
		{"faults[3].network.toxic", Pos{8, 1}},
		{"checks.slos[0]", Pos{1, 1}},
	}
	for _, tt := range tests {
		if got := s.Position(tt.path); got != tt.want {
			t.Errorf("Position(%q) = %v; want %v", tt.path, got, tt.want)
		}
	}
	if got := (&Scenario{}).Position("name"); got != (Pos{}) {
		t.Errorf("Scenario{}.Position(name) = %v; want zero", got)
	}
}

// TestDecodeMergeCycles: a map that merges itself, directly or through
// other maps, is reported at the alias that closes the cycle, with the map
// it names; nothing recurses without end.
func TestDecodeMergeCycles(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"root", "&a {<<: *a}\n", []string{
			"f.yaml:1:9: merge key (<<) cycle: *a is the map at 1:1, which already contains this merge"}},
		{"nested", base + "metrics: &m {<<: *m}\n", []string{
			"f.yaml:6:18: metrics: merge key (<<) cycle: *m is the map at 6:10, which already contains this merge"}},
		{"through an inline map", base + "metrics: &a {<<: {<<: *a}}\n", []string{
			"f.yaml:6:23: metrics: merge key (<<) cycle: *a is the map at 6:10, which already contains this merge"}},
		{"through three anchors", base + "metrics: &a {<<: &b {<<: &c {<<: *a}}}\n", []string{
			"f.yaml:6:34: metrics: merge key (<<) cycle: *a is the map at 6:10, which already contains this merge"}},
		{"in a list of maps", base + "metrics: &a\n  <<: [{scrapeInterval: 1s}, *a]\n", []string{
			"f.yaml:7:30: metrics: merge key (<<) cycle: *a is the map at 6:10, which already contains this merge"}},
		{"in a list behind an alias", base + "metrics: &a {<<: &l [*a]}\n", []string{
			"f.yaml:6:22: metrics: merge key (<<) cycle: *a is the map at 6:10, which already contains this merge"}},
		{"an outer map merged into an inner one is no cycle", base + "faults: [{name: f, at: 1s, process: {selector: &s {role: {<<: *s}}}}]\n", []string{
			"f.yaml:6:58: faults[0].process.selector.role: expected a string, got a map"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode("f.yaml", []byte(tt.in))
			var serr *Error
			if !errors.As(err, &serr) {
				t.Fatalf("Decode(%q) = %v; want *Error", tt.in, err)
			}
			var got []string
			for _, p := range serr.Problems {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode(%q) problems:\n  %s\nwant:\n  %s", tt.in, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// TestDecodeMergeKeysShared: a map merged in many places is no cycle.
func TestDecodeMergeKeysShared(t *testing.T) {
	s, err := Decode("f.yaml", []byte(base+`faults:
  - &f {name: a, at: 1s, network: &n {link: client-gateway, toxic: latency, latency: 1s}}
  - {<<: *f, name: b, network: {<<: *n, latency: 2s}}
  - {<<: [*f, *f], name: c, network: {<<: [*n, *n]}}
`))
	if err != nil {
		t.Fatalf("Decode = %v", err)
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, time.Second} {
		if got := s.Faults[i].Network.Latency; got != want {
			t.Errorf("Faults[%d].Network.Latency = %v; want %v", i, got, want)
		}
	}
}

// mergeBomb is a scenario of about a kilobyte whose merge keys list 9^levels
// keys: every level merges the one below nine times.
func mergeBomb(levels int) string {
	var b strings.Builder
	b.WriteString(base + "checks:\n  slos:\n    - &a0 {name: x, promql: up, objective: '> 0'}\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "    - &a%d {<<: [", i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	return b.String()
}

// TestDecodeMergeBomb: merged keys count against the node cap, so a merge
// bomb stops with one problem naming the cap after bounded work.
func TestDecodeMergeBomb(t *testing.T) {
	in := mergeBomb(12)
	if len(in) > 1024 {
		t.Fatalf("mergeBomb(12) is %d bytes; want at most 1024", len(in))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode("f.yaml", []byte(in))
	runtime.ReadMemStats(&after)
	var serr *Error
	if !errors.As(err, &serr) || len(serr.Problems) != 1 || !strings.Contains(serr.Problems[0].Msg, "more than 100000 nodes and keys, the cap") {
		t.Errorf("Decode(merge bomb) = %v; want one problem naming the cap of 100000 nodes and keys", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 100<<20 {
		t.Errorf("Decode(merge bomb) allocated %d MiB; want at most 100 MiB", alloc>>20)
	}
}

// TestDecodeTooManyProblems: past maxProblems, Decode says it stopped.
func TestDecodeTooManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString(base + "metrics:\n")
	for i := range 150 {
		fmt.Fprintf(&b, "  k%d: 1\n", i)
	}
	_, err := Decode("f.yaml", []byte(b.String()))
	var serr *Error
	if !errors.As(err, &serr) || len(serr.Problems) != maxProblems+1 {
		t.Fatalf("Decode(150 unknown keys) = %d problems; want %d", len(serr.Problems), maxProblems+1)
	}
	if got, want := serr.Problems[maxProblems].String(), "f.yaml:106:3: too many problems: stopped after the first 100"; got != want {
		t.Errorf("last problem = %q; want %q", got, want)
	}
}
