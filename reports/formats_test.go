package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	junit "github.com/joshdk/go-junit"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gameday/gameday/slo"
)

func render(t *testing.T, write WriterFunc, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestJUnitGolden(t *testing.T) {
	golden(t, "junit.xml", render(t, WriteJUnit, sample()))
}

// TestJUnitReadBack reads junit.xml with a JUnit consumer library, as a CI
// server would: one test case per check and injection, failures carrying
// the measured value, the objective and the HTML report's path.
func TestJUnitReadBack(t *testing.T) {
	r := sample()
	suites, err := junit.Ingest(render(t, WriteJUnit, r))
	if err != nil {
		t.Fatalf("junit.Ingest(junit.xml) = %v", err)
	}
	if len(suites) != 1 {
		t.Fatalf("junit.Ingest(junit.xml) = %d suites; want 1", len(suites))
	}
	s := suites[0]
	if got, want := len(s.Tests), len(r.Checks)+len(r.RTO)+len(r.RPO); got != want {
		t.Fatalf("junit.xml has %d test cases; want %d (one per check)", got, want)
	}
	if s.Totals.Failed != 4 || s.Totals.Passed != 2 {
		t.Errorf("junit.xml totals = %+v; want 4 failed, 2 passed", s.Totals)
	}
	if got := s.Properties["report"]; got != "runs/20261123T070000Z-quickstart/report.html" {
		t.Errorf("junit.xml property report = %q; want the HTML report's path", got)
	}
	byName := map[string]junit.Test{}
	for _, c := range s.Tests {
		byName[c.Name] = c
	}
	p99 := byName["p99|pipe"]
	if p99.Status != junit.StatusFailed || p99.Classname != "gameday.quickstart.slo" {
		t.Fatalf("test case p99|pipe = %+v; want a failed SLO", p99)
	}
	if !strings.Contains(p99.Message, "measured 160ms, objective <= 100ms") {
		t.Errorf("p99|pipe failure message = %q; want the measured value and the objective", p99.Message)
	}
	if body := p99.Error.(junit.Error).Body; !strings.Contains(body, "report: runs/20261123T070000Z-quickstart/report.html") || !strings.Contains(body, "too slow") {
		t.Errorf("p99|pipe failure body = %q; want the detail and the report's path", body)
	}
	for name, want := range map[string]junit.Status{"availability": junit.StatusPassed, "api-recovers": junit.StatusPassed, "slow-recovers": junit.StatusFailed, "no-loss": junit.StatusFailed, "empty": junit.StatusFailed} {
		if got := byName[name].Status; got != want {
			t.Errorf("test case %s: status %s; want %s", name, got, want)
		}
	}
}

// TestJUnitRunError: an aborted run adds an error test case naming why.
func TestJUnitRunError(t *testing.T) {
	r := sample()
	r.Status, r.Reason = StatusAborted, "abort condition tripped: success ratio 0.2"
	suites, err := junit.Ingest(render(t, WriteJUnit, r))
	if err != nil {
		t.Fatal(err)
	}
	last := suites[0].Tests[len(suites[0].Tests)-1]
	if last.Name != "run" || last.Status != junit.StatusError || !strings.Contains(last.Message, "abort condition tripped") {
		t.Errorf("last test case = %+v; want the run's error", last)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("report.schema.json")
	if err != nil {
		t.Fatalf("compile report.schema.json: %v", err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, b []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(doc)
}

// TestJSONSchema: what WriteJSON writes is valid against
// report.schema.json, for a full report and a bare one, and the schema
// refuses what it must: another version, a field it does not know (a
// latency without its unit), a ratio above 1.
func TestJSONSchema(t *testing.T) {
	s := compileSchema(t)
	bare := &Report{Scenario: "x", Dir: "d", Status: StatusAborted, Reason: "the run ended before the load started"}
	for name, r := range map[string]*Report{"sample": sample(), "bare": bare} {
		if err := validate(t, s, render(t, WriteJSON, r)); err != nil {
			t.Errorf("report.json of %s against report.schema.json: %v", name, err)
		}
	}
	real, err := os.ReadFile(filepath.Join("testdata", "run.report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, s, real); err != nil {
		t.Errorf("testdata/run.report.json (a real run's) against report.schema.json: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(render(t, WriteJSON, sample()), &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
	}{
		{"another version", func(d map[string]any) { d["version"] = "gameday.report/v0" }},
		{"a latency without its unit", func(d map[string]any) { d["load"].([]any)[0].(map[string]any)["p99"] = 160000000 }},
		{"a ratio above 1", func(d map[string]any) { d["load"].([]any)[0].(map[string]any)["successRatio"] = 1.5 }},
		{"no version", func(d map[string]any) { delete(d, "version") }},
	} {
		var d map[string]any
		b, _ := json.Marshal(doc)
		_ = json.Unmarshal(b, &d)
		tc.change(d)
		b, _ = json.Marshal(d)
		if err := validate(t, s, b); err == nil {
			t.Errorf("report.schema.json accepts %s; want an error", tc.name)
		}
	}
}

// TestReadJSONRefusesAnotherVersion: compare must not judge a file it
// would misread.
func TestReadJSONRefusesAnotherVersion(t *testing.T) {
	if _, err := ReadJSON(strings.NewReader(`{"version":"gameday.report/v0"}`)); err == nil {
		t.Error(`ReadJSON({"version":"gameday.report/v0"}) = nil error; want a refusal`)
	}
}

// TestTableFits100Columns: a long PromQL SLI and a long detail do not
// widen the verdict table past TableWidth.
func TestTableFits100Columns(t *testing.T) {
	r := sample()
	r.Checks = append(r.Checks, slo.Verdict{
		Name: "a-very-long-check-name-that-goes-on-and-on", Mode: "always", During: []string{"warmup", "fault", "between", "recovery"},
		SLI:       `sum(rate(refapp_http_requests_total{code=~"5..",role="api",instance=~"api-.*"}[5s])) / sum(rate(refapp_http_requests_total{role="api"}[5s]))`,
		Objective: "<= 0.001", MeasuredText: "0.0123456789",
		Detail: strings.Repeat("the worst step was far above the objective, ", 6),
	})
	out := string(render(t, WriteTable, r))
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > TableWidth {
			t.Errorf("line %d is %d columns; want at most %d:\n%s", i+1, n, TableWidth, line)
		}
	}
	if !strings.Contains(out, "sum(rate(refapp_http_req") || !strings.Contains(out, "…") {
		t.Errorf("table lacks the cut PromQL:\n%s", out)
	}
}

func TestSelectFormats(t *testing.T) {
	for _, tc := range []struct {
		list string
		want string
	}{
		{"", "json,md,junit,html"},
		{"all", "json,md,junit,html"},
		{"html,json", "json,html"},
		{" junit ", "junit"},
	} {
		got, err := SelectFormats(tc.list)
		var names []string
		for _, f := range got {
			names = append(names, f.Name)
		}
		if err != nil || strings.Join(names, ",") != tc.want {
			t.Errorf("SelectFormats(%q) = %v, %v; want %s", tc.list, names, err, tc.want)
		}
	}
	if _, err := SelectFormats("json,pdf"); err == nil || !strings.Contains(err.Error(), `"pdf"`) {
		t.Errorf(`SelectFormats("json,pdf") = %v; want an error naming pdf`, err)
	}
}

// TestHTMLSelfContained: the page carries the chart library and the data,
// links the raw files relatively, loads nothing from elsewhere, and is
// the same bytes when written twice.
func TestHTMLSelfContained(t *testing.T) {
	r := sample()
	a, b := render(t, WriteHTML, r), render(t, WriteHTML, r)
	if !bytes.Equal(a, b) {
		t.Error("WriteHTML twice gave different bytes")
	}
	page := string(a)
	for _, want := range []string{"uPlot", `id="gameday-data"`, `<a href="results/mobile.gob">`, "name: quickstart", `data-chart="latency"`, "api-7d9f-x2k4q"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	evil := sample()
	evil.Faults[0].Name = "</script><b>evil"
	evil.Checks[0].Name = "<img src=x onerror=alert(1)>"
	if page := string(render(t, WriteHTML, evil)); strings.Contains(page, "</script><b>evil") || strings.Contains(page, "<img src=x") {
		t.Error("report.html lets a name of the run out as markup")
	}
	for _, bad := range []string{`src="http`, `href="http`, "<link ", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("report.html has %q: it must load nothing from elsewhere", bad)
		}
	}
}
