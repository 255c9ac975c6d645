package scenarios

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// The defaults SetDefaults fills in.
const (
	DefaultAPIReplicas    = 2               // LocalTarget.APIReplicas
	DefaultRestartDelay   = time.Second     // LocalTarget.RestartDelay
	DefaultTokenTTL       = 24 * time.Hour  // LocalTarget.TokenTTL
	DefaultScrapeInterval = time.Second     // Metrics.ScrapeInterval
	DefaultStreamTimeout  = 5 * time.Second // Stream.Timeout
	DefaultWeight         = 1               // Request.Weight
	DefaultMethod         = "GET"           // Request.Method
	DefaultSignal         = SignalKill      // ProcessFault.Signal
	DefaultActionMethod   = "POST"          // HTTPFault.Method
	DefaultToxicity       = 1.0             // NetworkFault.Toxicity
	DefaultPhase          = PhaseAll        // SLO.During is [DefaultPhase]
	DefaultMode           = ModeOverall     // SLO.Mode
	DefaultClientStep     = time.Second     // SLO.Step of a client SLI; PromQL steps default to the scrape interval
	DefaultQuantile       = 0.99            // ClientSLI.Quantile of SLILatency
	MaxAPIReplicas        = 8               // the most api processes a LocalTarget may run
	DefaultStoreReplicas  = 1               // LocalTarget.StoreReplicas
	MaxStoreReplicas      = 3               // the most store replicas a LocalTarget may run
	DefaultReplication    = ReplicationAsync
	DefaultMetricsPath    = "/metrics" // MetricsEndpoint.Path

	DefaultProbeWriteMethod = "POST" // WriteProbe.Write.Method
	DefaultProbeReadMethod  = "GET"  // WriteProbe.Read.Method
)

