package scenarios

import (
	"regexp"
	"strings"
	"time"
)

// The defaults SetDefaults fills in.
const (
	DefaultAPIReplicas    = 2               // LocalTarget.APIReplicas
	DefaultRestartDelay   = time.Second     // LocalTarget.RestartDelay
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
)

// SetDefaults fills what the author left out, in place; see the Default
// constants. It runs after Decode and before Validate, and leaves values that
// are set (valid or not) alone, so Validate still reports them.
func SetDefaults(s *Scenario) {
	if s.Target.Local == nil && s.Target.Processes == nil && s.Target.External == nil {
		s.Target.Local = &LocalTarget{}
	}
	if p := s.Target.Processes; p != nil {
		for i := range p.Edges {
			if p.Edges[i].From == "" {
				p.Edges[i].From = FromClient
			}
		}
		for i := range p.Services {
			if m := p.Services[i].Metrics; m != nil && m.Path == "" {
				m.Path = DefaultMetricsPath
			}
		}
	}
	if t := s.Target.Local; t != nil {
		if t.APIReplicas == 0 {
			t.APIReplicas = DefaultAPIReplicas
		}
		if t.RestartDelay == 0 {
			t.RestartDelay = DefaultRestartDelay
		}
		if t.StoreReplicas == 0 {
			t.StoreReplicas = DefaultStoreReplicas
		}
		if t.Replication == "" {
			t.Replication = DefaultReplication
		}
	}
	if s.Metrics.ScrapeInterval == 0 {
		s.Metrics.ScrapeInterval = DefaultScrapeInterval
	}
	for i := range s.Load {
		st := &s.Load[i]
		if st.Timeout == 0 {
			st.Timeout = DefaultStreamTimeout
		}
		for j := range st.Requests {
			r := &st.Requests[j]
			if r.Weight == 0 {
				r.Weight = DefaultWeight
			}
			if r.Method == "" {
				r.Method = DefaultMethod
			}
			if r.Name == "" {
				r.Name = DefaultRequestName(r.Method, r.URL)
			}
		}
	}
	for i := range s.Faults {
		f := &s.Faults[i]
		if n := f.Network; n != nil && n.Mobile == "" && n.Toxic != "" && n.Toxic != ToxicDown {
			if n.Direction == "" {
				n.Direction = DefaultDirection(n.Toxic)
			}
			if n.Toxicity == nil {
				t := DefaultToxicity
				n.Toxicity = &t
			}
		}
		if p := f.Process; p != nil {
			if p.Signal == "" {
				p.Signal = DefaultSignal
			}
			if p.Mode == "" {
				switch {
				case p.Count != 0:
					p.Mode = ModeFixed
				case p.Percent != 0:
					p.Mode = ModePercent
				default:
					p.Mode = ModeOne
				}
			}
		}
		if h := f.HTTP; h != nil {
			if h.Method == "" {
				h.Method = DefaultActionMethod
			}
			if h.Timeout == 0 {
				h.Timeout = DefaultActionTimeout
			}
			if r := h.Recover; r != nil {
				if r.Method == "" {
					r.Method = DefaultActionMethod
				}
				if r.Timeout == 0 {
					r.Timeout = DefaultActionTimeout
				}
			}
		}
		if e := f.Exec; e != nil {
			if e.Timeout == 0 {
				e.Timeout = DefaultActionTimeout
			}
			if r := e.Recover; r != nil && r.Timeout == 0 {
				r.Timeout = DefaultActionTimeout
			}
		}
	}
	for i := range s.Checks.SLOs {
		c := &s.Checks.SLOs[i]
		if len(c.During) == 0 {
			c.During = []Phase{DefaultPhase}
		}
		if c.Mode == "" {
			c.Mode = DefaultMode
		}
		if c.Step == 0 {
			if c.Client != nil && c.PromQL == "" {
				c.Step = DefaultClientStep
			} else {
				c.Step = s.Metrics.ScrapeInterval
			}
		}
		if c.Client != nil && c.Client.SLI == SLILatency && c.Client.Quantile == 0 {
			c.Client.Quantile = DefaultQuantile
		}
	}
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
		end = max(end, st.Start+st.Duration)
	}
	return end
}
