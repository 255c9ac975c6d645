package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/rs/zerolog"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/chaostest"
)

// lab is an embedded Toxiproxy server with its API on a loopback port, and
// an HTTP upstream its proxies lead to.
type lab struct {
	client   *toxiclient.Client
	upstream string // host:port of the upstream
	proxies  int    // proxies made so far, to name the next
}

// newLab starts a lab that stops with t. Its API requests go through wrap,
// if given.
func newLab(t *testing.T, wrap ...func(http.Handler) http.Handler) *lab {
	t.Helper()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	var routes http.Handler = server.Routes() // Routes may be called once per server
	for _, w := range wrap {
		routes = w(routes)
	}
	api := httptest.NewServer(routes)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, _ = w.Write(make([]byte, 64<<10))
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(func() {
		if err := server.Collection.Clear(); err != nil {
			t.Errorf("stop proxies: %v", err)
		}
		api.Close()
		upstream.Close()
	})
	return &lab{client: toxiclient.NewClient(api.URL), upstream: upstream.Listener.Addr().String()}
}

// newProxy creates a fresh enabled proxy in front of the upstream.
func (l *lab) newProxy(t *testing.T) *toxiclient.Proxy {
	t.Helper()
	l.proxies++
	p, err := l.client.CreateProxy(fmt.Sprintf("link%d", l.proxies), "127.0.0.1:0", l.upstream)
	if err != nil {
		t.Fatalf("CreateProxy: %v", err)
	}
	return p
}

// get sends one request through p on a fresh connection and returns how
// long it took.
func get(p *toxiclient.Proxy, timeout time.Duration) (time.Duration, error) {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := c.Get("http://" + p.Listen + "/")
	if err != nil {
		return time.Since(start), err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && (resp.StatusCode != http.StatusOK || string(body) != "ok") {
		err = fmt.Errorf("GET = %d %q; want 200 \"ok\"", resp.StatusCode, body)
	}
	return time.Since(start), err
}

// failing returns an observer that sees the fault when a request through the
// current proxy fails with an error wrapping want (nil: any error).
func failing(cur **toxiclient.Proxy, want error) func(t *testing.T) bool {
	return func(t *testing.T) bool {
		_, err := get(*cur, 2*time.Second)
		if err != nil && want != nil && !errors.Is(err, want) {
			t.Logf("GET through %s = %v; want no error or %v", (*cur).Name, err, want)
			return false
		}
		return err != nil
	}
}

// toxic is a one-toxic spec for tests.
func toxic(link, typ, stream string, attrs map[string]int64) Spec {
	return Spec{Link: link, Toxics: []Toxic{{Type: typ, Stream: stream, Toxicity: 1, Attributes: attrs}}, Action: typ}
}

func latencySpec(link string, d time.Duration) Spec {
	return toxic(link, "latency", Downstream, map[string]int64{"latency": d.Milliseconds()})
}

func downSpec(link string) Spec { return Spec{Link: link, Down: true, Action: "down"} }

// slowerThan returns an observer that sees the fault when fetching path
// through the current proxy takes at least d.
func slowerThan(cur **toxiclient.Proxy, path string, d time.Duration) func(*testing.T) bool {
	return func(t *testing.T) bool {
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		start := time.Now()
		resp, err := c.Get("http://" + (*cur).Listen + path)
		if err != nil {
			t.Errorf("GET %s through %s = %v; want no error", path, (*cur).Name, err)
			return false
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Errorf("read %s through %s: %v", path, (*cur).Name, err)
		}
		return time.Since(start) >= d
	}
}

// closesLate returns an observer that sees the fault when the upstream's
// close of an HTTP/1.0 connection reaches the client at least d late.
func closesLate(cur **toxiclient.Proxy, d time.Duration) func(*testing.T) bool {
	return func(t *testing.T) bool {
		conn, err := net.DialTimeout("tcp", (*cur).Listen, 2*time.Second)
		if err != nil {
			t.Errorf("dial %s: %v", (*cur).Name, err)
			return false
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		start := time.Now()
		if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n"); err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, conn) // until the close
		return time.Since(start) >= d
	}
}

// TestConformance runs the conformance suite for every toxic Toxiproxy
// offers, and down, each observed by a real client through a real proxy.
func TestConformance(t *testing.T) {
	const latency = 300 * time.Millisecond
	tests := []struct {
		name     string
		spec     func(link string) Spec
		observed func(cur **toxiclient.Proxy) func(*testing.T) bool // seen while the fault is on
	}{
		// latency: a request takes at least the latency.
		{"latency", func(l string) Spec { return latencySpec(l, latency) }, func(cur **toxiclient.Proxy) func(*testing.T) bool {
			return slowerThan(cur, "/", latency)
		}},
		// bandwidth: 64 KiB at 32 KB/s takes about 2s (1ms without).
		{"bandwidth", func(l string) Spec { return toxic(l, "bandwidth", Downstream, map[string]int64{"rate": 32}) }, func(cur **toxiclient.Proxy) func(*testing.T) bool {
			return slowerThan(cur, "/big", time.Second)
		}},
		// slow_close: the upstream's close arrives 300ms late.
		{"slow_close", func(l string) Spec { return toxic(l, "slow_close", Downstream, map[string]int64{"delay": 300}) }, func(cur **toxiclient.Proxy) func(*testing.T) bool {
			return closesLate(cur, 300*time.Millisecond)
		}},
		// timeout: data stops and the connection is closed after 100ms.
		{"timeout", func(l string) Spec { return toxic(l, "timeout", Upstream, map[string]int64{"timeout": 100}) }, func(cur **toxiclient.Proxy) func(*testing.T) bool {
			return failing(cur, nil)
		}},
		// reset_peer: the connection is reset.
		{"reset_peer", func(l string) Spec { return toxic(l, "reset_peer", Upstream, map[string]int64{"timeout": 0}) }, func(cur **toxiclient.Proxy) func(*testing.T) bool {
			return failing(cur, syscall.ECONNRESET)
		}},
		// slicer: one byte at a time, 5ms apart: a response of a hundred
		// bytes or so takes half a second.
		{"slicer", func(l string) Spec {
			return toxic(l, "slicer", Downstream, map[string]int64{"average_size": 1, "size_variation": 0, "delay": 5000})
		}, func(cur **toxiclient.Proxy) func(*testing.T) bool {
			return slowerThan(cur, "/", 300*time.Millisecond)
		}},
		// limit_data: the connection closes after 10 bytes: the response is cut.
		{"limit_data", func(l string) Spec { return toxic(l, "limit_data", Downstream, map[string]int64{"bytes": 10}) }, func(cur **toxiclient.Proxy) func(*testing.T) bool {
			return failing(cur, nil)
		}},
		// down: connections are refused.
		{"down", downSpec, func(cur **toxiclient.Proxy) func(*testing.T) bool {
			return failing(cur, syscall.ECONNREFUSED)
		}},
	}
	l := newLab(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cur *toxiclient.Proxy
			chaostest.Run(t, chaostest.Harness{
				New: func(t *testing.T) chaos.Fault {
					cur = l.newProxy(t)
					return New("net-"+tt.name, l.client, tt.spec(cur.Name))
				},
				Observed: tt.observed(&cur),
			})
		})
	}
}

