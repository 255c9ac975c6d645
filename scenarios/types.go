// Package scenarios holds the scenario contract of gameday: the Go types of a
// game-day scenario, their strict YAML decoding with positions, defaults and
// validation, and the bundled game days.
//
// A scenario is read in three separate steps: Decode (strict, every unknown
// key and every malformed value is reported with file:line:col and the field
// path), SetDefaults (fills what the author left out), and Validate (checks
// the whole scenario and reports every problem at once, without mutating it).
// Load does all three.
package scenarios

import (
	"fmt"
	"strings"
	"time"
)

// APIVersion is the only scenario apiVersion this build understands.
const APIVersion = "gameday/v1"

// KindScenario is the only kind of document this build understands.
const KindScenario = "Scenario"

// Scenario is one game day: a target, the load sent to it, the faults injected
// on a timeline and the checks that judge the run.
type Scenario struct {
	// APIVersion is the version of the format: gameday/v1.
	APIVersion string `yaml:"apiVersion" json:"apiVersion"`
	// Kind is Scenario.
	Kind string `yaml:"kind" json:"kind"`
	// Name names the game day and its run directories: [a-z0-9][a-z0-9-]*,
	// at most 63 characters.
	Name string `yaml:"name" json:"name"`
	// Description says what the game day does, for the reports.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Proves says what a passing run shows about the system, in a sentence
	// or two, for the reports and gameday list.
	Proves string `yaml:"proves,omitempty" json:"proves,omitempty"`
	// Runbook is a note for the game day's facilitator: what to watch,
	// what to say, what to do if it goes wrong.
	Runbook string `yaml:"runbook,omitempty" json:"runbook,omitempty"`
	// Target is the system the game day plays against: exactly one kind.
	Target Target `yaml:"target" json:"target"`
	// Metrics configures the collection of Prometheus metrics during the
	// run.
	Metrics Metrics `yaml:"metrics" json:"metrics"`
	// Sessions are virtual users signed in before the load (sessions.go).
	Sessions []Session `yaml:"sessions,omitempty" json:"sessions,omitempty"`
	// Load are the streams of requests sent to the target, each with its
	// profile and mix.
	Load []Stream `yaml:"load" json:"load"`
	// Faults are injected on the timeline, each reverted when it ends and
	// on every exit.
	Faults []Fault `yaml:"faults,omitempty" json:"faults,omitempty"`
	// Probes run beside the load: the write probes RPO checks read.
	Probes Probes `yaml:"probes,omitempty" json:"probes,omitzero"`
	// Checks judge the run: SLOs, RTO and RPO checks, abort conditions.
	Checks Checks `yaml:"checks" json:"checks"`

	// File is the path the scenario was read from; it prefixes every error.
	File string `yaml:"-" json:"-"`
	// vals are the env and file values, when resolved (WithEnvironment).
	vals *Values
	// pos maps a field path ("faults[1].network.latency") to where it was
	// written, so that Validate can point at the offending line.
	pos map[string]Pos
	// nulls maps a field path written with a null value to where it was.
	nulls map[string]Pos
}

// Values returns the env and file values the scenario's templates use, as
// resolved by LoadBytes WithEnvironment; nil when they were not resolved.
// Never written anywhere: they are secrets.
func (s *Scenario) Values() *Values { return s.vals }

// Pos is a position in a scenario file, 1-based.
type Pos struct {
	Line, Col int
}

