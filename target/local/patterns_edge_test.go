package local

// Acceptance tests of the edge patterns (TLS at the gateway, autoscaling,
// a second region), against the real processes of the local topology, in
// the style of patterns_test.go.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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

// storeState is a store's GET /v1/status answer (reference-app/ARCHITECTURE.md).
type storeState struct {
	Role       string `json:"role"`
	Epoch      uint64 `json:"epoch"`
	LastSeq    uint64 `json:"lastSeq"`
	AppliedSeq uint64 `json:"appliedSeq"`
	Primary    string `json:"primary"`
}

// storeStatus reads a store's /v1/status directly (not through a link).
func storeStatus(t testing.TB, tg *Target, instance string) (storeState, bool) {
	resp, body, err := newClient(t, "").do("GET", tg.URLs[instance]+"/v1/status", nil, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		return storeState{}, false
	}
	var st storeState
	return st, json.Unmarshal(body, &st) == nil
}

// 3. A second region, active-passive: region a cut off entirely (every
// link between it and the rest down) while its last writes are still on
// the slow WAN: the global entry point fails over and serves from region
// b; the acknowledged writes lost are exactly the ones not shipped, as the
// backend counts them (the old primary's discarded writes once it rejoins);
// and the old region rejoins fenced: its stores follow region b's, its
// sentinel stands by, and a write sent to it directly is refused.
func TestPatternRegionFailover(t *testing.T) {
	spec := scenarios.LocalTarget{APIReplicas: 2, StoreReplicas: 1, Regions: 2}
	tg := startTopology(t, Refapp{APIReplicas: spec.APIReplicas, StoreReplicas: spec.StoreReplicas, Regions: 2, RestartDelay: time.Second})
	c := newClient(t, tg.Token)
	served := func() (string, int) {
		resp, _, err := c.do("GET", tg.BaseURL+"/v1/kv/r-0", nil, nil)
		if err != nil {
			return "", 0
		}
		return resp.Header.Get("X-Refapp-Instance"), resp.StatusCode
	}
	put := func(key string) int {
		resp, _, err := c.do("PUT", tg.BaseURL+"/v1/kv/"+key, map[string]any{"value": key}, nil)
		if err != nil {
			return 0
		}
		return resp.StatusCode
	}

	// Writes the WAN ships: region b holds them before anything breaks.
	var acked []string
	for i := range 20 {
		key := fmt.Sprintf("r-%d", i)
		if code := put(key); code != http.StatusNoContent {
			t.Fatalf("PUT %s through the global entry point = %d; want 204", key, code)
		}
		acked = append(acked, key)
	}
	if who, code := served(); code != http.StatusOK || !strings.HasPrefix(who, "api-") || strings.HasPrefix(who, "api-b") {
		t.Fatalf("GET through the global entry point answered %d by %q; want 200 from region a", code, who)
	}
	eventually(t, 10*time.Second, "store-b has applied region a's log", func() bool {
		a, okA := storeStatus(t, tg, "store-1")
		b, okB := storeStatus(t, tg, "store-b")
		return okA && okB && b.AppliedSeq == a.LastSeq
	})

	// The WAN turns slow, and the last writes are still on it when region
	// a is cut off.
	wan, err := tg.Toxiproxy.Proxy(tg.Links["wan-store-1"].Proxy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wan.AddToxic("slow-wan", "latency", "downstream", 1, toxiclient.Attributes{"latency": 1500}); err != nil {
		t.Fatal(err)
	}
	for i := 20; i < 40; i++ {
		key := fmt.Sprintf("r-%d", i)
		if code := put(key); code != http.StatusNoContent {
			t.Fatalf("PUT %s = %d; want 204", key, code)
		}
		acked = append(acked, key)
	}
	regionA := spec.RegionLinks(scenarios.LocalPrimaryRegion)
	cutAt := time.Now()
	for _, l := range regionA {
		setLink(t, tg, l, false)
	}
	oldPrimary, _ := storeStatus(t, tg, "store-1")

	eventually(t, 15*time.Second, "the global entry point serves from region b", func() bool {
		who, code := served()
		return code == http.StatusOK && strings.HasPrefix(who, "api-b-")
	})
	failoverTook := time.Since(cutAt)
	promoted, ok := storeStatus(t, tg, "store-b")
	if !ok || promoted.Role != "primary" {
		t.Fatalf("store-b after the failover = %+v; want the primary", promoted)
	}
	var lost []string
	for _, key := range acked {
		resp, _, err := c.do("GET", tg.BaseURL+"/v1/kv/"+key, nil, nil)
		switch {
		case err != nil:
			t.Fatalf("GET %s after the failover: %v", key, err)
		case resp.StatusCode == http.StatusNotFound:
			lost = append(lost, key)
		case resp.StatusCode != http.StatusOK:
			t.Fatalf("GET %s after the failover = %d; want 200 or 404", key, resp.StatusCode)
		}
	}
	unshipped := oldPrimary.LastSeq - promoted.LastSeq

	// Region a comes back: the global entry point fences it.
	for _, l := range regionA {
		setLink(t, tg, l, true)
	}
	rejoinAt := time.Now()
	follow := "http://" + tg.Links["wan-store-b"].Listen
	for _, s := range []string{"store-1", "store-2"} {
		eventually(t, 15*time.Second, s+" follows store-b at the new epoch", func() bool {
			st, ok := storeStatus(t, tg, s)
			return ok && st.Role == "replica" && st.Epoch == promoted.Epoch && st.Primary == follow
		})
	}
	fencedTook := time.Since(rejoinAt)
	discarded, _ := metric(t, tg, "store-1", "refapp_store_discarded_writes_total", nil)
	eventually(t, 10*time.Second, "region a's sentinel stands by (no primary)", func() bool {
		resp, _, err := newClient(t, "").do("GET", tg.URLs["sentinel"]+"/v1/primary", nil, nil)
		return err == nil && resp.StatusCode == http.StatusServiceUnavailable
	})
	direct := newClient(t, tg.Token)
	resp, _, err := direct.do("PUT", tg.URLs["gateway"]+"/v1/kv/split-brain", map[string]any{"value": 1}, nil)
	if err != nil || resp.StatusCode < 500 {
		t.Errorf("a write sent straight to region a's gateway after it rejoined = %v, %v; want refused (5xx)", resp, err)
	}
	if code := put("after-failover"); code != http.StatusNoContent {
		t.Errorf("PUT through the global entry point after the rejoin = %d; want 204 (region b)", code)
	}
	failovers, _ := metric(t, tg, "global", "refapp_global_failovers_total", nil)
	checkToSwitch, _ := metric(t, tg, "global", "refapp_global_failover_seconds", nil)

	t.Logf("region failover: region a cut (%d links: %s); the global entry point served from region b %v after the cut (first failed check to switch %.3fs; %v failover)",
		len(regionA), strings.Join(regionA, ", "), failoverTook.Round(time.Millisecond), checkToSwitch, failovers)
	t.Logf("region failover: %d writes acknowledged, %d lost; old primary's last sequence %d, store-b promoted at epoch %d after sequence %d: %d not shipped; the old primary discarded %v on rejoin",
		len(acked), len(lost), oldPrimary.LastSeq, promoted.Epoch, promoted.LastSeq, unshipped, discarded)
	t.Logf("region failover: region a fenced %v after the links came back (stores follow store-b, sentinel stands by, direct write %d)",
		fencedTook.Round(time.Millisecond), resp.StatusCode)

	if len(lost) == 0 {
		t.Errorf("no acknowledged write was lost; want the ones still on the slow WAN (the test's premise)")
	}
	if uint64(len(lost)) != unshipped || float64(unshipped) != discarded {
		t.Errorf("lost %d acknowledged writes, %d entries not shipped, %v discarded by the old primary; want all three equal", len(lost), unshipped, discarded)
	}
	for i, key := range lost {
		if want := acked[len(acked)-len(lost)+i]; key != want {
			t.Errorf("lost writes %v; want the last %d acknowledged (a suffix)", lost, len(lost))
			break
		}
	}
}

// 3b. Cross-region replication survives an in-region failover: store-1,
// region a's primary, is killed; the sentinel promotes store-2, the global
// entry point re-points store-b at it across the WAN, and a write
// acknowledged after the failover reaches region b.
func TestPatternRegionReplicationFollowsInRegionFailover(t *testing.T) {
	tg := startTopology(t, Refapp{APIReplicas: 2, StoreReplicas: 1, Regions: 2, RestartDelay: time.Minute})
	c := newClient(t, tg.Token)
	signalProc(t, tg, "store-1", syscall.SIGKILL)
	eventually(t, 15*time.Second, "region a's sentinel promoted store-2", func() bool {
		p, ok := primary(t, tg)
		return ok && p.Name == "store-2"
	})
	wan2 := "http://" + tg.Links["wan-store-2"].Listen
	eventually(t, 15*time.Second, "store-b follows store-2 across the WAN", func() bool {
		st, ok := storeStatus(t, tg, "store-b")
		return ok && st.Role == "replica" && st.Primary == wan2
	})
	var code int
	eventually(t, 15*time.Second, "a write through the global entry point acknowledged", func() bool {
		resp, _, err := c.do("PUT", tg.BaseURL+"/v1/kv/after-in-region-failover", map[string]any{"value": 1}, nil)
		if err == nil {
			code = resp.StatusCode
		}
		return code == http.StatusNoContent
	})
	eventually(t, 15*time.Second, "store-b has applied it", func() bool {
		a, okA := storeStatus(t, tg, "store-2")
		b, okB := storeStatus(t, tg, "store-b")
		return okA && okB && b.AppliedSeq == a.LastSeq && b.Epoch == a.Epoch
	})
	st, _ := storeStatus(t, tg, "store-b")
	t.Logf("cross-region replication after an in-region failover: store-b follows %s at epoch %d, applied %d", st.Primary, st.Epoch, st.AppliedSeq)
}
