package local

// Acceptance tests of the edge patterns (TLS at the gateway, autoscaling,
// a second region), against the real processes of the local topology, in
// the style of patterns_test.go.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/scenarios"
)

// failures is a load sink that keeps every result that was not a success.
type failures struct {
	mu   sync.Mutex
	list []string
	n    int
}

func (f *failures) Record(_, route string, r *vegeta.Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if load.Outcome(r) != load.OutcomeSuccess {
		f.list = append(f.list, fmt.Sprintf("%s %d %s", route, r.Code, r.Error))
	}
}

func (f *failures) counts() (total int, failed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, append([]string(nil), f.list...)
}

// mobileMix is the quickstart's request mix: feed reads and idempotent posts.
func mobileMix() []load.Request {
	return []load.Request{
		{Name: "feed", Weight: 7, URL: "/v1/feed?limit=20"},
		{Name: "post", Weight: 3, Method: "POST", URL: "/v1/posts", Body: `{"text":"post {{.Seq}}"}`,
			Header: map[string]string{"Authorization": "Bearer {{.Token}}", "Idempotency-Key": "{{.ID}}", "Content-Type": "application/json"}},
	}
}

// 7. TLS at the edge: clients reach the gateway over HTTPS with a
// certificate of the run's own CA, which gameday's load trusts; a client
// that does not trust it is refused the handshake; inside, the gateway's
// own port and every other edge stay plain HTTP.
func TestPatternTLSAtTheEdge(t *testing.T) {
	tg := startTopology(t, Refapp{APIReplicas: 2, TLS: true})
	if !strings.HasPrefix(tg.BaseURL, "https://") || tg.RootCAs == nil {
		t.Fatalf("StartRefapp with TLS: BaseURL %q, RootCAs %v; want an https URL and the run's CA", tg.BaseURL, tg.RootCAs)
	}
	if r := tg.Running(); r.Base != tg.BaseURL || r.RootCAs != tg.RootCAs {
		t.Errorf("Running() = base %q, roots %p; want %q and %p", r.Base, r.RootCAs, tg.BaseURL, tg.RootCAs)
	}
	if _, err := os.Stat(filepath.Join(tg.DataDir, CAFile)); err != nil {
		t.Errorf("the run's CA certificate: %v", err)
	}

	// A client with the system's roots only is refused.
	_, err := (&http.Client{Timeout: 5 * time.Second}).Get(tg.BaseURL + "/v1/feed")
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
		t.Errorf("GET %s/v1/feed without the run's CA: %v; want x509.UnknownAuthorityError", tg.BaseURL, err)
	}
	// Plain HTTP to the TLS port is not served.
	if resp, err := http.Get("http://" + strings.TrimPrefix(tg.BaseURL, "https://") + "/v1/feed"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the https port: status %d; want 400 (the server's answer to HTTP on a TLS port)", resp.StatusCode)
		}
	}
	// The gateway's own port stays plain HTTP (health checks, scrapes).
	if resp, err := http.Get(tg.URLs["gateway"] + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s/readyz over plain HTTP = %v, %v; want 200", tg.URLs["gateway"], resp, err)
	} else {
		resp.Body.Close()
	}

	// A request through TLS says so upstream, and comes back as HTTP/1.1.
	resp, err := tg.Client().Get(tg.BaseURL + "/v1/feed")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 || resp.Proto != "HTTP/1.1" {
		t.Errorf("GET /v1/feed over TLS = %d %s %+v; want 200 over HTTP/1.1 and TLS >= 1.2", resp.StatusCode, resp.Proto, resp.TLS)
	}

	// gameday's load, trusting the run's CA, meets no failure.
	var f failures
	sum, err := load.Run(context.Background(), load.Stream{
		Name: "mobile", Rate: vegeta.Rate{Freq: 100, Per: time.Second}, Duration: 3 * time.Second, Timeout: 2 * time.Second,
		Token: tg.Token, Requests: mobileMix(), RootCAs: tg.RootCAs,
	}, tg.BaseURL, &f)
	if err != nil {
		t.Fatal(err)
	}
	total, failed := f.counts()
	t.Logf("TLS at the edge: %d requests over HTTPS through the gateway, %d failed", total, len(failed))
	if sum.Requests < 250 || len(failed) > 0 {
		t.Errorf("load over HTTPS: %d requests, %d failed (first %v); want at least 250 and none failed", sum.Requests, len(failed), failed[:min(5, len(failed))])
	}
}