// LocalTarget is the reference backend started by gameday on loopback (see
// reference-app/ARCHITECTURE.md): a gateway in front of APIReplicas api
// processes, a store primary with StoreReplicas replicas and a sentinel, a
// cache, a queue with a push worker and a mock push provider; a Toxiproxy
// proxy on every edge (see Links) and a supervisor that restarts a process
// that dies.
type LocalTarget struct {
	// APIReplicas is the number of api processes, 1 to MaxAPIReplicas.
	APIReplicas int `yaml:"apiReplicas" json:"apiReplicas"`
	// StoreReplicas is the number of store replicas besides the primary, 0
	// to MaxStoreReplicas (the sentinel fails over to one of them; with 0,
	// a lone primary, there is nothing to fail over to, as in a restore
	// drill; replication sync needs at least 1). Default 1.
	StoreReplicas int `yaml:"storeReplicas" json:"storeReplicas"`
	// Replication is how the store primary acknowledges a write: async
	// (after its own commit) or sync (after a replica applied it).
	Replication Replication `yaml:"replication" json:"replication"`
	// RestartDelay is how long the supervisor waits before it restarts a
	// process that exited, as a kubelet's back-off would.
	RestartDelay time.Duration `yaml:"restartDelay" json:"restartDelay"`
	// TokenTTL is the lifetime of the tokens the api issues (the load
	// user's {{.Token}} and every session's); default DefaultTokenTTL. A
	// short one plays token expiry: a session re-logs a user on a 401.
	TokenTTL time.Duration `yaml:"tokenTTL" json:"tokenTTL"`
	// GatewayRateLimit is the gateway's per-client rate limit, in requests
	// per second (its burst is twice as many), 1 to MaxGatewayRateLimit;
	// default LocalGatewayRateLimit, far above a game day's load. A lower
	// one plays overload: the gateway answers 429 with Retry-After.
	GatewayRateLimit int `yaml:"gatewayRateLimit" json:"gatewayRateLimit"`
	// Binary is the refapp executable. Empty: the one beside the gameday
	// executable, then the one on PATH.
	Binary string `yaml:"binary,omitempty" json:"binary,omitempty"`
	// Toxiproxy is the base URL of an external Toxiproxy API server on
	// loopback to create the edges on. Empty: gameday embeds its own.
	Toxiproxy string `yaml:"toxiproxy,omitempty" json:"toxiproxy,omitempty"`
	// TLS makes the gateway serve clients over HTTPS ({{.Base}} is an
	// https URL) with a certificate of a CA made for the run, which the
	// run's load trusts. Inside, every edge stays plain HTTP.
	TLS bool `yaml:"tls,omitempty" json:"tls,omitempty"`
	// Autoscale runs the backend's autoscaler: api replicas beyond
	// APIReplicas (which stay, as the floor) come and go with the load.
	Autoscale *LocalAutoscale `yaml:"autoscale,omitempty" json:"autoscale,omitempty"`
	// Regions is 1 (default) or 2: a second region, b, active-passive
	// behind a global entry point ({{.Base}}), its store replicating
	// across a WAN link (see LocalTarget.Processes and RegionLinks).
	Regions int `yaml:"regions,omitempty" json:"regions,omitempty"`
}

// LocalAutoscale configures the reference backend's autoscaler (see
// reference-app/ARCHITECTURE.md): from the mean requests in flight through
// the gateway it runs extra api replicas, named api-auto-1, api-auto-2, ...,
// which the gateway finds in its upstreams file. They have no link of their
// own (network faults on gateway-api-N reach the static replicas only), and
// process faults select them by the autoscaler's instance.
type LocalAutoscale struct {
	// MaxReplicas is the most api replicas, the static ones included:
	// APIReplicas to MaxAPIReplicas.
	MaxReplicas int `yaml:"maxReplicas" json:"maxReplicas"`
	// TargetInFlight is the mean number of requests in flight per replica
	// to aim at; default DefaultTargetInFlight.
	TargetInFlight float64 `yaml:"targetInFlight,omitempty" json:"targetInFlight,omitempty"`
	// Interval is the time between two decisions; default
	// DefaultAutoscaleInterval.
	Interval time.Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// ScaleUpWindow and ScaleDownWindow are the stabilisation windows:
	// replicas are added only when every recommendation of the last
	// ScaleUpWindow asks for more, and removed only when every one of the
	// last ScaleDownWindow asks for fewer. Absent or 0: none.
	ScaleUpWindow   time.Duration `yaml:"scaleUpWindow,omitempty" json:"scaleUpWindow,omitempty"`
	ScaleDownWindow time.Duration `yaml:"scaleDownWindow,omitempty" json:"scaleDownWindow,omitempty"`
}

// Replication is a store replication mode.
type Replication string

// Replication modes.
const (
	ReplicationAsync Replication = "async"
	ReplicationSync  Replication = "sync"
)

// Metrics configures the embedded Prometheus.
type Metrics struct {
	// ScrapeInterval is how often every process and gameday's own client-side
	// metrics are scraped.
	ScrapeInterval time.Duration `yaml:"scrapeInterval" json:"scrapeInterval"`
}

