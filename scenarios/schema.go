package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
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
// pattern of their string form, and the relations between parts that JSON
// Schema can say are rules generated from Validate's own values (the local
// target's links, the unit of each SLI's objective, the bounds of durations
// and rates where their string form shows them). It never refuses a valid
// scenario. It is meant for editors; Decode and Validate remain the
// authority (the schema cannot compare values with each other, such as
// names and the references to them, nor parse PromQL or templates).
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
		"LocalTarget.storeReplicas":    count(0, MaxStoreReplicas),
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
		"SLO.step":                     {"not": map[string]any{"anyOf": []any{negativeDuration, zeroDuration, belowMinStep}}},
		"RTO.objective":                {"allOf": objectiveUnit(boundRTO)},
		"RPO.objective":                {"allOf": objectiveUnit(boundRPO)},
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

// belowMinStep matches the durations surely above 0 and below MinStep
// (1ms, as TestDurationSignPatterns checks): up to 999.9... ns or us.
var belowMinStep = map[string]any{"type": "string", "pattern": `^\+?0*[1-9][0-9]{0,2}(\.[0-9]*)?(ns|us|µs|μs)$`}

// rateOutOfRange matches the rates of one kind of period, a single unit
// ("/s", "/1ms", "/250h"), that are surely above MaxRate or whose period is
// surely longer than MaxDuration; other forms are left to Validate.
func rateOutOfRange() map[string]any {
	units := []struct {
		names string
		d     time.Duration
	}{{"ns", time.Nanosecond}, {"(us|µs|μs)", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	var alts []string
	for _, u := range units {
		// count/u above MaxRate: a count above MaxRate·u/1s (rounded down).
		most := int64(MaxRate) * int64(u.d) / int64(time.Second)
		alts = append(alts, `^\s*0*(`+intAbove(most)+`)\s*/\s*(\+?0*1(\.0*)?)?`+u.names+`\s*$`)
		// n·u longer than MaxDuration: a whole part above MaxDuration/u.
		alts = append(alts, `^\s*[0-9]+\s*/\s*\+?0*(`+intAbove(int64(MaxDuration/u.d))+`)(\.[0-9]*)?`+u.names+`\s*$`)
	}
	return map[string]any{"pattern": strings.Join(alts, "|")}
}

// intAbove returns a regular expression (to be anchored) of the decimal
// integers without leading zeros that are greater than n >= 0.
func intAbove(n int64) string {
	d := strconv.FormatInt(n, 10)
	alts := []string{fmt.Sprintf("[1-9][0-9]{%d,}", len(d))} // more digits
	for i := range len(d) {                                  // as many: a greater digit at i after the same prefix
		if d[i] == '9' {
			continue
		}
		if i == 0 && len(d) > 1 && d[i] == '0' {
			continue
		}
		alts = append(alts, fmt.Sprintf("%s[%c-9][0-9]{%d}", d[:i], d[i]+1, len(d)-i-1))
	}
	return strings.Join(alts, "|")
}

// The units of an objective, by how its value ends ("<= 300ms", ">= 99%",
// ">= 0.99"); the objective pattern already holds its form.
var (
	objectiveIsDuration = map[string]any{"pattern": `[a-zµμ]\s*$`}
	objectiveIsPlain    = map[string]any{"pattern": `[0-9.]\s*$`}
)

// objectiveUnit is what the unit of an objective of bound b must be, as
// Validate's objective checks it: a ratio is not a duration, a latency and
// the RTO and RPO are durations, a throughput is a plain number.
func objectiveUnit(b bound) []any {
	switch b.kind {
	case ratio:
		return []any{map[string]any{"not": objectiveIsDuration}}
	case latency, recoveryTime, dataLoss:
		return []any{objectiveIsDuration}
	case throughput:
		return []any{objectiveIsPlain}
	}
	return nil
}

// sliObjectiveRules say the unit of the objective of an SLO or an abort
// condition for each client SLI.
func sliObjectiveRules() []any {
	var rules []any
	for _, k := range sliKinds {
		b := sliBound(&ClientSLI{SLI: k})
		unit := objectiveUnit(b)
		if unit == nil {
			continue
		}
		rules = append(rules, ifThen("the objective of "+b.what+" is in its unit",
			obj(map[string]any{"client": obj(map[string]any{"sli": map[string]any{"const": k}}, "sli")}, "client"),
			obj(map[string]any{"objective": map[string]any{"allOf": unit}})))
	}
	return rules
}

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
		return map[string]any{"type": "string", "pattern": ratePattern, "not": rateOutOfRange(), "description": `<count>/<period>, such as "200/s", "50/100ms" or "30/1m"`}
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
		def["allOf"] = faultRules()
		def["oneOf"] = []any{map[string]any{"required": []string{"network"}}, map[string]any{"required": []string{"process"}},
			map[string]any{"required": []string{"http"}}, map[string]any{"required": []string{"exec"}}, map[string]any{"required": []string{"pod"}}}
	case reflect.TypeFor[SLO](), reflect.TypeFor[Abort]():
		def["allOf"] = sliObjectiveRules()
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
		def["allOf"] = scenarioRules()
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

// obj is the schema of an object whose present keys have the given
// schemas; required lists the keys it must have.
func obj(props map[string]any, required ...string) map[string]any {
	m := map[string]any{"properties": props}
	if len(required) > 0 {
		m["required"] = required
	}
	return m
}

// ifThen is the rule "a value that matches cond matches then", with a
// description for the reader of the schema.
func ifThen(description string, cond, then map[string]any) map[string]any {
	return map[string]any{"description": description, "if": cond, "then": then}
}

// faultRules are the relations between a fault's keys that Validate
// checks and a schema can say.
func faultRules() []any {
	return []any{
		ifThen("signal STOP requires the fault's for: a stopped process stays paused until the fault ends",
			obj(map[string]any{"process": obj(map[string]any{"signal": map[string]any{"const": SignalStop}}, "signal")}, "process"),
			map[string]any{"required": []string{"for"}, "properties": map[string]any{"for": map[string]any{"not": map[string]any{"anyOf": []any{negativeDuration, zeroDuration}}}}}),
	}
}

// scenarioRules are the relations between parts of a scenario that
// Validate checks and a schema can say.
func scenarioRules() []any {
	hasItem := func(key string, item map[string]any) map[string]any {
		return obj(map[string]any{key: map[string]any{"type": "array", "contains": item}}, key)
	}
	nonEmpty := func(key string) map[string]any {
		return obj(map[string]any{key: map[string]any{"type": "array", "minItems": 1}}, key)
	}
	writeProbes := func(n int) map[string]any {
		return obj(map[string]any{"probes": obj(map[string]any{"writes": map[string]any{"type": "array", "minItems": n}}, "writes")}, "probes")
	}
	return []any{
		ifThen("a pod fault needs a kubernetes target",
			hasItem("faults", map[string]any{"required": []string{"pod"}}),
			obj(map[string]any{"target": map[string]any{"required": []string{TargetKubernetes}}}, "target")),
		ifThen("steadyState needs a fault to protect",
			obj(map[string]any{"checks": hasItem("slos", obj(map[string]any{"steadyState": map[string]any{"const": true}}, "steadyState"))}, "checks"),
			nonEmpty("faults")),
		ifThen("an rpo check needs a write probe",
			obj(map[string]any{"checks": nonEmpty("rpo")}, "checks"),
			writeProbes(1)),
		ifThen("with several write probes, every rpo check names its probe",
			writeProbes(2),
			obj(map[string]any{"checks": obj(map[string]any{"rpo": map[string]any{"items": map[string]any{"required": []string{"probe"}}}})})),
		ifThen("sync replication needs a store replica to acknowledge each write",
			obj(map[string]any{"target": obj(map[string]any{"local": obj(map[string]any{"replication": map[string]any{"const": ReplicationSync}}, "replication")}, "local")}, "target"),
			obj(map[string]any{"target": obj(map[string]any{"local": obj(map[string]any{"storeReplicas": map[string]any{"not": map[string]any{"const": 0}}})})})),
		localLinkRule(),
	}
}

// linkDim is a field of LocalTarget that the local target's links depend
// on: its values and its value when absent.
type linkDim struct {
	key    string
	values []int
	absent int
	set    func(*LocalTarget, int)
}

// localLinkDims are the fields the links of a LocalTarget depend on.
func localLinkDims() []linkDim {
	upTo := func(n int) []int {
		xs := make([]int, n)
		for i := range xs {
			xs[i] = i + 1
		}
		return xs
	}
	return []linkDim{
		{"apiReplicas", upTo(MaxAPIReplicas), DefaultAPIReplicas, func(t *LocalTarget, n int) { t.APIReplicas = n }},
		{"storeReplicas", upTo(MaxStoreReplicas), DefaultStoreReplicas, func(t *LocalTarget, n int) { t.StoreReplicas = n }},
		{"regions", []int{0, 1, 2}, 0, func(t *LocalTarget, n int) { t.Regions = n }},
	}
}

// eachLocalTarget calls f with every combination of the values of dims
// and the links of the local target so configured, as its Declaration
// gives them.
func eachLocalTarget(dims []linkDim, f func(values []int, links []string)) {
	values := make([]int, len(dims))
	var walk func(i int)
	walk = func(i int) {
		if i == len(dims) {
			t := LocalTarget{}
			for j, d := range dims {
				d.set(&t, values[j])
			}
			f(values, Target{Local: &t}.Declaration().Links)
			return
		}
		for _, v := range dims[i].values {
			values[i] = v
			walk(i + 1)
		}
	}
	walk(0)
}

// localLinks returns every link some local target has, in order of first
// appearance, and for each dimension and value the links that no local
// target with that value has. A link exists in a local target when it is
// among all and excluded by none of its values; TestLocalLinkRule checks
// that this is exactly its Declaration's links.
func localLinks(dims []linkDim) (all []string, excluded []map[int][]string) {
	possible := make([]map[int]map[string]bool, len(dims))
	for i := range dims {
		possible[i] = map[int]map[string]bool{}
	}
	eachLocalTarget(dims, func(values []int, links []string) {
		for _, l := range links {
			if !slices.Contains(all, l) {
				all = append(all, l)
			}
			for i, v := range values {
				if possible[i][v] == nil {
					possible[i][v] = map[string]bool{}
				}
				possible[i][v][l] = true
			}
		}
	})
	excluded = make([]map[int][]string, len(dims))
	for i, d := range dims {
		excluded[i] = map[int][]string{}
		for _, v := range d.values {
			for _, l := range all {
				if !possible[i][v][l] {
					excluded[i][v] = append(excluded[i][v], l)
				}
			}
		}
	}
	return all, excluded
}

// localLinkRule says which links the network faults of a scenario on the
// local target may name: those its Declaration has for the target's
// apiReplicas, storeReplicas and regions.
func localLinkRule() map[string]any {
	links := func(s map[string]any) map[string]any {
		return obj(map[string]any{"faults": map[string]any{"items": obj(map[string]any{"network": obj(map[string]any{"link": s})})}})
	}
	local := func(key string, s map[string]any, required bool) map[string]any {
		var req []string
		if required {
			req = []string{key}
		}
		l := obj(map[string]any{key: s}, req...)
		if required {
			return obj(map[string]any{"target": obj(map[string]any{TargetLocal: l}, TargetLocal)}, "target")
		}
		return obj(map[string]any{"target": obj(map[string]any{TargetLocal: l})})
	}
	dims := localLinkDims()
	all, excluded := localLinks(dims)
	rules := []any{links(map[string]any{"enum": all})}
	for i, d := range dims {
		for _, v := range d.values {
			if len(excluded[i][v]) == 0 {
				continue
			}
			// The value v, or absent when v is the value absent means.
			is := local(d.key, map[string]any{"const": v}, v != d.absent)
			rules = append(rules, ifThen(fmt.Sprintf("%s %d has none of these links", d.key, v), is, links(map[string]any{"not": map[string]any{"enum": excluded[i][v]}})))
		}
	}
	isLocal := map[string]any{"anyOf": []any{
		map[string]any{"not": map[string]any{"required": []string{"target"}}},
		obj(map[string]any{"target": map[string]any{"required": []string{TargetLocal}}}, "target"),
	}}
	return ifThen("a network fault on the local target names one of its links", isLocal, map[string]any{"allOf": rules})
}
