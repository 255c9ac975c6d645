package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	b, err := JSONSchema()
	if err != nil {
		t.Fatalf("JSONSchema() = %v", err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("JSONSchema() is not JSON: %v", err)
	}
	return schema
}

// TestJSONSchemaCoversEveryKey walks the Go types and checks that every yaml
// key is a property of its object in the schema.
func TestJSONSchemaCoversEveryKey(t *testing.T) {
	schema := loadSchema(t)
	if got := schema["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v; want draft 2020-12", got)
	}
	defs, _ := schema["$defs"].(map[string]any)
	seen := map[reflect.Type]bool{}
	var walk func(rt reflect.Type)
	keys := 0
	walk = func(rt reflect.Type) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Map {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || rt == rateType || rt == objectiveType || seen[rt] {
			return
		}
		seen[rt] = true
		def, _ := defs[rt.Name()].(map[string]any)
		if def == nil {
			t.Errorf("$defs has no %s", rt.Name())
			return
		}
		if def["additionalProperties"] != false {
			t.Errorf("$defs.%s.additionalProperties = %v; want false", rt.Name(), def["additionalProperties"])
		}
		props, _ := def["properties"].(map[string]any)
		for _, f := range yamlFields(rt) {
			keys++
			if props[f.name] == nil {
				t.Errorf("$defs.%s.properties has no %q", rt.Name(), f.name)
			}
			walk(rt.FieldByIndex(f.index).Type)
		}
		if len(props) != len(yamlFields(rt)) {
			t.Errorf("$defs.%s has %d properties; want %d", rt.Name(), len(props), len(yamlFields(rt)))
		}
	}
	walk(reflect.TypeFor[Scenario]())
	if keys < 50 {
		t.Errorf("walked %d yaml keys; want every key of the scenario types (more than 50)", keys)
	}
	enum := defs["NetworkFault"].(map[string]any)["properties"].(map[string]any)["toxic"].(map[string]any)["enum"]
	if fmt.Sprint(enum) != "[latency bandwidth slow_close timeout reset_peer slicer limit_data down]" {
		t.Errorf("NetworkFault.toxic enum = %v; want the toxic types", enum)
	}
}

// TestJSONSchemaAgreesWithLoad checks valid scenarios against the schema
// with a full JSON Schema validator: every good file of the testdata, every
// bundled game day and every example must pass, and the files with
// decode-level mistakes must fail.
func TestJSONSchemaAgreesWithLoad(t *testing.T) {
	schema := compileSchema(t)
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) < 5 {
		t.Fatalf("%d good files in testdata; want the corpus", len(files))
	}
	bundled, _ := filepath.Glob("*.yaml") // every bundled game day
	if len(bundled) < 10 {
		t.Fatalf("%d bundled game days; want the library", len(bundled))
	}
	var examples []string // examples/**/*.yaml
	err := filepath.WalkDir("../examples", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) == ".yaml" {
			examples = append(examples, path)
		}
		return err
	})
	if err != nil || len(examples) < 2 {
		t.Fatalf("%d examples; want those of ../examples", len(examples))
	}
	files = append(append(files, bundled...), examples...)
	for _, f := range files {
		if err := validateFile(t, schema, f); err != nil {
			t.Errorf("schema rejects %s: %v", f, err)
		}
	}
	for _, f := range []string{"misspelt-key", "three-mistakes", "wrong-kind", "bad-duration", "bad-rate", "bad-objective", "enums", "identity"} {
		path := "testdata/" + f + ".bad.yaml"
		if err := validateFile(t, schema, path); err == nil {
			t.Errorf("schema accepts %s; want it rejected", path)
		}
	}
}

// compileSchema compiles JSONSchema() with a JSON Schema validator that
// implements the whole of draft 2020-12 and first checks the schema against
// the draft's meta-schema.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := JSONSchema()
	if err != nil {
		t.Fatalf("JSONSchema() = %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("JSONSchema() is not JSON: %v", err)
	}
	const url = "https://gameday.invalid/scenario.schema.json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("add the schema: %v", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("the schema is not a valid draft 2020-12 schema: %v", err)
	}
	return s
}

