package scenarios

import (
	"slices"
	"strconv"
	"time"
)

// Target says what the game day is played against: exactly one of its
// fields is set. A scenario with no target plays against Local.
type Target struct {
	// Local starts the reference backend on loopback.
	Local *LocalTarget `yaml:"local,omitempty" json:"local,omitempty"`
	// Processes starts the user's own programs on loopback.
	Processes *ProcessesTarget `yaml:"processes,omitempty" json:"processes,omitempty"`
	// External is a running system named by URLs.
	External *ExternalTarget `yaml:"external,omitempty" json:"external,omitempty"`
	// Kubernetes is a system running in a Kubernetes cluster: pod faults
	// act on it through the cluster's API.
	Kubernetes *KubernetesTarget `yaml:"kubernetes,omitempty" json:"kubernetes,omitempty"`
}

// KubernetesTarget is a system in a Kubernetes cluster: reached at the
// URLs of an ExternalTarget (an ingress, a port-forward the user runs),
// with the user's Toxiproxy and Prometheus as for one, and the cluster's
// API for pod faults, limited to Namespaces.
type KubernetesTarget struct {
	ExternalTarget `yaml:",inline" json:",inline"`
	// Kubeconfig is the path of a kubeconfig file (a template over env
	// and file), relative to the scenario file's folder; empty:
	// $KUBECONFIG, then ~/.kube/config, unless InCluster.
	Kubeconfig string `yaml:"kubeconfig,omitempty" json:"kubeconfig,omitempty"`
	// Context is the kubeconfig context; empty: its current context.
	Context string `yaml:"context,omitempty" json:"context,omitempty"`
	// InCluster uses the service account of the pod gameday runs in.
	InCluster bool `yaml:"inCluster,omitempty" json:"inCluster,omitempty"`
	// Namespaces are the only namespaces the scenario may touch; required,
	// and never kube-system.
	Namespaces []string `yaml:"namespaces" json:"namespaces"`
}

// Target kinds, as Target.Kind names them.
const (
	TargetLocal      = "local"
	TargetProcesses  = "processes"
	TargetExternal   = "external"
	TargetKubernetes = "kubernetes"
)

