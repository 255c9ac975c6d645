package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// BinaryName is the reference backend's executable.
const BinaryName = "refapp"

// Refapp configures the reference backend on loopback (see
// reference-app/ARCHITECTURE.md): a gateway in front of APIReplicas api
// processes; a store primary and StoreReplicas replicas watched by a
// sentinel; a cache; a queue with a push worker and a mock push provider.
// Every edge runs through a Toxiproxy proxy (see Target.Links).
type Refapp struct {
	// Binary is the refapp executable; see FindBinary.
	Binary      string
	APIReplicas int
	// StoreReplicas is the number of store replicas besides the primary.
	StoreReplicas int
	// Replication is the store's mode, "async" (default) or "sync".
	Replication  string
	RestartDelay time.Duration
	// DataDir holds the durable state of the store, queue and worker
	// processes; empty: a temporary directory removed by Stop.
	DataDir string
	// Toxiproxy is the API URL of an external Toxiproxy server; empty embeds one.
	Toxiproxy string
	// ProxyPrefix prefixes the name of every proxy created, so that runs
	// sharing an external Toxiproxy do not collide.
	ProxyPrefix string
	// Logs, when set, returns the writer for a process's output.
	Logs func(instance string) io.Writer
	// OnEvent receives process events.
	OnEvent func(Event)
	// ExtraArgs are flags added to every process of a role, by role.
	ExtraArgs map[string][]string
}

// Link is one proxied edge of a target.
type Link struct {
	Name     string // edge name used by faults, e.g. "gateway-api-1"
	Proxy    string // Toxiproxy proxy name
	Listen   string // the proxy's address
	Upstream string // the address it forwards to
}

// ScrapeTarget is a process's metrics endpoint and the labels it carries.
type ScrapeTarget struct {
	URL    string
	Labels map[string]string
}

// Target is a running local target.
type Target struct {
	// BaseURL is where clients reach the system: the client-gateway proxy.
	BaseURL string
	// Toxiproxy is a client of the Toxiproxy server holding the links.
	Toxiproxy *toxiclient.Client
	// ToxiproxyURL is that server's API URL.
	ToxiproxyURL string
	// Links are the proxied edges by name.
	Links map[string]Link
	// Scrape are the metrics endpoints of every process, reached directly.
	Scrape     []ScrapeTarget
	Supervisor *Supervisor

	// URLs are the base URLs of every process by instance, reached directly.
	URLs map[string]string
	// Token is a bearer token of LoadUser, signed in at start, for scenarios
	// to send ({{.Token}} in a request template).
	Token string

	embedded *EmbeddedToxiproxy
	created  []string // proxies this target created, to delete on Stop
	tempDir  string   // DataDir made by StartRefapp, removed by Stop
	dataDir  string   // DataDir
}

// FindBinary returns the refapp executable: explicit if set, else the one
// beside the running executable, else the one on PATH.
func FindBinary(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("refapp binary: %w", err)
		}
		return explicit, nil
	}
	var tried []string
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), BinaryName)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		tried = append(tried, p)
	}
	if p, err := exec.LookPath(BinaryName); err == nil {
		return p, nil
	}
	tried = append(tried, "$PATH")
	return "", fmt.Errorf("refapp binary not found (looked at %s): run `make build`, or set target.local.binary", strings.Join(tried, ", "))
}

