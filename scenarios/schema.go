package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
)

// The patterns of the string-encoded values, as JSON Schema regular
// expressions. They follow ParseRate, ParseObjective and the decoder's
// duration rule; Decode remains the authority.
const (
	unitPattern      = `(ns|us|µs|μs|ms|s|m|h)`
	numberPattern    = `([0-9]+(\.[0-9]*)?|\.[0-9]+)`
	durationPattern  = `^[-+]?(0|(` + numberPattern + unitPattern + `)+)$`
	ratePattern      = `^\s*[0-9]+\s*/\s*(` + unitPattern + `|[-+]?(` + numberPattern + unitPattern + `)+)\s*$`
	objectivePattern = `^\s*(<=|>=|<|>)\s*[-+]?(` + numberPattern + `([eE][-+]?[0-9]+)?%?|(` + numberPattern + unitPattern + `)+)\s*$`
)

// JSONSchema returns the JSON Schema (draft 2020-12) of a scenario file,
// generated from the Go types: every object refuses unknown keys, enum-like
// strings list their values, and durations, rates and objectives carry the
// pattern of their string form. It is meant for editors; Decode and Validate
// remain the authority (the schema cannot check cross-references such as
// links, selectors or stream names).
func JSONSchema() ([]byte, error) {
	g := &schemaGen{defs: map[string]any{}}
	root := g.schema(reflect.TypeFor[Scenario](), "")
	doc := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"title":       "gameday scenario",
		"description": "A game day: a target, the load sent to it, the faults injected on a timeline and the SLOs that judge the run (apiVersion " + APIVersion + ").",
		"$ref":        root["$ref"],
		"$defs":       g.defs,
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "<=" readable in the patterns
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode JSON schema: %w", err)
	}
	return b.Bytes(), nil
}

// schemaGen builds one $defs entry per struct type.
type schemaGen struct {
	defs map[string]any
}

// enumValues returns the allowed values of the enum-like types.
func enumValues() map[reflect.Type][]string {
	return map[reflect.Type][]string{
		reflect.TypeFor[ToxicType]():     stringsOf(toxicTypes),
		reflect.TypeFor[Direction]():     stringsOf(directions),
		reflect.TypeFor[Signal]():        stringsOf(signals),
		reflect.TypeFor[MobilePreset]():  stringsOf(presets),
		reflect.TypeFor[VictimMode]():    stringsOf(victims),
		reflect.TypeFor[ClientSLIKind](): stringsOf(sliKinds),
		reflect.TypeFor[Phase]():         stringsOf(phases),
		reflect.TypeFor[Mode]():          stringsOf(modes),
	}
}

func stringsOf[T ~string](xs []T) []string {
	ss := make([]string, len(xs))
	for i, x := range xs {
		ss[i] = string(x)
	}
	return ss
}

// requiredFields are the keys a valid scenario always has in each object
// (those that have no default and that Validate requires).
func requiredFields() map[reflect.Type][]string {
	return map[reflect.Type][]string{
		reflect.TypeFor[Scenario]():         {"apiVersion", "kind", "name", "load", "checks"},
		reflect.TypeFor[Stream]():           {"name", "duration", "profile", "requests"},
		reflect.TypeFor[ConstantProfile]():  {"rate"},
		reflect.TypeFor[LinearProfile]():    {"from", "to"},
		reflect.TypeFor[Stage]():            {"duration", "rate"},
		reflect.TypeFor[SpikeProfile]():     {"base", "peak", "at", "for"},
		reflect.TypeFor[SineProfile]():      {"mean", "amplitude", "period"},
		reflect.TypeFor[Request]():          {"url"},
		reflect.TypeFor[Fault]():            {"name", "at"},
		reflect.TypeFor[NetworkFault]():     {"link"},
		reflect.TypeFor[Repeat]():           {"every", "count"},
		reflect.TypeFor[HTTPFault]():        {"url"},
		reflect.TypeFor[HTTPRequest]():      {"url"},
		reflect.TypeFor[ExecFault]():        {"command"},
		reflect.TypeFor[ExecCommand]():      {"command"},
		reflect.TypeFor[ProcessFault]():     {"selector"},
		reflect.TypeFor[PodFault]():         {"namespace"},
		reflect.TypeFor[KubernetesTarget](): {"baseURL", "namespaces"},
		reflect.TypeFor[SLO]():              {"name", "objective"},
		reflect.TypeFor[ClientSLI]():        {"sli"},
		reflect.TypeFor[RTO]():              {"name", "fault", "recovery", "objective"},
		reflect.TypeFor[RPO]():              {"name", "fault", "objective"},
		reflect.TypeFor[Abort]():            {"name", "objective"},
		reflect.TypeFor[WriteProbe]():       {"name", "write", "read"},
		reflect.TypeFor[ProbeRequest]():     {"url"},
	}
}

