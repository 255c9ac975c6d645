package scenarios

import (
	"fmt"
	"maps"
	"math"
	"strings"
	"time"
)

// Fault is one fault on the timeline: exactly one of Network, Process, HTTP
// and Exec is set.
type Fault struct {
	Name string `yaml:"name" json:"name"`
	// At is the offset from the start of the run at which the fault is
	// injected (the first time, with Repeat).
	At time.Duration `yaml:"at" json:"at"`
	// For is how long the fault stays each time. Absent: a fault whose
	// effect ends by itself (a kill, over once the victims are back; an
	// action without a recover step) ends then; any other stays until the
	// load ends. A process stop (STOP) requires it.
	For time.Duration `yaml:"for,omitempty" json:"for,omitempty"`
	// Repeat injects the fault again every Every, Count times in all.
	Repeat  *Repeat       `yaml:"repeat,omitempty" json:"repeat,omitempty"`
	Network *NetworkFault `yaml:"network,omitempty" json:"network,omitempty"`
	Process *ProcessFault `yaml:"process,omitempty" json:"process,omitempty"`
	HTTP    *HTTPFault    `yaml:"http,omitempty" json:"http,omitempty"`
	Exec    *ExecFault    `yaml:"exec,omitempty" json:"exec,omitempty"`
	// Pod deletes pods of a Kubernetes target.
	Pod *PodFault `yaml:"pod,omitempty" json:"pod,omitempty"`
}

// PodFault deletes pods of a Kubernetes target, chosen by selectors in one
// namespace, and watches their owner (Deployment, StatefulSet, ReplicaSet)
// until it is fully ready again: the fault ends by itself then. Every
// deletion is announced by a Kubernetes Event on the victim's owner.
type PodFault struct {
	// Namespace is one of the target's namespaces; required.
	Namespace string `yaml:"namespace" json:"namespace"`
	// LabelSelector and FieldSelector select the pods, in Kubernetes'
	// selector syntax ("app=api,tier!=cache", "status.phase=Running");
	// at least one is required.
	LabelSelector string `yaml:"labelSelector,omitempty" json:"labelSelector,omitempty"`
	FieldSelector string `yaml:"fieldSelector,omitempty" json:"fieldSelector,omitempty"`
	// Mode, Count, Percent and Seed choose the victims among the selected
	// pods as for a process fault.
	Mode    VictimMode `yaml:"mode" json:"mode"`
	Count   int        `yaml:"count,omitempty" json:"count,omitempty"`
	Percent float64    `yaml:"percent,omitempty" json:"percent,omitempty"`
	Seed    *int64     `yaml:"seed,omitempty" json:"seed,omitempty"`
	// GracePeriod is the deletion's grace period; 0 deletes at once
	// (force). Default DefaultPodGracePeriod.
	GracePeriod time.Duration `yaml:"gracePeriod" json:"gracePeriod"`
	// MaxVictims caps the pods one injection deletes, whatever the mode;
	// default DefaultMaxVictims, at most MaxPodVictims.
	MaxVictims int `yaml:"maxVictims" json:"maxVictims"`
	// ReadyTimeout bounds the wait for the owners to be fully ready again;
	// default DefaultPodReadyTimeout. Past it the fault ends unrecovered.
	ReadyTimeout time.Duration `yaml:"readyTimeout" json:"readyTimeout"`
}

// Defaults and limits of pod faults.
const (
	DefaultPodGracePeriod  = 0 * time.Second
	DefaultMaxVictims      = 10
	MaxPodVictims          = 1000
	DefaultPodReadyTimeout = 5 * time.Minute
)

// Repeat repeats a fault: injected at At, At+Every, … Count times; each
// time it must have ended (For, or by itself) before the next.
type Repeat struct {
	Every time.Duration `yaml:"every" json:"every"`
	Count int           `yaml:"count" json:"count"` // injections in all, at least 2
}