// Kind names the kind of target that is set; "" when none or more than one is.
func (t Target) Kind() string {
	var kinds []string
	if t.Local != nil {
		kinds = append(kinds, TargetLocal)
	}
	if t.Processes != nil {
		kinds = append(kinds, TargetProcesses)
	}
	if t.External != nil {
		kinds = append(kinds, TargetExternal)
	}
	if t.Kubernetes != nil {
		kinds = append(kinds, TargetKubernetes)
	}
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

// ProcessesTarget is a system of the user's own programs that gameday starts
// on loopback, supervises (a process that exits is restarted after its
// service's restart delay, as a kubelet would) and stops with itself: every
// child dies with gameday, SIGKILL included. Every edge runs through a
// Toxiproxy proxy, so network faults act on it.
//
// Each service gets a free loopback port for each of its named ports; its
// args and env are templates over ServiceData that say where everything is,
// for example
//
//	args: ["--listen={{.Addr}}", "--db=http://{{link \"api-db\"}}"]
type ProcessesTarget struct {
	Services []Service `yaml:"services" json:"services"`
	// Edges are the connections that go through Toxiproxy: client → service,
	// and service → service through the address a service passes to another
	// in a flag or env ({{link "name"}}).
	Edges []Edge `yaml:"edges" json:"edges"`
	// Base names the client edge whose proxy is {{.Base}} of request
	// templates. Default: the only edge from the client.
	Base string `yaml:"base,omitempty" json:"base,omitempty"`
	// Toxiproxy is the base URL of an external Toxiproxy API server on
	// loopback to create the edges on. Empty: gameday embeds its own.
	Toxiproxy string `yaml:"toxiproxy,omitempty" json:"toxiproxy,omitempty"`
}

// Service is one program of a ProcessesTarget, run as Replicas processes.
//
// A service with no replicas field runs one process whose instance name is
// the service's name ("db"); a service with replicas runs instances
// "<name>-1" to "<name>-N", even when N is 1, so that adding a replica never
// renames the others. Links to a service are named the same way:
// "<edge>" or "<edge>-1" to "<edge>-N".
type Service struct {
	Name string `yaml:"name" json:"name"`
	// Command is the executable: a path (relative paths are taken from the
	// scenario file's folder) or a name looked up on PATH.
	Command string `yaml:"command" json:"command"`
	// Args are templates over ServiceData.
	Args []string `yaml:"args,omitempty" json:"args,omitempty"`
	// Env holds environment variables added to gameday's, each a template
	// over ServiceData.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Dir is the working directory, relative to the scenario file's folder.
	// Default: that folder.
	Dir string `yaml:"dir,omitempty" json:"dir,omitempty"`
	// Replicas is the number of processes, 1 to MaxReplicas; see Service.
	Replicas *int `yaml:"replicas,omitempty" json:"replicas,omitempty"`
	// Ports names the service's ports; each instance gets a free loopback
	// port for each. Default: [http].
	Ports []string `yaml:"ports,omitempty" json:"ports,omitempty"`
	// Health is how gameday knows an instance is ready. Default: its first
	// port accepts TCP connections.
	Health *HealthCheck `yaml:"health,omitempty" json:"health,omitempty"`
	// Metrics is where the embedded Prometheus scrapes every instance.
	// Default: not scraped.
	Metrics *MetricsEndpoint `yaml:"metrics,omitempty" json:"metrics,omitempty"`
	// Labels are added to every instance's labels, which process fault
	// selectors and scraped series carry. "instance" and "service" are set
	// by gameday.
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	// RestartDelay is how long the supervisor waits before it restarts an
	// instance that exited. Default: DefaultRestartDelay.
	RestartDelay *time.Duration `yaml:"restartDelay,omitempty" json:"restartDelay,omitempty"`
}

// HealthCheck is an HTTP GET that answers 200 once an instance is ready.
type HealthCheck struct {
	Path string `yaml:"path" json:"path"` // such as /healthz
	Port string `yaml:"port,omitempty" json:"port,omitempty"`
}

// MetricsEndpoint is where a service serves Prometheus metrics.
type MetricsEndpoint struct {
	Path string `yaml:"path" json:"path"` // default /metrics
	Port string `yaml:"port,omitempty" json:"port,omitempty"`
}

// Edge is a connection through a Toxiproxy proxy to every instance of a
// service. An edge to a service without replicas is one link named as the
// edge; an edge to a service with replicas is one link per instance,
// "<edge>-1" to "<edge>-N".
type Edge struct {
	Name string `yaml:"name" json:"name"`
	// From is "client" (gameday's load) or the name of the service that
	// connects; it documents the edge and is checked.
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
	// Port is the port of To the edge reaches. Default: To's first port.
	Port string `yaml:"port,omitempty" json:"port,omitempty"`
}

// FromClient is Edge.From of an edge from gameday's load.
const FromClient = "client"

// DefaultPort is the port of a service that names none.
const DefaultPort = "http"

// ServiceData is what a service's args and env templates see. Functions
// besides: link NAME (a link's proxy address, host:port), links EDGE (every
// link address of an edge, in instance order), addr INSTANCE [PORT] (an
// instance's own address), instances SERVICE (its instance names), join SEP
// LIST, urls LIST (each address as http://address), env NAME and file PATH.
type ServiceData struct {
	Service  string
	Instance string
	Replica  int    // 1-based index of the instance within its service
	Addr     string // the instance's first port: "127.0.0.1:PORT"
	Port     int
	Addrs    map[string]string // by port name
	Ports    map[string]int    // by port name
	// DataDir is a folder of the instance's own in the run directory, kept
	// across restarts.
	DataDir string
	// SharedDir is a folder in the run directory shared by every instance.
	SharedDir string
}

// ExternalTarget is a running system named by URLs. gameday starts nothing;
// it checks that everything named is reachable before any load or fault.
type ExternalTarget struct {
	// BaseURL is {{.Base}} of request templates; a template over env and file.
	BaseURL string `yaml:"baseURL" json:"baseURL"`
	// URLs are named extra URLs, {{.URL "admin"}}; templates like BaseURL.
	URLs map[string]string `yaml:"urls,omitempty" json:"urls,omitempty"`
	// Header holds headers added to every request of the load (a request's
	// own header of the same name wins); values are templates over env and
	// file and never reach the run directory.
	Header    map[string]string  `yaml:"header,omitempty" json:"header,omitempty"`
	Toxiproxy *ExternalToxiproxy `yaml:"toxiproxy,omitempty" json:"toxiproxy,omitempty"`
	// Prometheus is the system's own Prometheus: PromQL checks query it.
	Prometheus *PrometheusServer `yaml:"prometheus,omitempty" json:"prometheus,omitempty"`
	// Scrape lists metrics endpoints the run's embedded Prometheus scrapes
	// besides gameday's own client metrics.
	Scrape []ScrapeEndpoint `yaml:"scrape,omitempty" json:"scrape,omitempty"`
}

// ExternalToxiproxy is the user's Toxiproxy server and the links a
// scenario's network faults may act on.
type ExternalToxiproxy struct {
	// URL is the base URL of its HTTP API, such as http://toxiproxy:8474.
	URL   string         `yaml:"url" json:"url"`
	Links []ExternalLink `yaml:"links" json:"links"`
}

// ExternalLink is a link on an external Toxiproxy: either an existing proxy
// (Proxy), or a proxy gameday creates for the run and removes afterwards
// (Listen and Upstream, addresses as the Toxiproxy server sees them).
type ExternalLink struct {
	Name     string `yaml:"name" json:"name"`
	Proxy    string `yaml:"proxy,omitempty" json:"proxy,omitempty"`
	Listen   string `yaml:"listen,omitempty" json:"listen,omitempty"`
	Upstream string `yaml:"upstream,omitempty" json:"upstream,omitempty"`
}

// PrometheusServer is a running Prometheus server.
type PrometheusServer struct {
	// URL is its base URL, such as http://prometheus:9090.
	URL string `yaml:"url" json:"url"`
	// Header holds headers sent with every query (authentication);
	// templates over env and file.
	Header map[string]string `yaml:"header,omitempty" json:"header,omitempty"`
	// ScrapeInterval is how often it scrapes the system: the default step of
	// PromQL checks, and how long the judge waits after the load for the
	// last samples. Default: the scenario's metrics.scrapeInterval.
	ScrapeInterval time.Duration `yaml:"scrapeInterval,omitempty" json:"scrapeInterval,omitempty"`
}

// ScrapeEndpoint is one metrics endpoint and the labels its series get.
type ScrapeEndpoint struct {
	URL    string            `yaml:"url" json:"url"`
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// Declaration is what a target offers a scenario, known before it starts:
// what faults, selectors and templates may name.
type Declaration struct {
	// Links are the names of the links network faults may act on.
	Links []string
	// URLs are the names {{.URL "name"}} accepts.
	URLs []string
	// Instances are the processes process faults may select, in order.
	Instances []Instance
}

// Instance is one process of a target and its labels (which include
// "instance").
type Instance struct {
	Name   string
	Labels map[string]string
}

// Matches reports whether every label of selector has the instance's value.
// An empty selector matches every instance.
func (in Instance) Matches(selector map[string]string) bool {
	for k, v := range selector {
		if in.Labels[k] != v {
			return false
		}
	}
	return true
}

// LabelKeys returns every label key of the declared instances, sorted.
func (d Declaration) LabelKeys() []string {
	var keys []string
	for _, in := range d.Instances {
		for k := range in.Labels {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// Declaration returns what the target declares; zero when no kind is set.
func (t Target) Declaration() Declaration {
	switch t.Kind() {
	case TargetLocal:
		return t.Local.Processes().Declaration()
	case TargetProcesses:
		return t.Processes.Declaration()
	case TargetExternal:
		return t.External.Declaration()
	case TargetKubernetes:
		return t.Kubernetes.Declaration()
	}
	return Declaration{}
}

// Declaration returns the links, URLs and instances of the target.
func (t *ProcessesTarget) Declaration() Declaration {
	var d Declaration
	for _, in := range t.Instances() {
		d.Instances = append(d.Instances, Instance{Name: in.Name, Labels: in.Labels})
		d.URLs = append(d.URLs, in.Name)
	}
	for _, e := range t.Edges {
		for _, l := range t.EdgeLinks(e) {
			d.Links = append(d.Links, l.Name)
		}
	}
	return d
}

// Declaration returns the links and URLs of the target; it has no instances.
func (t *ExternalTarget) Declaration() Declaration {
	var d Declaration
	if t.Toxiproxy != nil {
		for _, l := range t.Toxiproxy.Links {
			d.Links = append(d.Links, l.Name)
		}
	}
	for name := range t.URLs {
		d.URLs = append(d.URLs, name)
	}
	slices.Sort(d.URLs)
	return d
}

// ServiceInstance is one planned process of a service.
type ServiceInstance struct {
	Name    string
	Service *Service
	Replica int // 1-based
	// Labels are the service's labels with "service" and "instance".
	Labels map[string]string
}

// Instances lists every instance of every service, in service order then
// replica order; see Service for the names.
func (t *ProcessesTarget) Instances() []ServiceInstance {
	var out []ServiceInstance
	for i := range t.Services {
		s := &t.Services[i]
		for r := 1; r <= s.ReplicaCount(); r++ {
			labels := map[string]string{}
			for k, v := range s.Labels {
				labels[k] = v
			}
			name := s.InstanceName(r)
			labels["service"] = s.Name
			labels["instance"] = name
			out = append(out, ServiceInstance{Name: name, Service: s, Replica: r, Labels: labels})
		}
	}
	return out
}

// ReplicaCount is the number of instances of s: Replicas, or 1 when unset
// (a value below 1 is also taken as 1 here; Validate refuses it).
func (s *Service) ReplicaCount() int {
	if s.Replicas == nil || *s.Replicas < 1 {
		return 1
	}
	return min(*s.Replicas, MaxReplicas)
}

// InstanceName is the name of s's instance number r (1-based).
func (s *Service) InstanceName(r int) string {
	if s.Replicas == nil {
		return s.Name
	}
	return s.Name + "-" + strconv.Itoa(r)
}

// PortNames returns s's ports, or [DefaultPort] when it names none.
func (s *Service) PortNames() []string {
	if len(s.Ports) == 0 {
		return []string{DefaultPort}
	}
	return s.Ports
}

// EdgeLink is one link of an edge: its name and the instance and port it
// reaches.
type EdgeLink struct {
	Name     string
	Edge     string
	Instance string
	Port     string
}

// EdgeLinks returns the links of edge e in instance order; none when e.To
// names no service.
func (t *ProcessesTarget) EdgeLinks(e Edge) []EdgeLink {
	i := slices.IndexFunc(t.Services, func(s Service) bool { return s.Name == e.To })
	if i < 0 {
		return nil
	}
	s := &t.Services[i]
	port := e.Port
	if port == "" {
		port = s.PortNames()[0]
	}
	var out []EdgeLink
	for r := 1; r <= s.ReplicaCount(); r++ {
		name := e.Name
		if s.Replicas != nil {
			name += "-" + strconv.Itoa(r)
		}
		out = append(out, EdgeLink{Name: name, Edge: e.Name, Instance: s.InstanceName(r), Port: port})
	}
	return out
}

// BaseEdge returns the edge whose link is {{.Base}}: Base, or the only edge
// from the client; false when there is none (Validate says why).
func (t *ProcessesTarget) BaseEdge() (Edge, bool) {
	var client []Edge
	for _, e := range t.Edges {
		if t.Base != "" && e.Name == t.Base {
			return e, true
		}
		if e.From == FromClient {
			client = append(client, e)
		}
	}
	if t.Base == "" && len(client) == 1 {
		return client[0], true
	}
	return Edge{}, false
}

// OutlivingToxiproxy reports whether the target's links are on a Toxiproxy
// server that outlives gameday (an external one), whose changes a run must
// journal and a guard must be ready to undo.
func (t Target) OutlivingToxiproxy() bool {
	_, e := t.reached()
	return (t.Local != nil && t.Local.Toxiproxy != "") ||
		(t.Processes != nil && t.Processes.Toxiproxy != "") ||
		(e != nil && e.Toxiproxy != nil)
}

// reached returns the part of the target reached at URLs, with the path
// where it is written: an external target, or a kubernetes target's
// embedded ExternalTarget; nil for the other kinds.
func (t Target) reached() (string, *ExternalTarget) {
	switch {
	case t.External != nil:
		return "target.external", t.External
	case t.Kubernetes != nil:
		return "target.kubernetes", &t.Kubernetes.ExternalTarget
	}
	return "", nil
}

// Prometheus returns the target's own Prometheus, which PromQL checks
// query; nil when the target has none (the run's embedded one answers).
func (t Target) Prometheus() *PrometheusServer {
	if _, e := t.reached(); e != nil {
		return e.Prometheus
	}
	return nil
}