// Stream is one named load stream: a rate profile and a weighted request mix.
type Stream struct {
	Name string `yaml:"name" json:"name"`
	// Start is the offset from the start of the run at which the stream starts.
	Start time.Duration `yaml:"start,omitempty" json:"start,omitempty"`
	// Duration is how long the stream sends requests.
	Duration time.Duration `yaml:"duration" json:"duration"`
	Profile  Profile       `yaml:"profile" json:"profile"`
	Requests []Request     `yaml:"requests" json:"requests"`
	// Timeout bounds every request of the stream.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// MaxWorkers caps the stream's concurrent requests. 0: derived from the
	// rate and the timeout, with a hard cap.
	MaxWorkers int `yaml:"maxWorkers,omitempty" json:"maxWorkers,omitempty"`
	// Session names the session whose users the requests act as
	// ({{.User.Token}}), chosen by Pick (default round-robin).
	Session string `yaml:"session,omitempty" json:"session,omitempty"`
	Pick    Pick   `yaml:"pick,omitempty" json:"pick,omitempty"`
	// Seed seeds randInt, pick and the random Pick; absent: a new seed
	// every run.
	Seed *int64 `yaml:"seed,omitempty" json:"seed,omitempty"`
	// Data is a CSV or JSON table that {{.Row.column}} reads.
	Data *DataFile `yaml:"data,omitempty" json:"data,omitempty"`
}

// Rate is a number of requests per period, written "200/s", "50/100ms" or
// "30/1m". A bare "/s" period means one second.
type Rate struct {
	Freq int
	Per  time.Duration
}

// Request is one entry of a weighted request mix. URL, Body and header
// values are Go text/templates over RequestData.
type Request struct {
	// Name is the route label of the request in metrics and reports.
	// Default: the method and the path of the URL template, "GET /v1/feed".
	Name   string `yaml:"name" json:"name"`
	Weight int    `yaml:"weight" json:"weight"` // relative weight, >= 1; default 1
	Method string `yaml:"method" json:"method"` // default GET
	URL    string `yaml:"url" json:"url"`
	Body   string `yaml:"body,omitempty" json:"body,omitempty"`
	// BodyFile is a file whose content is the body template, read once,
	// relative to the scenario's folder; exclusive with Body.
	BodyFile string `yaml:"bodyFile,omitempty" json:"bodyFile,omitempty"`
	// Header holds extra request headers.
	Header map[string]string `yaml:"header,omitempty" json:"header,omitempty"`
}

// RequestData is what a request template sees. Functions besides: env
// NAME and file PATH (values resolved once before the run, never written to
// the run directory); randInt A B (A to B, both included), pick "a" "b" ...
// (one of them), both drawn per request from the stream's seed; now (RFC
// 3339, UTC, milliseconds).
type RequestData struct {
	Base  string // the target's base URL, without a trailing slash
	Seq   uint64 // the request's sequence number within its stream, from 0
	ID    string // an identifier unique within the run
	RunID string // the run's identifier
	// Token is a bearer token of the local target's load user, signed in
	// when the target started: send it as "Authorization: Bearer {{.Token}}".
	Token string
	// User is the request's user, in a stream with a session; nil without.
	User *SessionUser
	// Row is the row of the stream's data file for this request, by
	// column; nil without a data file.
	Row map[string]string

	urls map[string]string
}

// URL returns the target's URL named name ({{.URL "admin"}}): an external
// target's named URLs, or a process's own URL by instance name.
func (d RequestData) URL(name string) (string, error) {
	u, ok := d.urls[name]
	if !ok {
		names := sortedKeys(d.urls)
		if len(names) == 0 {
			return "", fmt.Errorf("unknown URL %q: the target names no URL", name)
		}
		return "", fmt.Errorf("unknown URL %q (want one of %s)", name, strings.Join(names, ", "))
	}
	return u, nil
}

// Checks are what judge a run. A scenario has at least one check of any
// kind, so that a CI gate on it can always fail.
type Checks struct {
	SLOs []SLO `yaml:"slos,omitempty" json:"slos,omitempty"`
	// RTO are the recovery-time checks, one fault each.
	RTO []RTO `yaml:"rto,omitempty" json:"rto,omitempty"`
	// RPO are the data-loss checks, one fault and one write probe each.
	RPO []RPO `yaml:"rpo,omitempty" json:"rpo,omitempty"`
	// Abort are the conditions evaluated live, every second, while the run
	// plays: when one fails, every fault is recovered, the load stops, the
	// run is judged on what it has and exits 3.
	Abort []Abort `yaml:"abort,omitempty" json:"abort,omitempty"`
}