// NetworkFault adds Toxiproxy toxics to one link of the target, or cuts it
// (ToxicDown), or applies a preset of toxics (Mobile). Exactly one of Toxic
// and Mobile is set.
type NetworkFault struct {
	// Link is the name of a proxied edge of the target.
	Link  string    `yaml:"link" json:"link"`
	Toxic ToxicType `yaml:"toxic,omitempty" json:"toxic,omitempty"`
	// Mobile applies a preset: a bad mobile network (see MobilePresets).
	Mobile MobilePreset `yaml:"mobile,omitempty" json:"mobile,omitempty"`
	// Latency and Jitter are for ToxicLatency: data is delayed by Latency ±
	// Jitter. Toxiproxy counts whole milliseconds.
	Latency time.Duration `yaml:"latency,omitempty" json:"latency,omitempty"`
	Jitter  time.Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	// Timeout is for ToxicTimeout (data stops; the connection is closed
	// after Timeout, or held until the fault ends when 0) and ToxicResetPeer
	// (the connection is reset after Timeout; at once when 0).
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// RateKBps is for ToxicBandwidth, in kilobytes per second.
	RateKBps int `yaml:"rateKBps,omitempty" json:"rateKBps,omitempty"`
	// Delay is for ToxicSlowClose (the close is delayed by it) and
	// ToxicSlicer (the pause between slices).
	Delay time.Duration `yaml:"delay,omitempty" json:"delay,omitempty"`
	// AverageSize and SizeVariation are for ToxicSlicer: data is cut into
	// slices of AverageSize ± SizeVariation bytes.
	AverageSize   int `yaml:"averageSize,omitempty" json:"averageSize,omitempty"`
	SizeVariation int `yaml:"sizeVariation,omitempty" json:"sizeVariation,omitempty"`
	// Bytes is for ToxicLimitData: the connection is closed once that many
	// bytes went through.
	Bytes int64 `yaml:"bytes,omitempty" json:"bytes,omitempty"`
	// Direction is the stream the toxic acts on: upstream (client to
	// server), downstream, or both (one toxic each way). Default: the one
	// where the toxic behaves as named (see DefaultDirection). Not for
	// ToxicDown or Mobile.
	Direction Direction `yaml:"direction,omitempty" json:"direction,omitempty"`
	// Toxicity is the probability, in [0, 1], that a connection is
	// affected; 0 affects none. Default 1. Not for ToxicDown or Mobile.
	Toxicity *float64 `yaml:"toxicity,omitempty" json:"toxicity,omitempty"`
}

// ToxicType names a network fault.
type ToxicType string

// The network faults: every toxic of Toxiproxy 2.12, and down.
const (
	ToxicLatency   ToxicType = "latency"    // delay data by Latency ± Jitter
	ToxicBandwidth ToxicType = "bandwidth"  // limit to RateKBps
	ToxicSlowClose ToxicType = "slow_close" // delay the close by Delay
	ToxicTimeout   ToxicType = "timeout"    // stop all data; close after Timeout if set
	ToxicResetPeer ToxicType = "reset_peer" // reset connections (ECONNRESET) after Timeout
	ToxicSlicer    ToxicType = "slicer"     // slice data into AverageSize±SizeVariation bytes, Delay apart
	ToxicLimitData ToxicType = "limit_data" // close the connection after Bytes
	ToxicDown      ToxicType = "down"       // disable the link: connections are refused
)

// Direction is the stream of a link a toxic acts on.
type Direction string

// The directions of a link.
const (
	Upstream   Direction = "upstream"   // client to server
	Downstream Direction = "downstream" // server to client
	Both       Direction = "both"       // one toxic each way
)

// MobilePreset names a bad mobile network, built from toxics.
type MobilePreset string

// The mobile presets; MobilePresets says what each is.
const (
	Mobile3G    MobilePreset = "3g"
	MobileEdge  MobilePreset = "edge"
	MobileLossy MobilePreset = "lossy"
)