// SetDefaults fills what the author left out, in place; see the Default
// constants. It runs after Decode and before Validate. A field is filled only
// when it was not written: a value the author wrote, even a zero or an empty
// string, is left as written, so that Validate honours it (restartDelay: 0s)
// or refuses it (weight: 0), never replaces it. A field written null is not
// written: it is filled like one left out. A scenario built in Go, with
// no positions, has no written fields: there a zero value means absent.
func SetDefaults(s *Scenario) {
	// absent reports a field at path that holds its zero value and was not
	// written.
	absent := func(path string, zero bool) bool {
		if !zero {
			return false
		}
		_, written := s.pos[path]
		return !written
	}
	// A target kind written with no body ("external:") is that kind, empty:
	// Validate then says what it lacks, rather than another kind being
	// played in its place. Only a scenario that names no kind at all plays
	// against the local target.
	named := func(path string) bool {
		pos, ok := s.nulls[path]
		if ok {
			s.pos[path] = pos
		}
		return ok
	}
	if s.Target.Local == nil && named("target.local") {
		s.Target.Local = &LocalTarget{}
	}
	if s.Target.Processes == nil && named("target.processes") {
		s.Target.Processes = &ProcessesTarget{}
	}
	if s.Target.External == nil && named("target.external") {
		s.Target.External = &ExternalTarget{}
	}
	if s.Target.Kubernetes == nil && named("target.kubernetes") {
		s.Target.Kubernetes = &KubernetesTarget{}
	}
	if s.Target.Local == nil && s.Target.Processes == nil && s.Target.External == nil && s.Target.Kubernetes == nil {
		s.Target.Local = &LocalTarget{}
	}
	if p := s.Target.Processes; p != nil {
		for i := range p.Edges {
			if absent(fmt.Sprintf("target.processes.edges[%d].from", i), p.Edges[i].From == "") {
				p.Edges[i].From = FromClient
			}
		}
		for i := range p.Services {
			if m := p.Services[i].Metrics; m != nil && absent(fmt.Sprintf("target.processes.services[%d].metrics.path", i), m.Path == "") {
				m.Path = DefaultMetricsPath
			}
		}
	}
	if t := s.Target.Local; t != nil {
		const p = "target.local."
		if absent(p+"apiReplicas", t.APIReplicas == 0) {
			t.APIReplicas = DefaultAPIReplicas
		}
		if absent(p+"restartDelay", t.RestartDelay == 0) {
			t.RestartDelay = DefaultRestartDelay
		}
		if absent(p+"tokenTTL", t.TokenTTL == 0) {
			t.TokenTTL = DefaultTokenTTL
		}
		if absent(p+"gatewayRateLimit", t.GatewayRateLimit == 0) {
			t.GatewayRateLimit = LocalGatewayRateLimit
		}
		if absent(p+"storeReplicas", t.StoreReplicas == 0) {
			t.StoreReplicas = DefaultStoreReplicas
		}
		if absent(p+"replication", t.Replication == "") {
			t.Replication = DefaultReplication
		}
	}
	if absent("metrics.scrapeInterval", s.Metrics.ScrapeInterval == 0) {
		s.Metrics.ScrapeInterval = DefaultScrapeInterval
	}
	for i := range s.Load {
		st := &s.Load[i]
		sp := fmt.Sprintf("load[%d]", i)
		if absent(sp+".timeout", st.Timeout == 0) {
			st.Timeout = DefaultStreamTimeout
		}
		for j := range st.Requests {
			r := &st.Requests[j]
			rp := fmt.Sprintf("%s.requests[%d].", sp, j)
			if absent(rp+"weight", r.Weight == 0) {
				r.Weight = DefaultWeight
			}
			if absent(rp+"method", r.Method == "") {
				r.Method = DefaultMethod
			}
			if absent(rp+"name", r.Name == "") {
				r.Name = DefaultRequestName(r.Method, r.URL)
			}
		}
	}
	sessionDefaults(s, absent)
	for i := range s.Faults {
		f := &s.Faults[i]
		fp := fmt.Sprintf("faults[%d].", i)
		if n := f.Network; n != nil && n.Mobile == "" && n.Toxic != "" && n.Toxic != ToxicDown {
			if absent(fp+"network.direction", n.Direction == "") {
				n.Direction = DefaultDirection(n.Toxic)
			}
			if absent(fp+"network.toxicity", n.Toxicity == nil) {
				t := DefaultToxicity
				n.Toxicity = &t
			}
		}
		if p := f.Process; p != nil {
			if absent(fp+"process.signal", p.Signal == "") {
				p.Signal = DefaultSignal
			}
			if absent(fp+"process.mode", p.Mode == "") {
				p.Mode = defaultMode(p.Count, p.Percent)
			}
		}
		if p := f.Pod; p != nil {
			if absent(fp+"pod.mode", p.Mode == "") {
				p.Mode = defaultMode(p.Count, p.Percent)
			}
			if absent(fp+"pod.gracePeriod", p.GracePeriod == 0) {
				p.GracePeriod = DefaultPodGracePeriod
			}
			if absent(fp+"pod.maxVictims", p.MaxVictims == 0) {
				p.MaxVictims = DefaultMaxVictims
			}
			if absent(fp+"pod.readyTimeout", p.ReadyTimeout == 0) {
				p.ReadyTimeout = DefaultPodReadyTimeout
			}
		}
		if h := f.HTTP; h != nil {
			if absent(fp+"http.method", h.Method == "") {
				h.Method = DefaultActionMethod
			}
			if absent(fp+"http.timeout", h.Timeout == 0) {
				h.Timeout = DefaultActionTimeout
			}
			if r := h.Recover; r != nil {
				if absent(fp+"http.recover.method", r.Method == "") {
					r.Method = DefaultActionMethod
				}
				if absent(fp+"http.recover.timeout", r.Timeout == 0) {
					r.Timeout = DefaultActionTimeout
				}
			}
		}
		if e := f.Exec; e != nil {
			if absent(fp+"exec.timeout", e.Timeout == 0) {
				e.Timeout = DefaultActionTimeout
			}
			if r := e.Recover; r != nil && absent(fp+"exec.recover.timeout", r.Timeout == 0) {
				r.Timeout = DefaultActionTimeout
			}
		}
	}
	for i := range s.Checks.SLOs {
		c := &s.Checks.SLOs[i]
		cp := fmt.Sprintf("checks.slos[%d].", i)
		if absent(cp+"during", len(c.During) == 0) {
			c.During = []Phase{DefaultPhase}
		}
		if absent(cp+"mode", c.Mode == "") {
			c.Mode = DefaultMode
		}
		if absent(cp+"step", c.Step == 0) {
			if c.Client != nil && c.PromQL == "" {
				c.Step = DefaultClientStep
			} else {
				c.Step = s.Metrics.ScrapeInterval
			}
		}
		if c.Client != nil && c.Client.SLI == SLILatency && absent(cp+"client.quantile", c.Client.Quantile == 0) {
			c.Client.Quantile = DefaultQuantile
		}
	}
	for i := range s.Checks.RTO {
		c := &s.Checks.RTO[i]
		cp := fmt.Sprintf("checks.rto[%d].", i)
		if absent(cp+"stableFor", c.StableFor == 0) {
			c.StableFor = DefaultStableFor
		}
		r := &c.Recovery
		rp := cp + "recovery."
		client := r.SuccessRatio != nil || r.Latency != nil
		if client && r.PromQL == "" && absent(rp+"window", r.Window == 0) {
			r.Window = DefaultRecoveryWindow
		}
		if r.Latency != nil && absent(rp+"quantile", r.Quantile == 0) {
			r.Quantile = DefaultRecoveryQuantile
		}
		if r.PromQL != "" && !client && absent(rp+"step", r.Step == 0) {
			r.Step = s.Metrics.ScrapeInterval
		}
	}
	if len(s.Probes.Writes) == 1 {
		for i := range s.Checks.RPO {
			c := &s.Checks.RPO[i]
			if absent(fmt.Sprintf("checks.rpo[%d].probe", i), c.Probe == "") {
				c.Probe = s.Probes.Writes[0].Name
			}
		}
	}
	for i := range s.Checks.Abort {
		c := &s.Checks.Abort[i]
		cp := fmt.Sprintf("checks.abort[%d].", i)
		if absent(cp+"window", c.Window == 0) {
			c.Window = DefaultAbortWindow
		}
		if c.Client != nil && c.Client.SLI == SLILatency && absent(cp+"client.quantile", c.Client.Quantile == 0) {
			c.Client.Quantile = DefaultQuantile
		}
	}
	for i := range s.Probes.Writes {
		w := &s.Probes.Writes[i]
		wp := fmt.Sprintf("probes.writes[%d].", i)
		if absent(wp+"write.method", w.Write.Method == "") {
			w.Write.Method = DefaultProbeWriteMethod
		}
		if absent(wp+"read.method", w.Read.Method == "") {
			w.Read.Method = DefaultProbeReadMethod
		}
		if absent(wp+"every", w.Every == 0) {
			w.Every = DefaultProbeEvery
		}
		if absent(wp+"timeout", w.Timeout == 0) {
			w.Timeout = DefaultProbeTimeout
		}
		if absent(wp+"settle", w.Settle == 0) {
			w.Settle = DefaultProbeSettle
		}
		if absent(wp+"maxInFlight", w.MaxInFlight == 0) {
			w.MaxInFlight = DefaultProbeMaxInFlight
		}
	}
}