// toxicNames returns the names of the toxics on proxy name, sorted.
func toxicNames(t *testing.T, c *toxiclient.Client, name string) []string {
	t.Helper()
	p, err := c.Proxy(name)
	if err != nil {
		t.Fatalf("Proxy(%q): %v", name, err)
	}
	var names []string
	for _, tx := range p.ActiveToxics {
		names = append(names, tx.Name)
	}
	slices.Sort(names)
	return names
}

func TestCleanupRemovesOnlyGamedays(t *testing.T) {
	ctx := t.Context()
	l := newLab(t)
	p1, p2, p3 := l.newProxy(t), l.newProxy(t), l.newProxy(t)
	const dead, live = "20261128T091500Z-aaaaaa", "20261128T091500Z-bbbbbb"
	faults := []*Fault{
		New("slow", l.client, latencySpec(p1.Name, time.Second), WithRunID(dead)),
		New("narrow", l.client, toxic(p2.Name, "bandwidth", Downstream, map[string]int64{"rate": 10}), WithRunID(dead)),
		New("cut", l.client, downSpec(p3.Name), WithRunID(dead)),
		New("other-run", l.client, latencySpec(p2.Name, time.Second), WithRunID(live)),
	}
	for _, f := range faults {
		if _, err := f.Inject(ctx); err != nil {
			t.Fatalf("%s Inject() = _, %v; want no error", f.Name(), err)
		}
	}
	if _, err := p1.AddToxic("someone-elses", "latency", "downstream", 1, toxiclient.Attributes{"latency": 10}); err != nil {
		t.Fatalf("AddToxic: %v", err)
	}
	created := ResourceName(dead, "edge")
	if _, err := CreateProxy(ctx, l.client, chaos.NopJournal{}, "", created, "127.0.0.1:0", p1.Upstream); err != nil {
		t.Fatal(err)
	}
	if _, err := p2.AddToxic("gameday-mine", "latency", "downstream", 0, toxiclient.Attributes{"latency": 1}); err != nil {
		t.Fatalf("AddToxic: %v", err) // the user's own, named like gameday's but without a run id
	}
	isLive := func(id string) bool { return id == live }
	notLive := func(id string) bool { return !isLive(id) }

	left, err := Leftovers(ctx, l.client, notLive)
	if err != nil || len(left) != 4 {
		t.Fatalf("Leftovers() = %v, %v; want the 4 of the dead runs", left, err)
	}
	done, err := Cleanup(ctx, l.client, notLive)
	if err != nil || len(done) != 4 {
		t.Fatalf("Cleanup() = %q, %v; want 4 actions, no error", done, err)
	}
	if got := toxicNames(t, l.client, p1.Name); !slices.Equal(got, []string{"someone-elses"}) {
		t.Errorf("toxics on %s after Cleanup = %q; want [someone-elses]", p1.Name, got)
	}
	if got := toxicNames(t, l.client, p2.Name); !slices.Equal(got, []string{ResourceName(live, "other-run"), "gameday-mine"}) {
		t.Errorf("toxics on %s after Cleanup = %q; want only the user's and the live run's", p2.Name, got)
	}
	if p, err := l.client.Proxy(p3.Name); err != nil || !p.Enabled || len(p.ActiveToxics) != 0 {
		t.Errorf("proxy %s after Cleanup = %+v, %v; want enabled again, its marker gone", p3.Name, p, err)
	}
	if _, err := l.client.Proxy(created); !notFound(err) {
		t.Errorf("proxy %s after Cleanup: %v; want it deleted", created, err)
	}
	if done, err := Cleanup(ctx, l.client, notLive); err != nil || len(done) != 0 {
		t.Errorf("second Cleanup() = %q, %v; want nothing, no error", done, err)
	}
	// The faults' records close although their toxics are gone.
	for _, f := range faults[:3] {
		if recs, err := f.Recover(ctx); err != nil || len(recs) != 1 || !recs[0].Recovered() {
			t.Errorf("%s Recover() after Cleanup = %+v, %v; want its record closed, no error", f.Name(), recs, err)
		}
	}
}