// ProcessFault sends a signal to processes of the target selected by label.
type ProcessFault struct {
	// Selector selects processes by label; all must match.
	Selector map[string]string `yaml:"selector" json:"selector"`
	Signal   Signal            `yaml:"signal" json:"signal"` // default KILL
	// Mode says how many of the selected processes are hit: one (default),
	// all, fixed (Count), percent (Percent of them, rounded up).
	Mode VictimMode `yaml:"mode" json:"mode"`
	// Count is the number of victims in mode fixed (the default mode when
	// Count is written).
	Count int `yaml:"count,omitempty" json:"count,omitempty"`
	// Percent is the share of the selected processes hit in mode percent,
	// in (0, 100].
	Percent float64 `yaml:"percent,omitempty" json:"percent,omitempty"`
	// Seed makes the choice of victims reproducible: the same seed, the
	// same processes and the same mode pick the same victims. Absent: a
	// random seed, recorded in the run.
	Seed *int64 `yaml:"seed,omitempty" json:"seed,omitempty"`
}

// VictimMode says how many selected processes a process fault hits.
type VictimMode string

// The victim modes.
const (
	ModeOne     VictimMode = "one"
	ModeAll     VictimMode = "all"
	ModeFixed   VictimMode = "fixed"
	ModePercent VictimMode = "percent"
)

// Signal names a signal for a process fault.
type Signal string

// The signals a process fault can send.
const (
	SignalKill Signal = "KILL"
	SignalTerm Signal = "TERM"
	SignalInt  Signal = "INT"
	SignalStop Signal = "STOP" // paused until the fault ends, then CONT
)

// HTTPFault is an action fault: an HTTP request sent when the fault is
// injected (call a failover or flush-cache admin API), and optionally one
// when it recovers.
type HTTPFault struct {
	Method  string            `yaml:"method" json:"method"` // default POST
	URL     string            `yaml:"url" json:"url"`
	Body    string            `yaml:"body,omitempty" json:"body,omitempty"`
	Header  map[string]string `yaml:"header,omitempty" json:"header,omitempty"`
	Expect  []int             `yaml:"expect,omitempty" json:"expect,omitempty"`
	Timeout time.Duration     `yaml:"timeout" json:"timeout"`
	Retries int               `yaml:"retries,omitempty" json:"retries,omitempty"`
	// Recover is sent when the fault recovers; absent: the fault is over
	// once its request succeeded.
	Recover *HTTPRequest `yaml:"recover,omitempty" json:"recover,omitempty"`
}

// Request returns the fault's inject request.
func (h *HTTPFault) Request() *HTTPRequest {
	return &HTTPRequest{Method: h.Method, URL: h.URL, Body: h.Body, Header: h.Header, Expect: h.Expect, Timeout: h.Timeout, Retries: h.Retries}
}

// HTTPRequest is a request of an HTTP action. URL, Body and header values
// are templates like a load request's ({{.Base}}, {{.URL "admin"}}, env,
// file).
type HTTPRequest struct {
	Method string            `yaml:"method" json:"method"` // default POST
	URL    string            `yaml:"url" json:"url"`
	Body   string            `yaml:"body,omitempty" json:"body,omitempty"`
	Header map[string]string `yaml:"header,omitempty" json:"header,omitempty"`
	// Expect lists the acceptable status codes; default: any 2xx.
	Expect []int `yaml:"expect,omitempty" json:"expect,omitempty"`
	// Timeout bounds each attempt; default DefaultActionTimeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// Retries is how many more attempts follow a failed one.
	Retries int `yaml:"retries,omitempty" json:"retries,omitempty"`
}

// ExecFault is an action fault: a command run when the fault is injected
// (a backup-restore script), and optionally one when it recovers. A
// command that fails or times out fails the run; its output is kept in the
// run's events and report.
type ExecFault struct {
	Command []string          `yaml:"command" json:"command"`
	Dir     string            `yaml:"dir,omitempty" json:"dir,omitempty"`
	Env     map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	Timeout time.Duration     `yaml:"timeout" json:"timeout"`
	Recover *ExecCommand      `yaml:"recover,omitempty" json:"recover,omitempty"`
}

// Inject returns the fault's inject command.
func (e *ExecFault) Inject() *ExecCommand {
	return &ExecCommand{Command: e.Command, Dir: e.Dir, Env: e.Env, Timeout: e.Timeout}
}