// Defaults of the recovery and abort checks and of the write probes.
const (
	// DefaultStableFor is how long a recovery condition must hold, without
	// a breach, for the fault to count as recovered.
	DefaultStableFor = 3 * time.Second
	// DefaultRecoveryWindow is the sliding window a client-side recovery
	// condition is computed over.
	DefaultRecoveryWindow = time.Second
	// DefaultRecoveryQuantile is the latency quantile of a recovery
	// condition that bounds latency without naming one.
	DefaultRecoveryQuantile = 0.99
	// DefaultAbortWindow is the trailing window an abort condition's SLI is
	// computed over, every second.
	DefaultAbortWindow = 5 * time.Second
	// DefaultProbeEvery is the cadence of a write probe.
	DefaultProbeEvery = 50 * time.Millisecond
	// DefaultProbeTimeout bounds one write or read of a write probe.
	DefaultProbeTimeout = 2 * time.Second
	// DefaultProbeSettle is how long after the last fault's recovery (and
	// the end of the load) the probe waits before it reads every
	// acknowledged write back.
	DefaultProbeSettle = 2 * time.Second
	// DefaultProbeMaxInFlight caps a write probe's writes in flight.
	DefaultProbeMaxInFlight = 8
)

// RTO is a recovery-time check of one fault: the time from the fault's
// injection (t0) to the first instant t1 from which Recovery holds
// continuously for StableFor; RTO = t1 - t0. A fault never recovered
// within the run has an unbounded RTO and fails the check. With a repeated
// fault every injection is judged.
type RTO struct {
	Name string `yaml:"name" json:"name"`
	// Fault names the fault (faults[].name).
	Fault string `yaml:"fault" json:"fault"`
	// Recovery is the condition that says the system has recovered.
	Recovery Recovery `yaml:"recovery" json:"recovery"`
	// StableFor is how long Recovery must hold without a breach; default
	// DefaultStableFor.
	StableFor time.Duration `yaml:"stableFor" json:"stableFor"`
	// Objective bounds the RTO: a duration, "<= 10s".
	Objective Objective `yaml:"objective" json:"objective"`
}

// Recovery is the condition of an RTO check: either client-side (a
// success ratio and/or a latency quantile of the raw results over a
// sliding Window, at least one of them) or PromQL (an expression of one
// series and the Objective it must meet at every Step).
type Recovery struct {
	// SuccessRatio is the objective of the success ratio over the window:
	// ">= 0.99", ">= 99%".
	SuccessRatio *Objective `yaml:"successRatio,omitempty" json:"successRatio,omitempty"`
	// Latency bounds the Quantile of the successful requests' latency over
	// the window: "<= 300ms".
	Latency *Objective `yaml:"latency,omitempty" json:"latency,omitempty"`
	// Quantile is the latency quantile, in (0, 1]; default
	// DefaultRecoveryQuantile when Latency is set.
	Quantile float64 `yaml:"quantile,omitempty" json:"quantile,omitempty"`
	// Window is the sliding window of the client-side SLIs; default
	// DefaultRecoveryWindow.
	Window time.Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// Stream and Route restrict the requests counted; empty: all.
	Stream string `yaml:"stream,omitempty" json:"stream,omitempty"`
	Route  string `yaml:"route,omitempty" json:"route,omitempty"`

	// PromQL is an expression that yields one series, evaluated at every
	// Step; set with Objective, instead of the client-side fields.
	PromQL    string     `yaml:"promql,omitempty" json:"promql,omitempty"`
	Objective *Objective `yaml:"objective,omitempty" json:"objective,omitempty"`
	// Step is the PromQL evaluation step; default the scrape interval.
	Step time.Duration `yaml:"step,omitempty" json:"step,omitempty"`
}