func TestRunOf(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{ResourceName("20261128T091500Z-a1b2c3", "client-api"), "20261128T091500Z-a1b2c3"},
		{ResourceName("", "slow"), ""},
		{"gameday-20261128T091500Z-a1b2c", ""},
		{"db", ""},
	} {
		if got := RunOf(tt.name); got != tt.want {
			t.Errorf("RunOf(%q) = %q; want %q", tt.name, got, tt.want)
		}
	}
}

func TestRecoverAfterToxicRemovedByHand(t *testing.T) {
	ctx := t.Context()
	l := newLab(t)
	p := l.newProxy(t)
	f := New("slow", l.client, latencySpec(p.Name, time.Second))
	if _, err := f.Inject(ctx); err != nil {
		t.Fatalf("Inject() = _, %v; want no error", err)
	}
	if err := p.RemoveToxic(f.ToxicName()); err != nil {
		t.Fatalf("RemoveToxic(%q): %v", f.ToxicName(), err)
	}
	recs, err := f.Recover(ctx)
	if err != nil || len(recs) != 1 || !recs[0].Recovered() {
		t.Fatalf("Recover() = %+v, %v; want one closed record, no error", recs, err)
	}
	if recs, err := f.Recover(ctx); err != nil || len(recs) != 0 {
		t.Errorf("second Recover() = %+v, %v; want nothing, no error", recs, err)
	}
}

func TestDownLeavesDisabledProxyDisabled(t *testing.T) {
	ctx := t.Context()
	l := newLab(t)
	p := l.newProxy(t)
	if err := p.Disable(); err != nil {
		t.Fatalf("Disable: %v", err)
	}
	f := New("cut", l.client, downSpec(p.Name))
	recs, err := f.Inject(ctx)
	if err != nil || len(recs) != 1 || recs[0].Action != "down (proxy already disabled)" {
		t.Fatalf("Inject() = %+v, %v; want one record with action \"down (proxy already disabled)\"", recs, err)
	}
	if recs, err := f.Recover(ctx); err != nil || len(recs) != 1 {
		t.Fatalf("Recover() = %+v, %v; want one closed record, no error", recs, err)
	}
	got, err := l.client.Proxy(p.Name)
	if err != nil {
		t.Fatalf("Proxy(%q): %v", p.Name, err)
	}
	if got.Enabled {
		t.Errorf("proxy %s after Recover: enabled; want still disabled, as before Inject", p.Name)
	}
}