// ExecCommand is a command of an exec action.
type ExecCommand struct {
	// Command is the executable and its arguments; a relative executable
	// path is taken from the scenario file's folder. A first element that
	// names a command of the target runs it: on a local target, refapp is
	// its reference backend (refapp restore ...). Each element is a
	// template over ExecData: {{.Base}}, {{.URL "name"}}, {{.Dir "name"}}
	// (a folder of the target: on a local target, an instance's data dir
	// by instance name, or "shared", the target's folder, with the store's
	// backups in shared/backups), env, file.
	Command []string `yaml:"command" json:"command"`
	// Dir is the working directory, relative to the scenario file's folder.
	Dir string            `yaml:"dir,omitempty" json:"dir,omitempty"`
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Timeout bounds the command; default DefaultActionTimeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
}

// ExecData is what the templates of an exec action's command see: the
// running target's base URL, named URLs and folders.
type ExecData struct {
	Base  string // the target's base URL, without a trailing slash
	Token string // the local target's load user's bearer token
	urls  map[string]string
	dirs  map[string]string
}

// NewExecData returns the data of exec templates over a running target's
// URLs and folders (see ExecCommand).
func NewExecData(base, token string, urls, dirs map[string]string) ExecData {
	return ExecData{Base: base, Token: token, urls: urls, dirs: dirs}
}

// URL returns the target's URL named name ({{.URL "sentinel"}}).
func (d ExecData) URL(name string) (string, error) {
	return RequestData{urls: d.urls}.URL(name)
}

// Dir returns the target's folder named name ({{.Dir "store-1"}}).
func (d ExecData) Dir(name string) (string, error) {
	p, ok := d.dirs[name]
	if !ok {
		if len(d.dirs) == 0 {
			return "", fmt.Errorf("unknown folder %q: the target has no folder", name)
		}
		return "", fmt.Errorf("unknown folder %q (want one of %s)", name, strings.Join(sortedKeys(d.dirs), ", "))
	}
	return p, nil
}

// DefaultActionTimeout bounds an HTTP request attempt or a command of an
// action fault that names no timeout.
const DefaultActionTimeout = 30 * time.Second

// DefaultDirection is the stream on which a toxic behaves as its name says:
// upstream for timeout and reset_peer (on downstream an HTTP client sees the
// connection end at once instead of a hang), downstream for the others.
func DefaultDirection(t ToxicType) Direction {
	switch t {
	case ToxicTimeout, ToxicResetPeer:
		return Upstream
	}
	return Downstream
}

// Toxic is one Toxiproxy toxic of a network fault, as it is added: the
// scenario's values in Toxiproxy's units.
type Toxic struct {
	// Part names the toxic within its fault: "" for the only one; "up" and
	// "down" for the two of direction both; a preset's part names.
	Part       string
	Type       string  // Toxiproxy's toxic type
	Stream     string  // "upstream" or "downstream"
	Toxicity   float64 // in [0, 1]
	Attributes map[string]int64
}

// MobilePresets are the toxics each mobile preset adds, for both
// directions where the network is asymmetric. Latencies are one-way (a
// request pays both ways).
//
//	3g     100ms±30ms each way; 750 KB/s down, 250 KB/s up
//	edge   200ms±80ms each way; 30 KB/s down, 15 KB/s up
//	lossy  50ms±40ms each way; 1 connection in 50 reset; data in slices of 512±256 bytes, 2ms apart
func MobilePresets() map[MobilePreset][]Toxic {
	lat := func(part, stream string, ms, jitter int64) Toxic {
		return Toxic{Part: part, Type: string(ToxicLatency), Stream: stream, Toxicity: 1, Attributes: map[string]int64{"latency": ms, "jitter": jitter}}
	}
	bw := func(part, stream string, kbps int64) Toxic {
		return Toxic{Part: part, Type: string(ToxicBandwidth), Stream: stream, Toxicity: 1, Attributes: map[string]int64{"rate": kbps}}
	}
	up, down := string(Upstream), string(Downstream)
	return map[MobilePreset][]Toxic{
		Mobile3G:   {lat("latency-up", up, 100, 30), lat("latency-down", down, 100, 30), bw("bandwidth-up", up, 250), bw("bandwidth-down", down, 750)},
		MobileEdge: {lat("latency-up", up, 200, 80), lat("latency-down", down, 200, 80), bw("bandwidth-up", up, 15), bw("bandwidth-down", down, 30)},
		MobileLossy: {lat("latency-up", up, 50, 40), lat("latency-down", down, 50, 40),
			{Part: "reset", Type: string(ToxicResetPeer), Stream: up, Toxicity: 0.02, Attributes: map[string]int64{"timeout": 0}},
			{Part: "slicer", Type: string(ToxicSlicer), Stream: down, Toxicity: 1, Attributes: map[string]int64{"average_size": 512, "size_variation": 256, "delay": 2000}}},
	}
}