// headerNamePattern is an HTTP header name: an RFC 9110 token.
const headerNamePattern = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"

// fieldBounds are the bounds of numbers and the forms of strings that the
// schema can say, by "Type.key": validation checks the same, and more.
func fieldBounds() map[string]map[string]any {
	count := func(lo, hi int) map[string]any { return map[string]any{"minimum": lo, "maximum": hi} }
	quantile := map[string]any{"exclusiveMinimum": 0, "maximum": 1}
	httpURL := map[string]any{"pattern": "^(https?://|\\{\\{)"} // or a template that makes one
	b := map[string]map[string]any{
		"LocalTarget.apiReplicas":      count(1, MaxAPIReplicas),
		"LocalTarget.storeReplicas":    count(1, MaxStoreReplicas),
		"LocalTarget.gatewayRateLimit": count(1, MaxGatewayRateLimit),
		"LocalTarget.regions":          count(0, 2), // 0, absent: one region
		"LocalAutoscale.maxReplicas":   count(1, MaxAPIReplicas),
		"Session.users":                count(1, MaxSessionUsers),
		"ClientSLI.quantile":           quantile,
		"Recovery.quantile":            quantile,
		"ExternalTarget.baseURL":       httpURL,
		"KubernetesTarget.baseURL":     httpURL,
		"Service.replicas":             count(1, MaxReplicas),
		"Repeat.count":                 count(2, MaxRepeatCount),
		"HealthCheck.path":             {"pattern": "^/"},
		"MetricsEndpoint.path":         {"pattern": "^/"},
		"SpikeProfile.at":              {"not": negativeDuration},
		"SpikeProfile.for":             {"not": map[string]any{"anyOf": []any{negativeDuration, zeroDuration}}},
	}
	name := func(re string) map[string]any { return map[string]any{"pattern": re, "maxLength": maxNameLen} }
	for _, t := range []string{"Stream", "Fault", "SLO", "RTO", "RPO", "Abort", "Session", "Service", "Edge", "ExternalLink"} {
		b[t+".name"] = name(labelName.String())
	}
	b["WriteProbe.name"] = name(scenarioName.String())
	return b
}

// negativeDuration matches the durations (valid ones, by the duration
// pattern) that are surely below zero: a leading '-' and a part whose
// whole number is not 0. A fraction alone ("-0.5ns") may round to 0 and is
// left to Validate.
var negativeDuration = map[string]any{"type": "string", "pattern": `^-(.*[a-zµμ])?0*[1-9]`}

// zeroDuration matches the durations that are 0: a number 0, or a string
// without a digit other than 0.
var zeroDuration = map[string]any{"anyOf": []any{map[string]any{"const": 0}, map[string]any{"type": "string", "pattern": `^[^1-9]*$`}}}

// schema returns the schema of a value of type t at the yaml key key.
func (g *schemaGen) schema(t reflect.Type, key string) map[string]any {
	switch t {
	case durationType:
		return map[string]any{
			"description": `a Go duration, such as "30s", "1m30s" or "250ms"`,
			"anyOf":       []any{map[string]any{"type": "string", "pattern": durationPattern}, map[string]any{"const": 0}},
		}
	case rateType:
		return map[string]any{"type": "string", "pattern": ratePattern, "description": `<count>/<period>, such as "200/s", "50/100ms" or "30/1m"`}
	case objectiveType:
		return map[string]any{"type": "string", "pattern": objectivePattern, "description": `<op> <value>, such as ">= 0.99", ">= 99.5%" or "<= 300ms"`}
	case reflect.TypeFor[[]Phase]():
		phase := g.schema(phaseType, key)
		return map[string]any{"anyOf": []any{phase, map[string]any{"type": "array", "items": phase}}}
	}
	if values, ok := enumValues()[t]; ok {
		return map[string]any{"type": "string", "enum": values}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem(), key)
	case reflect.Struct:
		return g.object(t)
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem(), "")}
	case reflect.Map:
		m := map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem(), "")}
		if key == "selector" {
			m["minProperties"] = 1
		}
		if key == "header" {
			m["propertyNames"] = map[string]any{"pattern": headerNamePattern}
		}
		return m
	case reflect.String:
		if key == "method" {
			return map[string]any{"type": "string", "enum": methods}
		}
		return map[string]any{"type": "string"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	}
	panic(fmt.Sprintf("scenarios: no JSON schema for Go type %s", t)) // a types.go change this file must follow
}