func TestInjectFails(t *testing.T) {
	l := newLab(t)
	p := l.newProxy(t)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		spec Spec
		want error // nil: any error
	}{
		// A link Toxiproxy does not know.
		{"no such proxy", t.Context(), latencySpec("nope", time.Second), nil},
		// A link Toxiproxy does not know, for down.
		{"down no such proxy", t.Context(), downSpec("nope"), nil},
		// An invalid spec is refused before any call.
		{"invalid spec", t.Context(), toxic(p.Name, "smoke", Downstream, nil), nil},
		// A context that has ended.
		{"canceled", canceled, latencySpec(p.Name, time.Second), context.Canceled},
		// A context that has ended, for down.
		{"down canceled", canceled, downSpec(p.Name), context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New("broken", l.client, tt.spec)
			recs, err := f.Inject(tt.ctx)
			if err == nil || len(recs) != 0 || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Inject() = %+v, %v; want no records and an error (%v)", recs, err, tt.want)
			}
			if recs, err := f.Recover(t.Context()); err != nil || len(recs) != 0 {
				t.Errorf("Recover() after failed Inject = %+v, %v; want nothing, no error", recs, err)
			}
			if got := toxicNames(t, l.client, p.Name); len(got) != 0 {
				t.Errorf("toxics on %s = %q; want none", p.Name, got)
			}
			if got, err := l.client.Proxy(p.Name); err != nil || !got.Enabled {
				t.Errorf("proxy %s enabled = %v, %v; want true", p.Name, got.Enabled, err)
			}
		})
	}
}

func TestInjectTwiceFails(t *testing.T) {
	ctx := t.Context()
	l := newLab(t)
	p := l.newProxy(t)
	f := New("slow", l.client, latencySpec(p.Name, time.Second))
	first, err := f.Inject(ctx)
	if err != nil {
		t.Fatalf("Inject() = _, %v; want no error", err)
	}
	if recs, err := f.Inject(ctx); err == nil || len(recs) != 0 {
		t.Errorf("second Inject() = %+v, %v; want no records and an error", recs, err)
	}
	recs, err := f.Recover(ctx)
	if err != nil || len(recs) != 1 || !recs[0].InjectedAt.Equal(first[0].InjectedAt) {
		t.Fatalf("Recover() = %+v, %v; want the first Inject's record closed", recs, err)
	}
	// After Recover the fault can be injected again, with a new record.
	again, err := f.Inject(ctx)
	if err != nil || len(again) != 1 || again[0].InjectedAt.Before(recs[0].RecoveredAt) {
		t.Fatalf("Inject() after Recover = %+v, %v; want a new record", again, err)
	}
	if recs, err := f.Recover(ctx); err != nil || len(recs) != 1 {
		t.Errorf("Recover() = %+v, %v; want one closed record", recs, err)
	}
}

func TestCallAbandonedOnContextEndIsAwaited(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	holdAddToxic := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/toxics") {
				close(entered)
				<-release
			}
			next.ServeHTTP(w, r)
		})
	}
	l := newLab(t, holdAddToxic)
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // before the lab stops, even when the test fails
	p := l.newProxy(t)
	f := New("slow", l.client, latencySpec(p.Name, time.Second))

	// Inject gives up while Toxiproxy still holds its call.
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-entered; cancel() }()
	if recs, err := f.Inject(ctx); !errors.Is(err, context.Canceled) || len(recs) != 0 {
		t.Fatalf("Inject(canceled during the call) = %+v, %v; want no records and context.Canceled", recs, err)
	}
	// Recover waits for that call: it ends with its own context.
	short, cancelShort := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancelShort()
	if recs, err := f.Recover(short); !errors.Is(err, context.DeadlineExceeded) || len(recs) != 0 {
		t.Fatalf("Recover() while Inject's call is held = %+v, %v; want no records and context.DeadlineExceeded", recs, err)
	}
	// Once the call lands, Recover removes what it added.
	releaseOnce()
	if recs, err := f.Recover(t.Context()); err != nil || len(recs) != 0 {
		t.Fatalf("Recover() after the call landed = %+v, %v; want no records, no error", recs, err)
	}
	if got := toxicNames(t, l.client, p.Name); len(got) != 0 {
		t.Errorf("toxics on %s after Recover = %q; want none", p.Name, got)
	}
}