// replicaTimeline samples the autoscaler's replica count every 100 ms.
type replicaTimeline struct {
	mu      sync.Mutex
	samples []replicaSample
}

type replicaSample struct {
	at       time.Time
	replicas int
}

func (rt *replicaTimeline) run(ctx context.Context, t testing.TB, tg *Target) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if v, ok := metric(t, tg, "autoscaler", "refapp_autoscaler_replicas", nil); ok {
			rt.mu.Lock()
			rt.samples = append(rt.samples, replicaSample{time.Now(), int(v)})
			rt.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// first returns the first sample at or after from that satisfies cond.
func (rt *replicaTimeline) first(from time.Time, cond func(int) bool) (replicaSample, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, s := range rt.samples {
		if !s.at.Before(from) && cond(s.replicas) {
			return s, true
		}
	}
	return replicaSample{}, false
}

// peak returns the highest count sampled in [from, to).
func (rt *replicaTimeline) peak(from, to time.Time) int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	p := 0
	for _, s := range rt.samples {
		if !s.at.Before(from) && s.at.Before(to) {
			p = max(p, s.replicas)
		}
	}
	return p
}

// 2. Autoscaling: a load step from low to high grows the api replicas
// (the autoscaler starts api-auto-N and the gateway finds them in its
// upstreams file), and back down after the load falls (the gateway drains
// each before the autoscaler stops it); no request fails throughout.
func TestPatternAutoscaleOnLoadStep(t *testing.T) {
	const (
		static, most = 2, 5
		low, high    = 20, 150 // requests per second
		upWindow     = time.Second
		downWindow   = 4 * time.Second
	)
	tg := startTopology(t, Refapp{APIReplicas: static, Autoscale: &scenarios.LocalAutoscale{
		MaxReplicas: most, TargetInFlight: 1, Interval: 500 * time.Millisecond,
		ScaleUpWindow: upWindow, ScaleDownWindow: downWindow,
	}})
	// Every request of the mix reaches the store primary through a slow
	// link, so that requests in flight follow the rate (Little's law):
	// about 0.6 at the low rate, 4 or more at the high one.
	proxy, err := tg.Toxiproxy.Proxy(tg.Links["api-store-1"].Proxy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proxy.AddToxic("slow-store", "latency", "downstream", 1, toxiclient.Attributes{"latency": 25}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, tg.Token)
	if resp, _, err := c.do("PUT", tg.BaseURL+"/v1/kv/autoscale", map[string]any{"value": "x"}, nil); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT /v1/kv/autoscale = %v, %v; want 204", resp, err)
	}
	if v, ok := metric(t, tg, "autoscaler", "refapp_autoscaler_replicas", nil); !ok || v != static {
		t.Fatalf("replicas before the load = %v (listed %v); want %d", v, ok, static)
	}

	ctx, stop := context.WithCancel(context.Background())
	var rt replicaTimeline
	var sampler sync.WaitGroup
	sampler.Go(func() { rt.run(ctx, t, tg) })
	defer func() { stop(); sampler.Wait() }()

	stages := []scenarios.Stage{
		{Duration: 5 * time.Second, Rate: scenarios.Rate{Freq: low, Per: time.Second}},
		{Duration: 10 * time.Second, Rate: scenarios.Rate{Freq: high, Per: time.Second}},
		{Duration: 12 * time.Second, Rate: scenarios.Rate{Freq: low, Per: time.Second}},
	}
	var total time.Duration
	for _, s := range stages {
		total += s.Duration
	}
	pacer, err := load.PacerOf(scenarios.Profile{Steps: stages}, total)
	if err != nil {
		t.Fatal(err)
	}
	var f failures
	start := time.Now()
	stepUp, stepDown := start.Add(stages[0].Duration), start.Add(stages[0].Duration+stages[1].Duration)
	sum, err := load.Run(context.Background(), load.Stream{
		Name: "step", Rate: pacer, Duration: total, Timeout: 3 * time.Second, Token: tg.Token,
		Requests: []load.Request{
			{Name: "kv-get", Weight: 3, URL: "/v1/kv/autoscale", Header: map[string]string{"Authorization": "Bearer {{.Token}}"}},
			{Name: "kv-put", Weight: 1, Method: "PUT", URL: "/v1/kv/step-{{.Seq}}", Body: `{"value":{{.Seq}}}`,
				Header: map[string]string{"Authorization": "Bearer {{.Token}}", "Content-Type": "application/json"}},
		},
	}, tg.BaseURL, &f)
	if err != nil {
		t.Fatal(err)
	}
	// The load has ended; the replicas come back to the floor.
	eventually(t, 3*downWindow+10*time.Second, "the autoscaler back at the static replicas after the load", func() bool {
		v, ok := metric(t, tg, "autoscaler", "refapp_autoscaler_replicas", nil)
		return ok && int(v) == static
	})
	eventually(t, 10*time.Second, "the gateway back at the static replicas", func() bool {
		st, ok := metric(t, tg, "gateway", "refapp_gateway_upstream_up", nil)
		return ok && int(st) == static
	})
	stop()
	sampler.Wait()

	grown, grew := rt.first(stepUp, func(n int) bool { return n > static })
	peak := rt.peak(stepUp, stepDown)
	shrunk, shrank := rt.first(stepDown, func(n int) bool { return n == static })
	upEvents, _ := metric(t, tg, "autoscaler", "refapp_autoscaler_scale_events_total", map[string]string{"direction": "up"})
	downEvents, _ := metric(t, tg, "autoscaler", "refapp_autoscaler_scale_events_total", map[string]string{"direction": "down"})
	requests, failed := f.counts()
	t.Logf("autoscaling: load %d/s for %v, %d/s for %v, %d/s for %v; windows up %v, down %v; target 1 in flight per replica, %d to %d replicas",
		low, stages[0].Duration, high, stages[1].Duration, low, stages[2].Duration, upWindow, downWindow, static, most)
	if grew {
		t.Logf("autoscaling: first replica added %v after the step up; peak %d replicas during the high step", grown.at.Sub(stepUp).Round(10*time.Millisecond), peak)
	}
	if shrank {
		t.Logf("autoscaling: back at %d replicas %v after the step down", static, shrunk.at.Sub(stepDown).Round(10*time.Millisecond))
	}
	t.Logf("autoscaling: %d scale-ups, %d scale-downs; %d requests (%d sent), %d failed", int(upEvents), int(downEvents), requests, sum.Requests, len(failed))

	if !grew || grown.at.After(stepDown) {
		t.Errorf("the replicas did not grow during the high step (first growth %v, found %v); want more than %d before the load fell", grown.at.Sub(stepUp), grew, static)
	}
	if peak <= static {
		t.Errorf("peak replicas during the high step = %d; want more than %d", peak, static)
	}
	if !shrank {
		t.Errorf("the replicas did not come back to %d after the load fell", static)
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d requests failed while scaling; want none (first %v)", len(failed), requests, failed[:min(5, len(failed))])
	}
	if sum.Requests < uint64(low*5+high*8) {
		t.Errorf("only %d requests were sent; want the step's", sum.Requests)
	}
}