// object adds the $defs entry of a struct type and returns a reference to it.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	ref := map[string]any{"$ref": "#/$defs/" + t.Name()}
	if _, done := g.defs[t.Name()]; done {
		return ref
	}
	props := map[string]any{}
	g.defs[t.Name()] = map[string]any{} // placeholder against recursion
	for _, f := range yamlFields(t) {
		prop := g.schema(t.FieldByIndex(f.index).Type, f.name)
		maps.Copy(prop, fieldBounds()[t.Name()+"."+f.name])
		if doc := userDoc(fieldDoc(t, f.index), t.FieldByIndex(f.index).Name); doc != "" {
			if d, ok := prop["description"].(string); ok {
				doc += " (" + d + ")"
			}
			prop["description"] = doc
		}
		props[f.name] = prop
	}
	def := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if doc := fieldDocs[t.Name()]; doc != "" {
		def["description"] = doc
	}
	if req := requiredFields()[t]; req != nil {
		def["required"] = req
	}
	switch t {
	case reflect.TypeFor[Profile]():
		def["minProperties"], def["maxProperties"] = 1, 1
	case reflect.TypeFor[Fault]():
		def["oneOf"] = []any{map[string]any{"required": []string{"network"}}, map[string]any{"required": []string{"process"}},
			map[string]any{"required": []string{"http"}}, map[string]any{"required": []string{"exec"}}, map[string]any{"required": []string{"pod"}}}
	case reflect.TypeFor[SLO](), reflect.TypeFor[Abort]():
		def["oneOf"] = []any{map[string]any{"required": []string{"promql"}}, map[string]any{"required": []string{"client"}}}
	case reflect.TypeFor[Checks]():
		// At least one check that can fail a run; abort alone cannot.
		def["anyOf"] = []any{map[string]any{"required": []string{"slos"}}, map[string]any{"required": []string{"rto"}}, map[string]any{"required": []string{"rpo"}}}
	case reflect.TypeFor[Recovery]():
		// Client-side (successRatio and/or latency) or promql with objective.
		def["oneOf"] = []any{
			map[string]any{"anyOf": []any{map[string]any{"required": []string{"successRatio"}}, map[string]any{"required": []string{"latency"}}},
				"not": map[string]any{"anyOf": []any{map[string]any{"required": []string{"promql"}}, map[string]any{"required": []string{"objective"}}}}},
			map[string]any{"required": []string{"promql", "objective"}},
		}
	case reflect.TypeFor[Scenario]():
		props["apiVersion"] = map[string]any{"const": APIVersion, "description": props["apiVersion"].(map[string]any)["description"]}
		props["kind"] = map[string]any{"const": KindScenario, "description": props["kind"].(map[string]any)["description"]}
		props["name"] = map[string]any{"type": "string", "pattern": scenarioName.String(), "maxLength": maxNameLen, "description": props["name"].(map[string]any)["description"]}
	}
	g.defs[t.Name()] = def
	return ref
}

// fieldDoc is the doc comment of the field of t at index (a path through
// inlined structs), from fieldDocs.
func fieldDoc(t reflect.Type, index []int) string {
	owner := t
	for _, i := range index[:len(index)-1] {
		owner = owner.Field(i).Type
		if owner.Kind() == reflect.Pointer {
			owner = owner.Elem()
		}
	}
	return fieldDocs[owner.Name()+"."+owner.Field(index[len(index)-1]).Name]
}

// userDoc words a Go doc comment for a scenario's author: "At is the
// offset ..." becomes "The offset ...".
func userDoc(doc, goName string) string {
	rest, ok := strings.CutPrefix(doc, goName+" ")
	if !ok {
		return doc
	}
	for _, verb := range []string{"is ", "are "} {
		if r, ok := strings.CutPrefix(rest, verb); ok && r != "" {
			return strings.ToUpper(r[:1]) + r[1:]
		}
	}
	return doc
}
