// Package local is the local target: the reference backend (see
// reference-app/ARCHITECTURE.md) started on loopback as gameday's
// processes target starts a user's programs, with the topology
// scenarios.LocalTarget.Processes describes, a Toxiproxy proxy on every
// edge, and a load user signed in for scenarios to send ({{.Token}}).
package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target"
	"github.com/gameday/gameday/target/processes"
)

// BinaryName is the reference backend's executable.
const BinaryName = scenarios.LocalBinary

// LoadUser is the user StartRefapp signs up and in for scenarios' requests.
const LoadUser = "gameday-load"

// LoadUserRateLimit is the gateway's per-client rate limit, in requests per
// second, on a local target (ExtraArgs can lower it).
const LoadUserRateLimit = scenarios.LocalGatewayRateLimit

// readyPollEvery is how often the gateway's view of its upstreams is polled.
const readyPollEvery = 25 * time.Millisecond

// Refapp configures the reference backend on loopback: a gateway in front of
// APIReplicas api processes; a store primary and StoreReplicas replicas
// watched by a sentinel; a cache; a queue with a push worker and a mock push
// provider. Every edge runs through a Toxiproxy proxy (see Target.Links).
type Refapp struct {
	// Binary is the refapp executable; see FindBinary.
	// BinaryArgs come before every process's own arguments: ["refapp"]
	// when Binary is gameday itself, which plays the reference backend
	// behind its hidden refapp command.
	Binary      string
	BinaryArgs  []string
	APIReplicas int
	// StoreReplicas is the number of store replicas besides the primary.
	StoreReplicas int
	// Replication is the store's mode, "async" (default) or "sync".
	Replication  string
	RestartDelay time.Duration
	// TokenTTL is the lifetime of the tokens the api issues; 0:
	// scenarios.DefaultTokenTTL.
	TokenTTL time.Duration
	// GatewayRateLimit is the gateway's per-client limit, in requests per
	// second; 0: LoadUserRateLimit.
	GatewayRateLimit int
	// DataDir holds the durable state of the store, queue and worker
	// processes; empty: a temporary directory removed by Stop.
	DataDir string
	// Toxiproxy is the API URL of an external Toxiproxy server; empty embeds one.
	Toxiproxy string
	// RunID names the proxies created on an external Toxiproxy.
	RunID string
	// Journal records the proxies created on an external Toxiproxy.
	Journal chaos.Journal
	// Live tells the runs still going from leftovers on an external
	// Toxiproxy; see processes.Config.Live.
	Live func(runID string) bool
	// Logs, when set, returns the writer for a process's output.
	Logs func(instance string) io.Writer
	// OnEvent receives process events.
	OnEvent func(target.Event)
	// ExtraArgs are flags added to every process of a role, by role.
	ExtraArgs map[string][]string
	// TLS makes the gateway serve clients over HTTPS with a certificate
	// of a CA made for this start (see Target.RootCAs); inside, every edge
	// stays plain HTTP.
	TLS bool
	// Autoscale, when set, runs the autoscaler: api replicas beyond
	// APIReplicas come and go with the load (see scenarios.LocalAutoscale).
	Autoscale *scenarios.LocalAutoscale
	// Regions 2 adds a passive region behind a global entry point (see
	// scenarios.LocalTarget.Regions); 0 or 1: one region.
	Regions int
}

// Link is one proxied edge of a target.
type Link = target.Link