// Toxics returns the toxics a valid network fault adds, with its defaults
// filled: none for ToxicDown. It is the one place where a network fault's
// values become Toxiproxy's.
func (n NetworkFault) Toxics() []Toxic {
	if n.Mobile != "" {
		return MobilePresets()[n.Mobile]
	}
	if n.Toxic == ToxicDown || n.Toxic == "" {
		return nil
	}
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	var attrs map[string]int64
	switch n.Toxic {
	case ToxicLatency:
		attrs = map[string]int64{"latency": ms(n.Latency), "jitter": ms(n.Jitter)}
	case ToxicBandwidth:
		attrs = map[string]int64{"rate": int64(n.RateKBps)}
	case ToxicSlowClose:
		attrs = map[string]int64{"delay": ms(n.Delay)}
	case ToxicTimeout, ToxicResetPeer:
		attrs = map[string]int64{"timeout": ms(n.Timeout)}
	case ToxicSlicer:
		attrs = map[string]int64{"average_size": int64(n.AverageSize), "size_variation": int64(n.SizeVariation), "delay": n.Delay.Microseconds()}
	case ToxicLimitData:
		attrs = map[string]int64{"bytes": n.Bytes}
	}
	toxicity := 1.0
	if n.Toxicity != nil {
		toxicity = *n.Toxicity
	}
	dir := n.Direction
	if dir == "" {
		dir = DefaultDirection(n.Toxic)
	}
	t := Toxic{Type: string(n.Toxic), Toxicity: toxicity, Attributes: attrs}
	if dir != Both {
		t.Stream = string(dir)
		return []Toxic{t}
	}
	upT, downT := t, t
	upT.Part, upT.Stream = "up", string(Upstream)
	downT.Part, downT.Stream = "down", string(Downstream)
	downT.Attributes = maps.Clone(attrs)
	return []Toxic{upT, downT}
}

// VictimCount is how many of n selected processes a valid process fault
// hits.
func (p ProcessFault) VictimCount(n int) int {
	var k int
	switch p.Mode {
	case ModeAll:
		k = n
	case ModeFixed:
		k = p.Count
	case ModePercent:
		k = int(math.Ceil(p.Percent * float64(n) / 100))
	default:
		k = 1
	}
	return max(0, min(k, n))
}

// Fault kinds, as Fault.Kind names them.
const (
	FaultNetwork = "network"
	FaultProcess = "process"
	FaultPod     = "pod"
	FaultHTTP    = "http"
	FaultExec    = "exec"
)