// validateFile validates the YAML file at path against schema, as an
// editor's yaml-language-server would: YAML read as JSON values.
func validateFile(t *testing.T, schema *jsonschema.Schema, path string) error {
	t.Helper()
	doc, ok := yamlAsJSON(t, path)
	if !ok {
		t.Fatalf("%s is not YAML that JSON can hold", path)
	}
	return schema.Validate(doc)
}

// yamlAsJSON reads the YAML file at path as the JSON values a schema
// validator takes; false when it is not YAML whose keys are strings.
func yamlAsJSON(t *testing.T, path string) (any, bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if yaml.Unmarshal(data, &doc) != nil {
		return nil, false
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, false // a key that is not a string
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("re-read %s as JSON: %v", path, err)
	}
	return v, true
}

// schemaCannotSee are the bad-input files whose only problems a JSON
// Schema cannot express, with why: the schema cannot compare one value of
// a document with another (names unique within a list, references to names
// the scenario defines), nor parse the languages inside strings (PromQL,
// templates). gameday validate reports them; an editor with the schema
// does not.
var schemaCannotSee = map[string]string{
	"duplicate-names":       "names unique within a list: uniqueItems compares whole items, not one key of them",
	"promql":                "PromQL syntax and the type of its result",
	"routes-many":           "a route an SLO names must be a request's name: a value against others of the document",
	"template-loops":        "what a template does when run",
	"template":              "template syntax and the fields a template may use",
	"exec-command-template": "the folders and URLs an exec command names are the target's",
}

// TestDurationSignPatterns: the patterns that tell negative and zero
// durations apart match only durations that are negative (zero) by
// time.ParseDuration, so that the schema never refuses a valid one.
func TestDurationSignPatterns(t *testing.T) {
	if MinStep != time.Millisecond {
		t.Fatalf("MinStep = %v: belowMinStep's pattern is for 1ms; write it anew", MinStep)
	}
	negative := regexp.MustCompile(negativeDuration["pattern"].(string))
	zero := regexp.MustCompile(zeroDuration["anyOf"].([]any)[1].(map[string]any)["pattern"].(string))
	short := regexp.MustCompile(belowMinStep["pattern"].(string))
	for _, tc := range []struct {
		in                    string
		negative, zero, short bool
	}{
		{"-1s", true, false, false}, {"-1m0.5s", true, false, false}, {"-10ns", true, false, false}, {"-0h1ms", true, false, false},
		{"-0.5s", false, false, false}, {"-0.0000001ns", false, false, false}, {"-0s", false, true, false},
		{"0s", false, true, false}, {"0", false, true, false}, {"0.000ms", false, true, false}, {"+0s", false, true, false},
		{"1s", false, false, false}, {"10m", false, false, false}, {"0.5ms", false, false, false}, {"+1s", false, false, false}, {"1h0m0s", false, false, false},
		{"1ns", false, false, true}, {"999us", false, false, true}, {"999.999µs", false, false, true}, {"0999μs", false, false, true},
		{"1000us", false, false, false}, {"1ms", false, false, false}, {"0us", false, true, false}, {"1us1ns", false, false, false},
	} {
		d, err := time.ParseDuration(tc.in)
		if err != nil {
			t.Fatalf("time.ParseDuration(%q) = %v", tc.in, err)
		}
		if got := negative.MatchString(tc.in); got != tc.negative || (got && d >= 0) {
			t.Errorf("negativeDuration matches %q: %v; want %v (it is %v)", tc.in, got, tc.negative, d)
		}
		if got := zero.MatchString(tc.in); got != tc.zero || (got && d != 0) {
			t.Errorf("zeroDuration matches %q: %v; want %v (it is %v)", tc.in, got, tc.zero, d)
		}
		if got := short.MatchString(tc.in); got != tc.short || (got && (d <= 0 || d >= MinStep)) {
			t.Errorf("belowMinStep matches %q: %v; want %v (it is %v, MinStep %v)", tc.in, got, tc.short, d, MinStep)
		}
	}
}