// RPO is a data-loss check of one fault, on a write probe: the writes it
// acknowledged and could not read back after the settle period. RPO =
// t0 - the acknowledgement time of the oldest lost write; 0 when nothing
// is lost.
type RPO struct {
	Name string `yaml:"name" json:"name"`
	// Fault names the fault (faults[].name).
	Fault string `yaml:"fault" json:"fault"`
	// Probe names the write probe (probes.writes[].name); default the only
	// one.
	Probe string `yaml:"probe" json:"probe"`
	// Objective bounds the RPO: a duration, "<= 0s", "<= 1s".
	Objective Objective `yaml:"objective" json:"objective"`
	// ReplicationLag is a PromQL expression of the target's replication
	// lag, shown beside the measured RPO with its value just before t0;
	// optional.
	ReplicationLag string `yaml:"replicationLag,omitempty" json:"replicationLag,omitempty"`
}

// Abort is a safety condition evaluated live, every second, on the
// trailing Window: the run aborts as soon as the SLI does not meet the
// Objective. Exactly one of PromQL and Client is set.
type Abort struct {
	Name      string     `yaml:"name" json:"name"`
	PromQL    string     `yaml:"promql,omitempty" json:"promql,omitempty"`
	Client    *ClientSLI `yaml:"client,omitempty" json:"client,omitempty"`
	Objective Objective  `yaml:"objective" json:"objective"`
	// Window is the trailing window the SLI is computed over (client) or
	// the range PromQL is evaluated at the end of; default
	// DefaultAbortWindow.
	Window time.Duration `yaml:"window" json:"window"`
}

// Probes are what runs beside the load to measure what the load cannot.
type Probes struct {
	Writes []WriteProbe `yaml:"writes,omitempty" json:"writes,omitempty"`
}

// WriteProbe writes at a fixed cadence, each write with its own {{.ID}},
// from the start of the load to its end, records every acknowledged write
// with its acknowledgement time in the run directory as it goes, and once
// the last fault has recovered, the load has ended and Settle has passed,
// reads every acknowledged write back.
type WriteProbe struct {
	Name string `yaml:"name" json:"name"`
	// Write and Read are templated like load requests; they see the
	// write's {{.ID}} and {{.Seq}}. Write's method defaults to POST,
	// Read's to GET.
	Write ProbeRequest `yaml:"write" json:"write"`
	Read  ProbeRequest `yaml:"read" json:"read"`
	// Every is the cadence of the writes; default DefaultProbeEvery.
	Every time.Duration `yaml:"every" json:"every"`
	// Timeout bounds one write or read; default DefaultProbeTimeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// Settle is the wait before the read-back; default DefaultProbeSettle.
	Settle time.Duration `yaml:"settle" json:"settle"`
	// MaxInFlight caps the writes in flight; a tick that finds them all
	// busy is skipped, never queued. Default DefaultProbeMaxInFlight.
	MaxInFlight int `yaml:"maxInFlight" json:"maxInFlight"`
	// Acked are the statuses that acknowledge a write (default: every
	// 2xx); Found and NotFound those of a read that found the write
	// (default 200) or says it is not there (default 404). Anything else
	// is a failed read: unverified, never counted lost.
	Acked    []int `yaml:"acked,omitempty" json:"acked,omitempty"`
	Found    []int `yaml:"found,omitempty" json:"found,omitempty"`
	NotFound []int `yaml:"notFound,omitempty" json:"notFound,omitempty"`
}

// ProbeRequest is the write or the read of a write probe.
type ProbeRequest struct {
	Method string            `yaml:"method" json:"method"`
	URL    string            `yaml:"url" json:"url"`
	Body   string            `yaml:"body,omitempty" json:"body,omitempty"`
	Header map[string]string `yaml:"header,omitempty" json:"header,omitempty"`
}

// SLO compares a service level indicator with an objective over a window.
// Exactly one of PromQL and Client is set.
type SLO struct {
	Name string `yaml:"name" json:"name"`
	// PromQL is an expression that yields one series; it is evaluated over
	// the window at every Step.
	PromQL string `yaml:"promql,omitempty" json:"promql,omitempty"`
	// Client is a built-in SLI computed from the raw load results.
	Client    *ClientSLI `yaml:"client,omitempty" json:"client,omitempty"`
	Objective Objective  `yaml:"objective" json:"objective"`
	// During names the phases the SLO must hold in; default [all].
	During []Phase `yaml:"during" json:"during"`
	// Mode says how the window is judged; default overall.
	Mode Mode `yaml:"mode" json:"mode"`
	// Step is the evaluation step: PromQL step, and the bucket width of a
	// client SLI in mode always. Default: the scrape interval for PromQL,
	// 1s for client SLIs.
	Step time.Duration `yaml:"step" json:"step"`
	// SteadyState marks a check of the steady state: it is also evaluated
	// on the warmup, before the first fault, and when it fails there no
	// fault is injected and the run exits 3.
	SteadyState bool `yaml:"steadyState,omitempty" json:"steadyState,omitempty"`
}

