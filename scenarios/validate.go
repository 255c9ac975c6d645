package scenarios

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
)

// MinScrapeInterval is the shortest Metrics.ScrapeInterval Validate accepts.
const MinScrapeInterval = 100 * time.Millisecond

// MaxDuration is the longest duration Validate accepts in any field of a
// scenario: a start, a duration, an offset, a timeout, a step, a delay. A
// game day is hours, not weeks; the bound keeps every sum of such fields (the
// end of the load, a fault's windows) far from overflowing time.Duration.
const MaxDuration = 7 * 24 * time.Hour

// MaxRepeatCount is the most injections a repeated fault may make.
const MaxRepeatCount = 1000

// MinStep is the shortest SLO.Step Validate accepts; the longest is the
// span of the load, the longest window an SLO can judge.
const MinStep = time.Millisecond

// MaxRate is the highest rate of a load stream Validate accepts, in requests
// per second.
const MaxRate = 1_000_000

// maxListed is the most names a message lists before "and N more".
const maxListed = 20

// The allowed values of the enum-like fields, in the order messages list them.
var (
	toxicTypes = []ToxicType{ToxicLatency, ToxicBandwidth, ToxicSlowClose, ToxicTimeout, ToxicResetPeer, ToxicSlicer, ToxicLimitData, ToxicDown}
	directions = []Direction{Upstream, Downstream, Both}
	presets    = []MobilePreset{Mobile3G, MobileEdge, MobileLossy}
	signals    = []Signal{SignalKill, SignalTerm, SignalInt, SignalStop}
	victims    = []VictimMode{ModeOne, ModeAll, ModeFixed, ModePercent}
	sliKinds   = []ClientSLIKind{SLISuccessRatio, SLILatency, SLIThroughput, SLIDroppedRatio}
	phases     = []Phase{PhaseWarmup, PhaseFault, PhaseBetween, PhaseRecovery, PhaseAll}
	modes      = []Mode{ModeOverall, ModeAlways}
	ops        = []Op{OpLT, OpLE, OpGT, OpGE}
	methods    = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

var (
	// scenarioName is the shape of Scenario.Name (a DNS label).
	scenarioName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	// labelName is the shape of stream, fault and SLO names, which become
	// metric label values and file names.
	labelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// maxNameLen is the longest name Validate accepts.
const maxNameLen = 63

// Validate checks a scenario that SetDefaults has filled and returns every
// problem found as an *Error, in document order, each citing the field path,
// where it was written (or where its parent was, for a field left out), the
// bad value and what is allowed. It does not modify s.
//
// Templates may read env and file values: Validate checks that they are
// well formed; ValidateIn also reads them.
func Validate(s *Scenario) error {
	_, err := validate(s, nil)
	return err
}

// ValidateIn is Validate that also resolves every env and file value the
// templates use from env, reporting a missing one as a problem where it is
// used, and checks the URLs they complete. It returns the values for the
// run.
func ValidateIn(s *Scenario, env Environment) (*Values, error) {
	return validate(s, &env)
}

func validate(s *Scenario, env *Environment) (*Values, error) {
	v := &validator{s: s}
	if env != nil {
		v.vals = v.resolve(*env)
	}
	v.scenario()
	slices.SortStableFunc(v.problems, func(a, b Problem) int {
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	if err := errorOf(v.problems); err != nil {
		return nil, err
	}
	return v.vals, nil
}

// Position returns where the field at path (such as "faults[1].network.link")
// was written, or where its nearest written ancestor was; zero when the
// scenario was not decoded from a file.
func (s *Scenario) Position(path string) Pos {
	for {
		if p, ok := s.pos[path]; ok {
			return p
		}
		if path == "" {
			return Pos{}
		}
		path = parentPath(path)
	}
}

// parentPath strips the last key or index of a field path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

type validator struct {
	s *Scenario
	// routes are the route names of each stream, in order, without
	// repeats, and the same as a set; allRoutes and allSet those of every
	// stream. Built once by routeSets.
	routes    map[string][]string
	routeSet  map[string]map[string]bool
	allRoutes []string
	allSet    map[string]bool
	vals      *Values         // nil: env and file values are not resolved
	cur       templateContext // what the templates being checked see
	noTarget  bool            // no target kind is set: names cannot be checked
	problems  []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.s.File, Pos: v.s.Position(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// tooLong reports d at path, written as key, when it is longer than
// MaxDuration, and says whether it did.
func (v *validator) tooLong(path, key string, d time.Duration) bool {
	if d <= MaxDuration {
		return false
	}
	v.add(path, "%s %s is too long (want at most %s)", key, formatDuration(d), formatDuration(MaxDuration))
	return true
}

// oneOf reports x at path unless it is one of allowed.
func oneOf[T ~string](v *validator, path, what string, x T, allowed []T) {
	if !slices.Contains(allowed, x) {
		v.add(path, "unknown %s %q (want one of %s)", what, x, list(allowed))
	}
}

// list joins values for a message: "a, b, c".
func list[T ~string](xs []T) string { return strings.Join(stringsOf(xs), ", ") }

// capped joins names for a message, at most maxListed of them: "a, b, c"
// or "a, b, ... and 5 more".
func capped(xs []string) string {
	if len(xs) <= maxListed {
		return strings.Join(xs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(xs[:maxListed], ", "), len(xs)-maxListed)
}

// badHeaderValue reports a header value Go's HTTP client refuses on every
// request: one with a line break or a NUL.
func badHeaderValue(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

// name checks a required name against a pattern and records it for the
// uniqueness check in seen.
func (v *validator) name(path, x string, re *regexp.Regexp, shape string, seen map[string]string) {
	switch {
	case x == "":
		v.add(path, "required")
		return
	case !re.MatchString(x) || len(x) > maxNameLen:
		v.add(path, "invalid name %q (want %s, at most %d characters)", x, shape, maxNameLen)
	}
	if seen == nil {
		return
	}
	if first, dup := seen[x]; dup {
		v.add(path, "duplicate name %q (also %s)", x, first)
		return
	}
	seen[x] = parentPath(path)
}

func (v *validator) scenario() {
	s := v.s
	if s.APIVersion != APIVersion {
		v.add("apiVersion", "unsupported apiVersion %q (want %q)", s.APIVersion, APIVersion)
	}
	if s.Kind != KindScenario {
		v.add("kind", "unsupported kind %q (want %q)", s.Kind, KindScenario)
	}
	v.name("name", s.Name, scenarioName, "lower-case letters, digits and '-', starting with a letter or digit", nil)
	decl := v.target()
	if s.Metrics.ScrapeInterval < MinScrapeInterval {
		v.add("metrics.scrapeInterval", "scrapeInterval %s is too short (want at least %s)", formatDuration(s.Metrics.ScrapeInterval), formatDuration(MinScrapeInterval))
	}
	v.tooLong("metrics.scrapeInterval", "scrapeInterval", s.Metrics.ScrapeInterval)
	v.sessions(decl)
	v.load(decl)
	v.faults(decl)
	v.probes(decl)
	v.checks()
}

// target checks the target and returns what it declares, to check faults
// and templates against.
func (v *validator) target() Declaration {
	t := v.s.Target
	var set []string
	for _, k := range []struct {
		name string
		set  bool
	}{{TargetLocal, t.Local != nil}, {TargetProcesses, t.Processes != nil}, {TargetExternal, t.External != nil}, {TargetKubernetes, t.Kubernetes != nil}} {
		if k.set {
			set = append(set, k.name)
		}
	}
	v.noTarget = len(set) == 0
	if len(set) != 1 {
		v.add("target", "exactly one of local, processes, external, kubernetes is required, got %s", gotKinds(set))
	}
	switch {
	case t.Local != nil:
		return v.local(*t.Local)
	case t.Processes != nil:
		return v.processes("target.processes", t.Processes)
	case t.External != nil:
		return v.external("target.external", t.External)
	case t.Kubernetes != nil:
		return v.kubernetes(t.Kubernetes)
	}
	return Declaration{}
}

// gotKinds says which of several exclusive keys were set: "none", "both
// local and external".
func gotKinds(set []string) string {
	switch len(set) {
	case 0:
		return "none"
	case 2:
		return "both " + set[0] + " and " + set[1]
	}
	return strings.Join(set, ", ")
}

// local checks the local target and returns its declaration.
func (v *validator) local(t LocalTarget) Declaration {
	const p = "target.local"
	clamped := t
	if t.APIReplicas < 1 || t.APIReplicas > MaxAPIReplicas {
		v.add(p+".apiReplicas", "apiReplicas %d is out of range (want 1 to %d)", t.APIReplicas, MaxAPIReplicas)
		// Check faults against the largest target, so that one wrong
		// number does not also make every link and selector wrong.
		clamped.APIReplicas = MaxAPIReplicas
	}
	if t.StoreReplicas < 0 || t.StoreReplicas > MaxStoreReplicas {
		v.add(p+".storeReplicas", "storeReplicas %d is out of range (want 0 to %d)", t.StoreReplicas, MaxStoreReplicas)
		clamped.StoreReplicas = MaxStoreReplicas
	}
	switch t.Replication {
	case ReplicationAsync:
	case ReplicationSync:
		if t.StoreReplicas == 0 {
			v.add(p+".replication", "replication sync needs a store replica to acknowledge a write (storeReplicas 0: a lone primary)")
		}
	default:
		v.add(p+".replication", "replication %q is not one of async, sync", t.Replication)
	}
	if t.RestartDelay < 0 {
		v.add(p+".restartDelay", "restartDelay %s is negative (want 0 or more)", formatDuration(t.RestartDelay))
	}
	v.tooLong(p+".restartDelay", "restartDelay", t.RestartDelay)
	switch {
	case t.TokenTTL <= 0:
		v.add(p+".tokenTTL", "tokenTTL %s is not positive (want more than 0s)", formatDuration(t.TokenTTL))
	case t.TokenTTL%time.Second != 0:
		v.add(p+".tokenTTL", "tokenTTL %s is not a whole number of seconds (tokens expire at whole seconds)", formatDuration(t.TokenTTL))
	}
	v.tooLong(p+".tokenTTL", "tokenTTL", t.TokenTTL)
	if t.GatewayRateLimit < 1 || t.GatewayRateLimit > MaxGatewayRateLimit {
		v.add(p+".gatewayRateLimit", "gatewayRateLimit %d is out of range (want 1 to %d requests per second)", t.GatewayRateLimit, MaxGatewayRateLimit)
	}
	if t.Toxiproxy != "" {
		if why := loopbackHTTP(t.Toxiproxy); why != "" {
			v.add(p+".toxiproxy", "toxiproxy %q %s (want an http URL on loopback, such as \"http://127.0.0.1:8474\")", t.Toxiproxy, why)
		}
	}
	if t.Autoscale != nil {
		v.autoscale(p+".autoscale", t)
	}
	if t.Regions < 0 || t.Regions > 2 {
		v.add(p+".regions", "regions %d is out of range (want 1 or 2)", t.Regions)
		clamped.Regions = 2
	}
	return clamped.Processes().Declaration()
}

// loopbackHTTP says what is wrong with raw as the URL of a loopback HTTP
// server, or "" when nothing is.
func loopbackHTTP(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a URL"
	}
	if u.Scheme != "http" {
		return "is not an http URL"
	}
	host := u.Hostname()
	if host == "localhost" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return ""
	}
	return "is not on loopback"
}

func (v *validator) load(decl Declaration) {
	s := v.s
	if len(s.Load) == 0 {
		v.add("load", "at least one load stream is required")
	}
	seen := map[string]string{}
	for i, st := range s.Load {
		p := fmt.Sprintf("load[%d]", i)
		v.name(p+".name", st.Name, labelName, "letters, digits, '_', '.' and '-', starting with a letter or digit", seen)
		if st.Start < 0 {
			v.add(p+".start", "start %s is negative (want 0 or more)", formatDuration(st.Start))
		}
		v.tooLong(p+".start", "start", st.Start)
		if st.Duration <= 0 {
			v.add(p+".duration", "duration %s is not positive (want more than 0s)", formatDuration(st.Duration))
		}
		v.tooLong(p+".duration", "duration", st.Duration)
		v.profile(p+".profile", st.Profile, st.Duration)
		if len(st.Requests) == 0 {
			v.add(p+".requests", "at least one request is required")
		}
		routes := map[string]string{}
		v.streamInputs(p, st)
		for j, r := range st.Requests {
			v.request(fmt.Sprintf("%s.requests[%d]", p, j), r, routes, decl)
			v.bodyFile(fmt.Sprintf("%s.requests[%d]", p, j), r, decl)
		}
		v.cur = templateContext{}
		if st.Timeout <= 0 {
			v.add(p+".timeout", "timeout %s is not positive (want more than 0s)", formatDuration(st.Timeout))
		}
		v.tooLong(p+".timeout", "timeout", st.Timeout)
		if st.MaxWorkers < 0 {
			v.add(p+".maxWorkers", "maxWorkers %d is negative (want 0 for automatic, or more)", st.MaxWorkers)
		}
	}
}

func (v *validator) request(p string, r Request, routes map[string]string, decl Declaration) {
	if r.Name == "" {
		method := r.Method
		if !slices.Contains(methods, method) {
			method = DefaultMethod
		}
		v.add(p+".name", "name is empty (leave it out for the default, the method and the path: %q)", DefaultRequestName(method, r.URL))
	} else {
		if first, dup := routes[r.Name]; dup {
			v.add(p+".name", "duplicate route name %q within the stream (also %s; give each request a distinct name)", r.Name, first)
		} else {
			routes[r.Name] = p
		}
	}
	if r.Weight < 1 {
		v.add(p+".weight", "weight %d is less than 1", r.Weight)
	}
	v.httpParts(p, r.Method, r.URL, r.Body, r.Header, decl, "required", "; start it with {{.Base}}")
}

// httpParts checks what a templated HTTP request of a scenario (a load
// request, an http action) is made of: its method, its URL once expanded,
// its body and its headers, with the URLs decl declares. missing is the
// message of an empty URL, hint what follows a URL that is not absolute.
func (v *validator) httpParts(p, method, rawURL, body string, header map[string]string, decl Declaration, missing, hint string) {
	if !slices.Contains(methods, method) {
		v.add(p+".method", "unknown method %q (want one of %s)", method, strings.Join(methods, ", "))
	}
	if rawURL == "" {
		v.add(p+".url", "%s", missing)
	} else if out, sure, err := v.checkTemplate("url", rawURL, decl); err != nil {
		v.add(p+".url", "%v", err)
	} else if u, err := url.Parse(out); sure && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		v.add(p+".url", "%q is not an absolute http URL once expanded (%q)%s", rawURL, out, hint)
	}
	if _, _, err := v.checkTemplate("body", body, decl); err != nil {
		v.add(p+".body", "%v", err)
	}
	for _, k := range sortedKeys(header) {
		if !headerName.MatchString(k) {
			v.add(p+".header."+k, "invalid header name %q", k)
		}
		if out, sure, err := v.checkTemplate("header", header[k], decl); err != nil {
			v.add(p+".header."+k, "%v", err)
		} else if sure && badHeaderValue(out) {
			v.add(p+".header."+k, "header value contains a line break or NUL")
		}
	}
}

// checkTemplate parses text as a text/template over RequestData and executes
// it once with sample data, the URLs decl declares and the env and file
// values when they were resolved, which catches unknown field and URL
// names, and env and file calls without a quoted name. sure is false when
// the output stands in for values that were not resolved: its shape says
// nothing then.
func (v *validator) checkTemplate(name, text string, decl Declaration) (out string, sure bool, err error) {
	if _, err := template.New(name).Funcs(placeholderFuncs).Parse(text); err != nil {
		return "", false, fmt.Errorf("invalid template %q: %w", text, err)
	}
	refs, err := templateReferences(text)
	if err != nil {
		return "", false, fmt.Errorf("invalid template %q: %w", text, err)
	}
	problem, unsure := v.contextProblem(text)
	if problem != "" {
		return "", false, fmt.Errorf("invalid template %q: %s", text, problem)
	}
	if unsure {
		return "", false, nil // checked when the data file is read
	}
	funcs := placeholderFuncs
	switch {
	case len(refs) == 0:
	case v.vals == nil:
		return "", false, nil // checked when the values are known
	case !v.vals.has(refs):
		return "", false, nil // a value that is not there: reported by resolve
	default:
		funcs = template.FuncMap{}
		for k, f := range placeholderFuncs {
			funcs[k] = f
		}
		for k, f := range v.vals.Funcs() {
			funcs[k] = f
		}
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return "", false, fmt.Errorf("invalid template %q: %w", text, err)
	}
	sample := RequestData{Base: "http://127.0.0.1:8080", Seq: 0, ID: "0-0", RunID: "20060102T150405Z-0", Token: "token", User: v.cur.user, Row: v.cur.row, urls: map[string]string{}}
	for _, u := range decl.URLs {
		sample.urls[u] = "http://127.0.0.1:8081"
	}
	var b strings.Builder
	if err := t.Execute(&limitedWriter{w: &b, n: 1 << 16}, sample); err != nil {
		return "", false, fmt.Errorf("invalid template %q: %w (fields: .Base, .Seq, .ID, .Token, .URL \"name\")", text, err)
	}
	return b.String(), true, nil
}

// limitedWriter stops a template that writes without end.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, fmt.Errorf("expands to more than 64 KiB")
	}
	l.n -= len(p)
	return l.w.Write(p)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// formatSelector writes a selector as "{instance: api-9, role: api}".
func formatSelector(sel map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(sel) {
		parts = append(parts, k+": "+sel[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// slos checks the SLOs; seen holds the names of every check, which are
// unique across kinds.
func (v *validator) slos(seen map[string]string) {
	s := v.s
	for i, c := range s.Checks.SLOs {
		p := fmt.Sprintf("checks.slos[%d]", i)
		v.name(p+".name", c.Name, labelName, "letters, digits, '_', '.' and '-', starting with a letter or digit", seen)
		v.sli(p, c.PromQL, c.Client, c.Objective)
		if c.SteadyState && len(s.Faults) == 0 {
			v.add(p+".steadyState", "steadyState needs a fault to protect: the scenario has no faults")
		}
		if len(c.During) == 0 {
			v.add(p+".during", "at least one phase is required (want some of %s; leave during out for [%s])", list(phases), DefaultPhase)
		}
		for j, ph := range c.During {
			oneOf(v, fmt.Sprintf("%s.during[%d]", p, j), "phase", ph, phases)
		}
		oneOf(v, p+".mode", "mode", c.Mode, modes)
		switch end := v.s.End(); {
		case c.Step <= 0:
			v.add(p+".step", "step %s is not positive (want more than 0s)", formatDuration(c.Step))
		case c.Step < MinStep:
			v.add(p+".step", "step %s is too short (want at least %s)", formatDuration(c.Step), formatDuration(MinStep))
		case v.tooLong(p+".step", "step", c.Step):
		case end > 0 && end <= 2*MaxDuration && c.Step > end:
			v.add(p+".step", "step %s is longer than the load (%s), the longest window it can judge", formatDuration(c.Step), formatDuration(end))
		}
	}
}

func (v *validator) client(p string, c ClientSLI) {
	oneOf(v, p+".sli", "sli", c.SLI, sliKinds)
	if c.SLI == SLILatency {
		if !(c.Quantile > 0 && c.Quantile <= 1) {
			v.add(p+".quantile", "quantile %g is out of range (want more than 0, at most 1)", c.Quantile)
		}
	} else if c.Quantile != 0 && slices.Contains(sliKinds, c.SLI) {
		v.add(p+".quantile", "quantile applies only to sli latency, not %s", c.SLI)
	}
	v.streamRoute(p, c.Stream, c.Route)
}

// streamRoute checks the stream and route a client-side SLI or condition
// at p restricts its requests to; empty ones are all.
func (v *validator) streamRoute(p, stream, route string) {
	v.routeSets()
	routes, set := v.allRoutes, v.allSet
	if stream != "" {
		var ok bool
		if routes, ok = v.routes[stream]; !ok {
			var names []string
			for _, st := range v.s.Load {
				names = append(names, st.Name)
			}
			v.add(p+".stream", "unknown stream %q (want one of %s)", stream, capped(names))
			return
		}
		set = v.routeSet[stream]
	}
	if route != "" && len(v.s.Load) > 0 && !set[route] {
		v.add(p+".route", "unknown route %q (want one of %s)", route, capped(routes))
	}
}

// routeSets computes, once, the route names of each stream and of all
// streams, in order and without repeats, for the SLOs to check theirs
// against: linear in the requests, however many SLOs there are.
func (v *validator) routeSets() {
	if v.routes != nil {
		return
	}
	v.routes = map[string][]string{}
	v.routeSet = map[string]map[string]bool{}
	v.allSet = map[string]bool{}
	for _, st := range v.s.Load {
		seen := v.routeSet[st.Name] // streams sharing a name pool their routes
		if seen == nil {
			seen = map[string]bool{}
			v.routeSet[st.Name] = seen
		}
		rs := v.routes[st.Name]
		for _, r := range st.Requests {
			if !seen[r.Name] {
				seen[r.Name] = true
				rs = append(rs, r.Name)
			}
			if !v.allSet[r.Name] {
				v.allSet[r.Name] = true
				v.allRoutes = append(v.allRoutes, r.Name)
			}
		}
		v.routes[st.Name] = rs
	}
}