// TestLocalLinkRule: the links the schema allows a network fault on the
// local target are exactly those of its Declaration, for every apiReplicas,
// storeReplicas and regions; and on a few targets, the schema and
// LoadBytes agree on every link.
func TestLocalLinkRule(t *testing.T) {
	dims := localLinkDims()
	all, excluded := localLinks(dims)
	configs := 0
	eachLocalTarget(dims, func(values []int, links []string) {
		configs++
		var allowed []string
		for _, l := range all {
			ok := true
			for i, v := range values {
				ok = ok && !slices.Contains(excluded[i][v], l)
			}
			if ok {
				allowed = append(allowed, l)
			}
		}
		want := slices.Clone(links)
		slices.Sort(want)
		want = slices.Compact(want)
		slices.Sort(allowed)
		if !slices.Equal(allowed, want) {
			t.Errorf("local target %v: the schema allows links %v; its Declaration has %v", values, allowed, want)
		}
	})
	if configs < 50 {
		t.Errorf("%d local targets checked; want every combination", configs)
	}

	schema := compileSchema(t)
	accepted := 0
	for _, local := range []map[string]any{
		nil, // no target: the local target with its defaults
		{},
		{"apiReplicas": 1},
		{"apiReplicas": MaxAPIReplicas, "storeReplicas": MaxStoreReplicas, "regions": 2},
		{"storeReplicas": 2, "regions": 2},
		{"regions": 1},
	} {
		for _, link := range append(all, "nowhere") {
			doc := smallScenario()
			doc["faults"] = []any{map[string]any{"name": "f", "at": "10s", "for": "5s", "network": map[string]any{"link": link, "toxic": "down"}}}
			if local != nil {
				doc["target"] = map[string]any{"local": local}
			}
			schemaErr, loadErr := judge(t, schema, doc)
			if (schemaErr == nil) != (loadErr == nil) {
				t.Errorf("target.local %v, link %s: schema says %v; LoadBytes says %v", local, link, schemaErr, loadErr)
			}
			if schemaErr == nil && loadErr == nil {
				accepted++
			}
		}
	}
	if accepted < 6*len(all)/3 {
		t.Errorf("%d scenarios accepted; want most links of every target (is the scenario valid?)", accepted)
	}
}

// smallScenario is a valid scenario on the local target, as JSON values.
func smallScenario() map[string]any {
	return map[string]any{
		"apiVersion": APIVersion, "kind": KindScenario, "name": "small",
		"load": []any{map[string]any{"name": "a", "duration": "30s", "profile": map[string]any{"constant": map[string]any{"rate": "1/s"}},
			"requests": []any{map[string]any{"url": "{{.Base}}/"}}}},
		"checks": map[string]any{"slos": []any{map[string]any{"name": "ok", "client": map[string]any{"sli": "success_ratio"}, "objective": ">= 0"}}},
	}
}

// judge returns what the schema and LoadBytes say of doc.
func judge(t *testing.T, schema *jsonschema.Schema, doc map[string]any) (schemaErr, loadErr error) {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, loadErr = LoadBytes("small.yaml", data)
	return schema.Validate(v), loadErr
}

