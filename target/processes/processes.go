// Package processes is the target of the user's own programs: gameday
// starts them on loopback, a free port for each named port, every edge
// between them (and from the client) through a Toxiproxy proxy, supervises
// them (a process that exits is restarted after its restart delay, as a
// kubelet would) and stops them with itself: every child runs in its own
// process group and is killed by the kernel if gameday dies (parent-death
// signal). The local target (the reference backend) is this machinery with
// refapp's topology.
package processes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/network"
	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target"
)

// Config says how Start runs a ProcessesTarget.
type Config struct {
	// Dir is the folder relative commands and working directories are taken
	// from (the scenario file's); empty: the current directory.
	Dir string
	// DataDir holds the instances' DataDir and SharedDir; empty: a
	// temporary folder removed by Stop.
	DataDir string
	// RunID names the proxies created on an external Toxiproxy server, so
	// that runs sharing one do not collide and leftovers can be told apart.
	RunID string
	// Journal records the proxies created on an external Toxiproxy server
	// (not on the embedded one, which dies with gameday). Default: none.
	Journal chaos.Journal
	// Live reports whether the run of a run id found on an external
	// Toxiproxy is still running; nil: none is. Start refuses a server that
	// holds leftovers of runs that are not.
	Live func(runID string) bool
	// Funcs adds env and file to the service templates.
	Funcs template.FuncMap
	// Logs, when set, returns the writer of an instance's output.
	Logs func(instance string) io.Writer
	// OnEvent receives process events; it must be safe for concurrent use.
	OnEvent func(Event)
	// Commands overrides services' commands by service name, with paths of
	// executables.
	Commands map[string]string
	// ExtraArgs are args added to every instance of a service, by name.
	ExtraArgs map[string][]string
	// ReadyTimeout bounds the wait for every instance to be ready; default
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// Target is a started ProcessesTarget.
type Target struct {
	// Supervisor runs every instance.
	Supervisor *Supervisor
	// Links are the proxied edges by link name.
	Links map[string]target.Link
	// Addrs are every instance's port addresses, by instance and port name.
	Addrs map[string]map[string]string
	// URLs are every instance's own URL, http://ADDR of its first port.
	URLs map[string]string
	// Base is where clients reach the system: the base edge's proxy.
	Base string
	// Scrape lists the metrics endpoints of the instances that have one.
	Scrape []metrics.Target
	// ToxiproxyURL is the API URL of the Toxiproxy server holding the links.
	ToxiproxyURL string

	spec     *scenarios.ProcessesTarget
	embedded *network.EmbeddedToxiproxy
	client   *toxiclient.Client
	journal  chaos.Journal
	created  []string // proxies created on an external server, to delete on Stop
	tempDir  string
}

// Start starts every instance of spec, which Validate accepted, and returns
// once every one is ready. On error, whatever was started has been stopped
// again.
func Start(ctx context.Context, spec *scenarios.ProcessesTarget, cfg Config) (_ *Target, err error) {
	if cfg.Logs == nil {
		cfg.Logs = func(string) io.Writer { return io.Discard }
	}
	if cfg.Journal == nil {
		cfg.Journal = chaos.NopJournal{}
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	t := &Target{spec: spec, Links: map[string]target.Link{}, Addrs: map[string]map[string]string{}, URLs: map[string]string{}}
	var opts []SupervisorOption
	if cfg.OnEvent != nil {
		opts = append(opts, WithEvents(cfg.OnEvent))
	}
	t.Supervisor = NewSupervisor(opts...)
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Stop(context.WithoutCancel(ctx)))
		}
	}()

	commands, err := resolveCommands(spec, cfg)
	if err != nil {
		return t, err
	}
	if cfg.DataDir == "" {
		if cfg.DataDir, err = os.MkdirTemp("", "gameday-processes-"); err != nil {
			return t, fmt.Errorf("start processes: %w", err)
		}
		t.tempDir = cfg.DataDir
	}
	if err := t.startToxiproxy(ctx, spec, cfg); err != nil {
		return t, err
	}
	top, err := t.plan(ctx, spec, cfg)
	if err != nil {
		return t, err
	}

	for _, in := range spec.Instances() {
		args, env, err := spec.Render(in, top, cfg.Funcs)
		if err != nil {
			return t, fmt.Errorf("start %s: %w", in.Name, err)
		}
		args = append(args, cfg.ExtraArgs[in.Service.Name]...)
		if err := os.MkdirAll(filepath.Join(top.DataDir, in.Name), 0o755); err != nil {
			return t, fmt.Errorf("start %s: %w", in.Name, err)
		}
		dir := resolvePath(cfg.Dir, ".")
		if in.Service.Dir != "" {
			dir = resolvePath(cfg.Dir, in.Service.Dir)
		}
		if err := t.Supervisor.Start(Spec{
			Instance:     in.Name,
			Labels:       in.Labels,
			Path:         commands[in.Service.Name],
			Args:         args,
			Env:          env,
			Dir:          dir,
			Ready:        readyCheck(in, top),
			Output:       cfg.Logs(in.Name),
			RestartDelay: in.Service.RestartDelay,
		}); err != nil {
			return t, err
		}
		t.URLs[in.Name] = "http://" + top.Addrs[in.Name][in.Service.PortNames()[0]]
		if m := in.Service.Metrics; m != nil {
			port := m.Port
			if port == "" {
				port = in.Service.PortNames()[0]
			}
			t.Scrape = append(t.Scrape, metrics.Target{URL: "http://" + top.Addrs[in.Name][port] + m.Path, Labels: maps.Clone(in.Labels)})
		}
	}
	if e, ok := spec.BaseEdge(); ok {
		if links := spec.EdgeLinks(e); len(links) > 0 {
			t.Base = "http://" + t.Links[links[0].Name].Listen
		}
	}
	readyCtx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	if err := t.Supervisor.AwaitReady(readyCtx); err != nil {
		return t, fmt.Errorf("start processes: %w", err)
	}
	return t, nil
}