// ClientSLI selects a built-in client-side SLI.
type ClientSLI struct {
	SLI ClientSLIKind `yaml:"sli" json:"sli"`
	// Quantile is for SLILatency, in (0, 1]; default 0.99.
	Quantile float64 `yaml:"quantile,omitempty" json:"quantile,omitempty"`
	// Stream and Route restrict the requests counted; empty: all.
	Stream string `yaml:"stream,omitempty" json:"stream,omitempty"`
	Route  string `yaml:"route,omitempty" json:"route,omitempty"`
}

// ClientSLIKind names a client-side SLI.
type ClientSLIKind string

// The client-side SLIs.
const (
	SLISuccessRatio ClientSLIKind = "success_ratio" // successful / all requests, in [0, 1]
	SLILatency      ClientSLIKind = "latency"       // latency quantile, in seconds
	SLIThroughput   ClientSLIKind = "throughput"    // successful requests per second
	// SLIDroppedRatio is the share of the hits due by the load's schedule
	// that gameday dropped, every worker of the stream being busy: dropped
	// / (requests + dropped), in [0, 1]. It says the load was not what the
	// scenario asked for (a target slower than the stream's workers allow
	// for), so a game day can fail on it rather than pass on less load.
	SLIDroppedRatio ClientSLIKind = "dropped_ratio"
)

// Objective is a comparison with a bound, written "<op> <value>": ">= 0.99",
// ">= 99.5%", "<= 300ms", "< 2". Durations are compared in seconds and
// percentages as ratios; Unit keeps what was written, so that Validate can
// refuse a bound whose unit does not fit the SLI (">= 300ms" on a success
// ratio).
type Objective struct {
	Op    Op
	Value float64
	// Unit is the unit the value was written in; UnitNone for a plain
	// number.
	Unit Unit
	// Text is the objective as written, for reports.
	Text string
}

// Unit is the unit an objective's value was written in.
type Unit string

// The units of an objective's value.
const (
	UnitNone     Unit = ""         // a plain number: "0.99", "2"
	UnitPercent  Unit = "percent"  // a percentage, read as a ratio: "99.5%"
	UnitDuration Unit = "duration" // a Go duration, read in seconds: "300ms"
)

// String names the unit for messages: "a plain number", "a percentage",
// "a duration".
func (u Unit) String() string {
	switch u {
	case UnitNone:
		return "a plain number"
	case UnitPercent:
		return "a percentage"
	case UnitDuration:
		return "a duration"
	}
	return string(u)
}

// Op is a comparison operator of an objective.
type Op string

// The comparison operators.
const (
	OpLT Op = "<"
	OpLE Op = "<="
	OpGT Op = ">"
	OpGE Op = ">="
)

// Phase names a part of the run's timeline.
type Phase string

// The phases of a run; warmup, fault, between and recovery cover the load
// without holes or overlaps. Warmup runs from the start of the load to the
// first injection; fault while any fault is active (from an injection to
// its recovery); between from the end of one fault window to the start of
// the next; recovery from the end of the last fault to the end of the
// load; all is the whole load. Each window is [start, end).
const (
	PhaseWarmup   Phase = "warmup"
	PhaseFault    Phase = "fault"
	PhaseBetween  Phase = "between"
	PhaseRecovery Phase = "recovery"
	PhaseAll      Phase = "all"
)

// Mode says how an SLO judges its window.
type Mode string

// The modes of an SLO.
const (
	// ModeOverall: the SLI aggregated over the whole window meets the
	// objective (for PromQL: the mean of the steps).
	ModeOverall Mode = "overall"
	// ModeAlways: the SLI meets the objective at every step of the window.
	ModeAlways Mode = "always"
)