// TestSchemaObjectiveUnits: the schema and LoadBytes agree on the unit
// of the objective of every client SLI.
func TestSchemaObjectiveUnits(t *testing.T) {
	schema := compileSchema(t)
	accepted := 0
	for _, k := range sliKinds {
		for _, o := range []string{">= 0.5", ">= 50%", "<= 300ms", ">= 40", "<= 1m30s", ">= 1e-2"} {
			doc := smallScenario()
			doc["checks"] = map[string]any{"slos": []any{map[string]any{"name": "ok", "client": map[string]any{"sli": k}, "objective": o}}}
			schemaErr, loadErr := judge(t, schema, doc)
			if schemaErr != nil && loadErr == nil {
				t.Errorf("sli %s, objective %q: the schema refuses it (%v); LoadBytes accepts it", k, o, schemaErr)
			}
			if loadErr == nil {
				accepted++
			}
		}
	}
	if accepted < len(sliKinds) {
		t.Errorf("%d objectives accepted; want some for every SLI", accepted)
	}
}

// TestIntAbove checks intAbove against every number up to 20000.
func TestIntAbove(t *testing.T) {
	for _, n := range []int64{0, 1, 9, 10, 99, 168, 1000, 10080, 1000000} {
		re := regexp.MustCompile("^(" + intAbove(n) + ")$")
		for x := range int64(20000) {
			if got := re.MatchString(strconv.FormatInt(x, 10)); got != (x > n) {
				t.Errorf("intAbove(%d) matches %d: %v", n, x, got)
			}
		}
		if x := strconv.FormatInt(n, 10) + "0"; !re.MatchString(x) && n > 0 {
			t.Errorf("intAbove(%d) does not match %s", n, x)
		}
	}
}

// TestRateOutOfRange: the rates the schema refuses as out of range are
// valid rates that Validate refuses as out of range; those at the bounds
// pass.
func TestRateOutOfRange(t *testing.T) {
	re := regexp.MustCompile(rateOutOfRange()["pattern"].(string))
	for _, tc := range []struct {
		in  string
		out bool
	}{
		{"1000001/s", true}, {"1000000000/ns", true}, {"1/ns", true}, {"1001/ms", true}, {"2/us", true}, {"60000001/m", true},
		{"1/10000h", true}, {"1/169h", true}, {"5 / 1s", false}, {"1/10081m", true},
		{"1000000/s", false}, {"1000/ms", false}, {"1/us", false}, {"60000000/m", false}, {"1/168h", false}, {"1/10080m", false},
		{"50/100ms", false}, {"200/s", false}, {"1/2s", false},
	} {
		r, err := ParseRate(tc.in)
		if err != nil {
			t.Fatalf("ParseRate(%q) = %v", tc.in, err)
		}
		out := r.PerSecond() > MaxRate || r.Per > MaxDuration
		if got := re.MatchString(tc.in); got != tc.out || (got && !out) {
			t.Errorf("rateOutOfRange matches %q: %v; want %v (%v per second, period %v)", tc.in, got, tc.out, r.PerSecond(), r.Per)
		}
	}
}

// TestSchemaRejectsTheCorpus: the schema rejects every file of the
// bad-input corpus but those whose problems no schema can express
// (schemaCannotSee), and each of those is still listed for a reason.
func TestSchemaRejectsTheCorpus(t *testing.T) {
	schema := compileSchema(t)
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) < 200 {
		t.Fatalf("%d bad-input files; want the corpus", len(files))
	}
	accepted := map[string]bool{}
	notYAML := 0
	for _, f := range files {
		doc, ok := yamlAsJSON(t, f)
		if !ok {
			notYAML++
			continue // not YAML, or not JSON's: no schema validator gets as far
		}
		name := strings.TrimSuffix(filepath.Base(f), ".bad.yaml")
		if schema.Validate(doc) == nil {
			accepted[name] = true
			if schemaCannotSee[name] == "" {
				t.Errorf("the schema accepts %s", f)
			}
		}
	}
	for name, why := range schemaCannotSee {
		if !accepted[name] {
			t.Errorf("%s is listed as beyond the schema (%s) but the schema rejects it: remove it from the list", name, why)
		}
	}
	t.Logf("%d bad-input files: %d are not YAML (the editor's parser refuses them); of the %d others the schema rejects %d and %d need gameday validate",
		len(files), notYAML, len(files)-notYAML, len(files)-notYAML-len(accepted), len(accepted))
}