// Target is a running local target.
type Target struct {
	*processes.Target
	// BaseURL is where clients reach the system: the client-gateway proxy.
	BaseURL string
	// Toxiproxy is a client of the Toxiproxy server holding the links.
	Toxiproxy *toxiclient.Client
	// Token is a bearer token of LoadUser, signed in at start, for scenarios
	// to send ({{.Token}} in a request template).
	Token string
	// DataDir holds the processes' data and the run's JWT key (jwt.key);
	// with TLS, the run's CA certificate (CAFile) too.
	DataDir string
	// RootCAs holds the CA that signed the gateway's certificate when the
	// target serves clients over TLS (BaseURL is https); nil otherwise.
	RootCAs *x509.CertPool

	tempDir string   // DataDir made by StartRefapp, removed by Stop
	refapp  []string // the reference backend's executable and leading arguments
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
	if cfg.Regions < 0 || cfg.Regions > 2 {
		return nil, fmt.Errorf("start refapp: %d regions: want 1 or 2", cfg.Regions)
	}
	switch cfg.Replication {
	case "":
		cfg.Replication = string(scenarios.ReplicationAsync)
	case string(scenarios.ReplicationAsync), string(scenarios.ReplicationSync):
	default:
		return nil, fmt.Errorf("start refapp: replication %q: want async or sync", cfg.Replication)
	}
	bin, err := FindBinary(cfg.Binary)
	if err != nil {
		return nil, err
	}
	spec := scenarios.LocalTarget{
		APIReplicas:   cfg.APIReplicas,
		StoreReplicas: cfg.StoreReplicas,
		Replication:   scenarios.Replication(cfg.Replication),
		RestartDelay:  cfg.RestartDelay,
		TokenTTL:      cfg.TokenTTL,
		Toxiproxy:     cfg.Toxiproxy,
		TLS:           cfg.TLS,
		Autoscale:     cfg.Autoscale,
		Regions:       cfg.Regions,
		// 0: the default, LocalGatewayRateLimit.
		GatewayRateLimit: cfg.GatewayRateLimit,
	}.Processes()
	if len(cfg.BinaryArgs) > 0 {
		for i := range spec.Services {
			spec.Services[i].Args = append(slices.Clone(cfg.BinaryArgs), spec.Services[i].Args...)
		}
	}

	dataDir, tempDir := cfg.DataDir, ""
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "gameday-refapp-"); err != nil {
			return nil, fmt.Errorf("start refapp: %w", err)
		}
		tempDir = dataDir
	}
	defer func() {
		if err != nil && tempDir != "" {
			_ = os.RemoveAll(tempDir)
		}
	}()
	// The api replicas share one random JWT key for the run.
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("start refapp: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "jwt.key"), []byte(hex.EncodeToString(secret)), 0o600); err != nil {
		return nil, fmt.Errorf("start refapp: write the JWT key: %w", err)
	}
	var roots *x509.CertPool
	if cfg.TLS {
		if roots, err = writeTLSFiles(dataDir, time.Now()); err != nil {
			return nil, fmt.Errorf("start refapp: %w", err)
		}
	}
	commands := map[string]string{}
	for _, s := range spec.Services {
		commands[s.Name] = bin
	}
	pt, err := processes.Start(ctx, spec, processes.Config{
		DataDir:   dataDir,
		RunID:     cfg.RunID,
		Journal:   cfg.Journal,
		Live:      cfg.Live,
		Funcs:     template.FuncMap{},
		Logs:      cfg.Logs,
		OnEvent:   cfg.OnEvent,
		Commands:  commands,
		ExtraArgs: cfg.ExtraArgs,
	})
	t := &Target{Target: pt, DataDir: dataDir, RootCAs: roots, tempDir: tempDir, refapp: append([]string{bin}, cfg.BinaryArgs...)}
	if pt != nil {
		if cfg.TLS {
			pt.Base = "https://" + strings.TrimPrefix(pt.Base, "http://")
		}
		t.BaseURL = pt.Base
		t.Toxiproxy = toxiclient.NewClient(pt.ToxiproxyURL)
		t.Toxiproxy.UserAgent = "gameday"
	}
	if err != nil {
		return nil, fmt.Errorf("start refapp: %w", err)
	}
	readyCtx, cancel := context.WithTimeout(ctx, processes.DefaultReadyTimeout)
	defer cancel()
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Stop(context.WithoutCancel(ctx)))
		}
	}()
	// The gateway is ready with one upstream up; a game day starts from a
	// whole system, so wait until its health checks see every replica.
	gateways := []string{"gateway"}
	if cfg.Regions == 2 {
		gateways = append(gateways, "gateway-b")
	}
	for _, gw := range gateways {
		if err := awaitUpstreams(readyCtx, t.URLs[gw]+"/metrics", cfg.APIReplicas); err != nil {
			return t, fmt.Errorf("start refapp: %s: %w", gw, err)
		}
	}
	password := make([]byte, 12)
	_, _ = rand.Read(password)
	// A just-started backend may answer 5xx for a moment (its store or
	// cache still connecting): retry within the readiness deadline.
	client := t.Client()
	defer client.CloseIdleConnections()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		if t.Token, err = signIn(readyCtx, client, t.BaseURL, LoadUser, hex.EncodeToString(password)); err == nil {
			return t, nil
		}
		select {
		case <-readyCtx.Done():
			return t, fmt.Errorf("start refapp: sign in the load user: %w", err)
		case <-time.After(wait):
		}
	}
}

// Running returns what a run needs of the started target, with the load
// user's token. Its Dirs are every instance's data dir by instance name
// and scenarios.LocalSharedDir, DataDir; its Commands run BinaryName, the
// reference backend (as in `refapp restore ...`).
func (t *Target) Running() *target.Running {
	r := t.Target.Running()
	r.Token = t.Token
	r.RootCAs = t.RootCAs
	r.Dirs = map[string]string{scenarios.LocalSharedDir: t.DataDir}
	for instance := range t.Addrs {
		r.Dirs[instance] = filepath.Join(t.DataDir, instance)
	}
	r.Commands = map[string][]string{BinaryName: slices.Clone(t.refapp)}
	return r
}

// Client returns an HTTP client for BaseURL: one that trusts RootCAs when
// the target serves clients over TLS.
func (t *Target) Client() *http.Client {
	if t.RootCAs == nil {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: t.RootCAs, MinVersion: tls.VersionTLS12},
	}}
}

// Stop stops every process, deletes the proxies it created, stops an
// embedded Toxiproxy and removes a temporary data folder. It is idempotent.
func (t *Target) Stop(ctx context.Context) error {
	err := t.Target.Stop(ctx)
	if t.tempDir != "" {
		err = errors.Join(err, os.RemoveAll(t.tempDir))
		t.tempDir = ""
	}
	return err
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
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 16<<20))
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

// signIn signs user up (an existing user is fine) and in through base, and
// returns the bearer token.
func signIn(ctx context.Context, client *http.Client, base, user, password string) (string, error) {
	creds := map[string]string{"username": user, "password": password}
	if code, _, err := postJSON(ctx, client, base+"/v1/auth/signup", creds); err != nil {
		return "", err
	} else if code != http.StatusCreated && code != http.StatusConflict {
		return "", fmt.Errorf("signup: status %d", code)
	}
	code, body, err := postJSON(ctx, client, base+"/v1/auth/login", creds)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("login: status %d", code)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("login: no token in the answer (%v)", err)
	}
	return out.Token, nil
}

// postJSON posts v as JSON and returns the status and body.
func postJSON(ctx context.Context, client *http.Client, url string, v any) (int, []byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}