// Kind names the kind of fault that is set; "" when none or several are.
func (f Fault) Kind() string {
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{{FaultNetwork, f.Network != nil}, {FaultProcess, f.Process != nil}, {FaultHTTP, f.HTTP != nil}, {FaultExec, f.Exec != nil}, {FaultPod, f.Pod != nil}} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

// Describe says what a valid network fault does, for its records:
// "latency 200ms±20ms downstream", "mobile 3g", "down".
func (n NetworkFault) Describe() string {
	if n.Mobile != "" {
		return "mobile " + string(n.Mobile)
	}
	var a string
	switch n.Toxic {
	case ToxicDown:
		return "down (proxy disabled)"
	case ToxicLatency:
		a = "latency " + formatDuration(n.Latency)
		if n.Jitter > 0 {
			a += "±" + formatDuration(n.Jitter)
		}
	case ToxicBandwidth:
		a = fmt.Sprintf("bandwidth %dKB/s", n.RateKBps)
	case ToxicSlowClose:
		a = "slow_close " + formatDuration(n.Delay)
	case ToxicTimeout:
		a = "timeout"
		if n.Timeout > 0 {
			a += " " + formatDuration(n.Timeout)
		}
	case ToxicResetPeer:
		a = "reset_peer"
		if n.Timeout > 0 {
			a += " after " + formatDuration(n.Timeout)
		}
	case ToxicSlicer:
		a = fmt.Sprintf("slicer %d±%d bytes", n.AverageSize, n.SizeVariation)
		if n.Delay > 0 {
			a += " " + formatDuration(n.Delay) + " apart"
		}
	case ToxicLimitData:
		a = fmt.Sprintf("limit_data %d bytes", n.Bytes)
	default:
		a = string(n.Toxic)
	}
	dir := n.Direction
	if dir == "" {
		dir = DefaultDirection(n.Toxic)
	}
	a += " " + string(dir)
	if n.Toxicity != nil && *n.Toxicity < 1 {
		a += fmt.Sprintf(" toxicity %g", *n.Toxicity)
	}
	return a
}

// Describe says what a valid fault does when it is injected, without its
// timing, for a plan (gameday run --dry-run): "add latency 200ms
// downstream on link api-db", "send KILL to one process matching {role: api}", "delete
// one pod in shop matching app=api". Templates are shown as written, not
// expanded.
func (f Fault) Describe() string {
	switch {
	case f.Network != nil && f.Network.Toxic == ToxicDown:
		return "cut link " + f.Network.Link + " (proxy disabled)"
	case f.Network != nil:
		return "add " + f.Network.Describe() + " on link " + f.Network.Link
	case f.Process != nil:
		p := f.Process
		return fmt.Sprintf("send %s to %s matching %s", p.Signal, victimText(p.Mode, p.Count, p.Percent, "process", "processes"), formatSelector(p.Selector))
	case f.Pod != nil:
		return f.Pod.Describe()
	case f.HTTP != nil:
		d := f.HTTP.Method + " " + f.HTTP.URL
		if r := f.HTTP.Recover; r != nil {
			d += "; on recovery " + r.Method + " " + r.URL
		}
		return d
	case f.Exec != nil:
		d := "run " + strings.Join(f.Exec.Command, " ")
		if r := f.Exec.Recover; r != nil {
			d += "; on recovery run " + strings.Join(r.Command, " ")
		}
		return d
	}
	return ""
}

// Describe says what a valid pod fault deletes: "delete one pod in shop
// matching app=api (grace 0s, at most 10 pods, owners ready within 5m)".
func (p PodFault) Describe() string {
	var sel []string
	if p.LabelSelector != "" {
		sel = append(sel, "labels "+p.LabelSelector)
	}
	if p.FieldSelector != "" {
		sel = append(sel, "fields "+p.FieldSelector)
	}
	return fmt.Sprintf("delete %s in %s matching %s (grace %s, at most %d pods, owners ready within %s)",
		victimText(p.Mode, p.Count, p.Percent, "pod", "pods"), p.Namespace, strings.Join(sel, " and "),
		formatDuration(p.GracePeriod), p.MaxVictims, formatDuration(p.ReadyTimeout))
}

// victimText says how many things a victim mode hits: "one pod", "all
// pods", "2 pods", "50% of the pods".
func victimText(mode VictimMode, count int, percent float64, one, many string) string {
	switch mode {
	case ModeAll:
		return "all " + many
	case ModeFixed:
		if count == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", count, many)
	case ModePercent:
		return fmt.Sprintf("%g%% of the %s", percent, many)
	}
	return "one " + one
}
