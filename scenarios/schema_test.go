package scenarios

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

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

// TestJSONSchemaAgreesWithLoad checks the testdata against the schema with
// a small validator of the keywords JSONSchema uses: every good file must
// pass, and the files with decode-level mistakes must fail.
func TestJSONSchemaAgreesWithLoad(t *testing.T) {
	schema := loadSchema(t)
	files, _ := filepath.Glob("testdata/*.good.yaml")
	bundled, _ := filepath.Glob("*.yaml") // every bundled game day
	if len(bundled) < 10 {
		t.Fatalf("%d bundled game days; want the library", len(bundled))
	}
	files = append(files, bundled...)
	for _, f := range files {
		if errs := validateFile(t, schema, f); len(errs) > 0 {
			t.Errorf("schema rejects %s: %v", f, errs)
		}
	}
	for _, f := range []string{"misspelt-key", "three-mistakes", "wrong-kind", "bad-duration", "bad-rate", "bad-objective", "enums", "identity"} {
		path := "testdata/" + f + ".bad.yaml"
		if errs := validateFile(t, schema, path); len(errs) == 0 {
			t.Errorf("schema accepts %s; want it rejected", path)
		}
	}
}

func validateFile(t *testing.T, schema map[string]any, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("yaml.Unmarshal(%s) = %v", path, err)
	}
	var errs []string
	check(schema, schema, doc, "", &errs)
	return errs
}

// check validates x against the schema s (resolving $ref in root).
func check(root, s map[string]any, x any, path string, errs *[]string) {
	fail := func(format string, args ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := s["$ref"].(string); ok {
		def := root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		check(root, def, x, path, errs)
	}
	if typ, ok := s["type"].(string); ok && !hasType(typ, x) {
		fail("want %s, got %T", typ, x)
		return
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(x) {
		fail("want %v, got %v", c, x)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return e == x }) {
		fail("%v is not in %v", x, enum)
	}
	if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x.(string)) {
		fail("%q does not match %s", x, p)
	}
	if n, ok := s["maxLength"].(float64); ok && len(x.(string)) > int(n) {
		fail("too long")
	}
	if num, ok := asNumber(x); ok {
		if m, ok := s["minimum"].(float64); ok && num < m {
			fail("%v is below the minimum %v", num, m)
		}
		if m, ok := s["maximum"].(float64); ok && num > m {
			fail("%v is above the maximum %v", num, m)
		}
		if m, ok := s["exclusiveMinimum"].(float64); ok && num <= m {
			fail("%v is not above %v", num, m)
		}
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		subs, ok := s[kw].([]any)
		if !ok {
			continue
		}
		passed := 0
		for _, sub := range subs {
			var e []string
			check(root, sub.(map[string]any), x, path, &e)
			if len(e) == 0 {
				passed++
			}
		}
		if passed == 0 || (kw == "oneOf" && passed > 1) {
			fail("%d of the %s match", passed, kw)
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		for i, e := range x.([]any) {
			check(root, items, e, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
	obj, isObj := x.(map[string]any)
	if !isObj {
		return
	}
	for _, r := range asList(s["required"]) {
		if _, ok := obj[r.(string)]; !ok {
			fail("missing %s", r)
		}
	}
	if n, ok := s["minProperties"].(float64); ok && len(obj) < int(n) {
		fail("fewer than %v properties", n)
	}
	if n, ok := s["maxProperties"].(float64); ok && len(obj) > int(n) {
		fail("more than %v properties", n)
	}
	props, _ := s["properties"].(map[string]any)
	for k, v := range obj {
		if names, ok := s["propertyNames"].(map[string]any); ok {
			check(root, names, k, path+"."+k, errs)
		}
		if p, ok := props[k]; ok {
			check(root, p.(map[string]any), v, path+"."+k, errs)
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap && props != nil {
				fail("unknown key %q", k)
			}
		case map[string]any:
			check(root, ap, v, path+"."+k, errs)
		}
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

func asNumber(x any) (float64, bool) {
	switch n := x.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func hasType(typ string, x any) bool {
	switch typ {
	case "object":
		_, ok := x.(map[string]any)
		return ok
	case "array":
		_, ok := x.([]any)
		return ok
	case "string":
		_, ok := x.(string)
		return ok
	case "integer":
		_, ok := x.(int)
		return ok
	case "number":
		switch x.(type) {
		case int, float64:
			return true
		}
	case "boolean":
		_, ok := x.(bool)
		return ok
	}
	return false
}

// schemaCannotSee are the bad-input files whose only problems a JSON
// Schema cannot express, with why: names that refer to each other,
// relations between fields, parsing PromQL and templates, bounds of
// durations and rates written as strings. gameday validate reports them;
// an editor with the schema does not.
var schemaCannotSee = map[string]string{
	"check-names":            "names unique across check kinds",
	"duplicate-names":        "route names unique within a stream",
	"objective-units":        "an objective's range depends on its SLI",
	"overflow":               "a duration's maximum, written as a string",
	"pod-on-local":           "a pod fault depends on the target's kind",
	"processes":              "base depends on the edges from the client",
	"profile-spike":          "the spike's end against the stream's duration",
	"promql":                 "PromQL syntax",
	"rate-max":               "a rate's maximum, written as a string",
	"routes-many":            "a route named in an SLO must exist",
	"rpo-probe-none":         "an RPO check needs a write probe",
	"rpo-probe":              "a probe name is needed when there are several",
	"steady-state-no-faults": "steadyState needs a fault",
	"step-range":             "a duration's minimum, written as a string",
	"stop-without-for":       "signal STOP needs the fault's for",
	"template-loops":         "what a template does when run",
	"template":               "the fields a template may use",
	"unknown-link":           "a link must exist in the target",
	"lone-store-sync":        "sync replication needs storeReplicas of 1 or more: a rule between two fields",
	"exec-command-template":  "the folders and URLs an exec command names are the target's",
}

// TestSchemaRejectsTheCorpus: the schema rejects every file of the
// bad-input corpus but those whose problems no schema can express
// (schemaCannotSee), and each of those is still listed for a reason.
func TestSchemaRejectsTheCorpus(t *testing.T) {
	schema := loadSchema(t)
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) < 200 {
		t.Fatalf("%d bad-input files; want the corpus", len(files))
	}
	accepted := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if yaml.Unmarshal(data, &doc) != nil {
			continue // not YAML: no schema validator gets as far
		}
		var errs []string
		check(schema, schema, doc, "", &errs)
		name := strings.TrimSuffix(filepath.Base(f), ".bad.yaml")
		if len(errs) == 0 {
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
	t.Logf("%d bad-input files: the schema rejects %d; %d need gameday validate", len(files), len(files)-len(accepted), len(accepted))
}