// resolveCommands returns the executable of every service.
func resolveCommands(spec *scenarios.ProcessesTarget, cfg Config) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, s := range spec.Services {
		cmd := s.Command
		if c, ok := cfg.Commands[s.Name]; ok {
			cmd = c
		}
		var path string
		var err error
		if strings.ContainsRune(cmd, filepath.Separator) {
			path = resolvePath(cfg.Dir, cmd)
			var st os.FileInfo
			if st, err = os.Stat(path); err == nil && (st.IsDir() || st.Mode()&0o111 == 0) {
				err = errors.New("not an executable file")
			}
		} else {
			path, err = exec.LookPath(cmd)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("service %q: command %q: %w", s.Name, cmd, err))
			continue
		}
		out[s.Name] = path
	}
	return out, errors.Join(errs...)
}

// resolvePath takes a relative path from dir, and makes it absolute.
func resolvePath(dir, path string) string {
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// readyCheck is the supervisor's readiness check of an instance.
func readyCheck(in scenarios.ServiceInstance, top scenarios.Topology) string {
	s := in.Service
	if h := s.Health; h != nil {
		port := h.Port
		if port == "" {
			port = s.PortNames()[0]
		}
		return "http://" + top.Addrs[in.Name][port] + h.Path
	}
	return "tcp://" + top.Addrs[in.Name][s.PortNames()[0]]
}

// startToxiproxy starts an embedded Toxiproxy, or connects to the external
// one the spec names and refuses it if it holds leftovers of earlier runs.
func (t *Target) startToxiproxy(ctx context.Context, spec *scenarios.ProcessesTarget, cfg Config) error {
	t.ToxiproxyURL = spec.Toxiproxy
	t.journal = cfg.Journal
	if t.ToxiproxyURL == "" {
		var err error
		if t.embedded, err = network.StartToxiproxy(); err != nil {
			return err
		}
		t.ToxiproxyURL = t.embedded.URL
		t.journal = chaos.NopJournal{}
		t.client = network.NewClient(t.ToxiproxyURL)
		return nil
	}
	t.client = network.NewClient(t.ToxiproxyURL)
	lctx, cancel := context.WithTimeout(ctx, network.DefaultCallTimeout)
	defer cancel()
	left, err := network.Leftovers(lctx, t.client, notLive(cfg.Live))
	if err != nil {
		return fmt.Errorf("toxiproxy %s is unreachable: %w", t.ToxiproxyURL, err)
	}
	if len(left) > 0 {
		return &network.LeftoversError{Server: t.ToxiproxyURL, Leftovers: left}
	}
	return nil
}

// plan gives every port of every instance a free loopback address and
// creates the proxy of every link, and returns the topology templates see.
// Every port stays reserved (listened on) until every proxy exists, so that
// no proxy listening on port 0 can be given a port an instance will bind.
func (t *Target) plan(ctx context.Context, spec *scenarios.ProcessesTarget, cfg Config) (scenarios.Topology, error) {
	top := scenarios.Topology{Links: map[string]string{}, Addrs: t.Addrs, DataDir: cfg.DataDir}
	var reserved []net.Listener
	defer func() {
		for _, ln := range reserved {
			_ = ln.Close()
		}
	}()
	for _, in := range spec.Instances() {
		top.Addrs[in.Name] = map[string]string{}
		for _, p := range in.Service.PortNames() {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return top, fmt.Errorf("find a free port: %w", err)
			}
			reserved = append(reserved, ln)
			top.Addrs[in.Name][p] = ln.Addr().String()
		}
	}
	prefix := ""
	if t.embedded == nil {
		prefix = cfg.RunID
	}
	for _, e := range spec.Edges {
		for _, l := range spec.EdgeLinks(e) {
			upstream := top.Addrs[l.Instance][l.Port]
			name := l.Name
			if t.embedded == nil {
				name = network.ResourceName(prefix, l.Name)
			}
			listen, err := network.CreateProxy(ctx, t.client, t.journal, t.ToxiproxyURL, name, "127.0.0.1:0", upstream)
			if err != nil {
				return top, err
			}
			if t.embedded == nil {
				t.created = append(t.created, name)
			}
			t.Links[l.Name] = target.Link{
				Name: l.Name, Proxy: name, Listen: listen, Upstream: upstream,
				Toxiproxy: t.client, Server: t.ToxiproxyURL, Journal: t.journal,
			}
			top.Links[l.Name] = listen
		}
	}
	return top, nil
}