// StartRefapp starts the reference backend and returns once every process
// is ready, the gateway sees every api replica and a load user is signed in
// (Target.Token). On error, whatever was started has been stopped again.
func StartRefapp(ctx context.Context, cfg Refapp) (_ *Target, err error) {
	if cfg.APIReplicas < 1 {
		return nil, fmt.Errorf("start refapp: %d api replicas", cfg.APIReplicas)
	}
	if cfg.StoreReplicas < 0 {
		return nil, fmt.Errorf("start refapp: %d store replicas", cfg.StoreReplicas)
	}
	switch cfg.Replication {
	case "":
		cfg.Replication = "async"
	case "async", "sync":
	default:
		return nil, fmt.Errorf("start refapp: replication %q: want async or sync", cfg.Replication)
	}
	bin, err := FindBinary(cfg.Binary)
	if err != nil {
		return nil, err
	}
	if cfg.Logs == nil {
		cfg.Logs = func(string) io.Writer { return io.Discard }
	}
	t := &Target{Links: map[string]Link{}, URLs: map[string]string{}}
	opts := []SupervisorOption{WithRestartDelay(cfg.RestartDelay)}
	if cfg.OnEvent != nil {
		opts = append(opts, WithEvents(cfg.OnEvent))
	}
	t.Supervisor = NewSupervisor(opts...)
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Stop(context.WithoutCancel(ctx)))
		}
	}()
	if cfg.DataDir == "" {
		if cfg.DataDir, err = os.MkdirTemp("", "gameday-refapp-"); err != nil {
			return t, fmt.Errorf("start refapp: %w", err)
		}
		t.tempDir = cfg.DataDir
	}
	t.dataDir = cfg.DataDir

	t.ToxiproxyURL = cfg.Toxiproxy
	if t.ToxiproxyURL == "" {
		if t.embedded, err = StartToxiproxy(); err != nil {
			return t, err
		}
		t.ToxiproxyURL = t.embedded.URL
	}
	t.Toxiproxy = toxiclient.NewClient(t.ToxiproxyURL)
	t.Toxiproxy.UserAgent = "gameday"

	tp, err := planTopology(t, cfg)
	if err != nil {
		return t, err
	}
	for _, p := range tp.procs {
		args := append([]string{"--role=" + p.role, "--listen=" + p.addr, "--instance=" + p.instance}, p.args...)
		labels := map[string]string{"role": p.role, "instance": p.instance}
		if err := t.Supervisor.Start(Spec{
			Instance: p.instance,
			Labels:   labels,
			Path:     bin,
			Args:     args,
			Env:      p.env,
			Ready:    "http://" + p.addr + "/readyz",
			Output:   cfg.Logs(p.instance),
		}); err != nil {
			return t, err
		}
		t.URLs[p.instance] = "http://" + p.addr
		t.Scrape = append(t.Scrape, ScrapeTarget{URL: "http://" + p.addr + "/metrics", Labels: labels})
	}
	readyCtx, cancel := context.WithTimeout(ctx, DefaultReadyTimeout)
	defer cancel()
	if err := t.Supervisor.AwaitReady(readyCtx); err != nil {
		return t, fmt.Errorf("start refapp: %w", err)
	}
	// The gateway is ready with one upstream up; a game day starts from a
	// whole system, so wait until its health checks see every replica.
	if err := awaitUpstreams(readyCtx, t.URLs["gateway"]+"/metrics", cfg.APIReplicas); err != nil {
		return t, fmt.Errorf("start refapp: %w", err)
	}
	if t.Token, err = signIn(readyCtx, t.BaseURL, LoadUser, tp.loadPassword); err != nil {
		return t, fmt.Errorf("start refapp: sign in the load user: %w", err)
	}
	return t, nil
}

// awaitUpstreams polls the gateway's metrics until refapp_gateway_upstream_up
// reports want upstreams up.
func awaitUpstreams(ctx context.Context, metricsURL string, want int) error {
	tick := time.NewTicker(readyPollEvery)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	up := 0
	for {
		if n, err := upstreamsUp(ctx, client, metricsURL); err == nil {
			up = n
			if up >= want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the gateway to see %d api replicas up (saw %d): %w", want, up, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// upstreamsUp counts the upstreams whose refapp_gateway_upstream_up is 1.
func upstreamsUp(ctx context.Context, client *http.Client, metricsURL string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", metricsURL, err)
	}
	n := 0
	if f, ok := families["refapp_gateway_upstream_up"]; ok {
		for _, m := range f.GetMetric() {
			if m.GetGauge().GetValue() == 1 {
				n++
			}
		}
	}
	return n, nil
}

// addLink creates the proxy of one edge, listening on a free loopback port.
func (t *Target) addLink(prefix, name, upstream string) (Link, error) {
	proxy, err := t.Toxiproxy.CreateProxy(prefix+name, "127.0.0.1:0", upstream)
	if err != nil {
		return Link{}, fmt.Errorf("create proxy %q: %w", prefix+name, err)
	}
	t.created = append(t.created, proxy.Name)
	l := Link{Name: name, Proxy: proxy.Name, Listen: proxy.Listen, Upstream: upstream}
	t.Links[name] = l
	return l, nil
}

// Stop stops every process, deletes the proxies this target created and
// stops an embedded Toxiproxy. It is idempotent.
func (t *Target) Stop(ctx context.Context) error {
	var errs []error
	if t.Supervisor != nil {
		errs = append(errs, t.Supervisor.Stop(ctx))
	}
	if t.embedded != nil {
		errs = append(errs, t.embedded.Close())
		t.embedded = nil
		t.created = nil
	}
	for _, name := range t.created {
		p, err := t.Toxiproxy.Proxy(name)
		if err == nil {
			err = p.Delete()
		}
		if err != nil && !strings.Contains(err.Error(), "not found") {
			errs = append(errs, fmt.Errorf("delete proxy %q: %w", name, err))
		}
	}
	t.created = nil
	if t.tempDir != "" {
		errs = append(errs, os.RemoveAll(t.tempDir))
		t.tempDir = ""
	}
	return errors.Join(errs...)
}