// defaultMode is the victim mode of a process or pod fault that names
// none: fixed when it writes a count, percent when it writes a percent,
// else one.
func defaultMode(count int, percent float64) VictimMode {
	switch {
	case count != 0:
		return ModeFixed
	case percent != 0:
		return ModePercent
	}
	return ModeOne
}

// baseAction matches a leading {{.Base}} action, however it is spaced.
var baseAction = regexp.MustCompile(`^\{\{-?\s*\.Base\s*-?\}\}`)

// DefaultRequestName is the route name of a request without one: the method
// and the path of the URL template, with a leading {{.Base}} and any query
// string or fragment dropped: "GET /v1/feed".
func DefaultRequestName(method, url string) string {
	path := baseAction.ReplaceAllString(url, "")
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		path = "/"
	}
	return method + " " + path
}

// End is when the last load stream ends, as an offset from the start of the
// run: the largest Start+Duration.
func (s *Scenario) End() time.Duration {
	var end time.Duration
	for _, st := range s.Load {
		end = max(end, addDurations(st.Start, st.Duration))
	}
	return end
}

// addDurations is a+b, saturated at the bounds of time.Duration instead of
// wrapping: a scenario is validated before its values are range-checked.
func addDurations(a, b time.Duration) time.Duration {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

// mulDuration is n×d for n >= 0, saturated at the bounds of time.Duration.
func mulDuration(n int, d time.Duration) time.Duration {
	if n == 0 || d == 0 {
		return 0
	}
	p := time.Duration(n) * d
	if p/time.Duration(n) != d {
		if d > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return p
}