// Running returns what a run needs of the started target.
func (t *Target) Running() *target.Running {
	urls := maps.Clone(t.URLs)
	attrs := map[string]string{"baseURL": t.Base, "toxiproxy": t.ToxiproxyURL}
	for _, name := range slices.Sorted(maps.Keys(t.Links)) {
		l := t.Links[name]
		attrs["link."+name] = l.Listen + " -> " + l.Upstream
	}
	return &target.Running{
		Base:      t.Base,
		URLs:      urls,
		Links:     maps.Clone(t.Links),
		Processes: t.Supervisor,
		Scrape:    slices.Clone(t.Scrape),
		Attrs:     attrs,
	}
}

// Stop stops every process, deletes the proxies created on an external
// Toxiproxy and stops an embedded one. It is idempotent.
func (t *Target) Stop(ctx context.Context) error {
	var errs []error
	if t.Supervisor != nil {
		errs = append(errs, t.Supervisor.Stop(ctx))
	}
	if t.embedded != nil {
		errs = append(errs, t.embedded.Close())
		t.embedded = nil
	}
	for _, name := range t.created {
		errs = append(errs, network.DeleteProxy(ctx, t.client, t.journal, t.ToxiproxyURL, name))
	}
	t.created = nil
	if t.tempDir != "" {
		errs = append(errs, os.RemoveAll(t.tempDir))
		t.tempDir = ""
	}
	return errors.Join(errs...)
}

// notLive is the runs live does not know as running (nil: every run).
func notLive(live func(string) bool) func(string) bool {
	return func(id string) bool { return live == nil || !live(id) }
}
