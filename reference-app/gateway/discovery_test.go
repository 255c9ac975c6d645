package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameday/gameday/reference-app/server"
	"github.com/gameday/gameday/reference-app/telemetry"
)

// namedServer answers every request 200 with its name in X-Refapp-Instance.
func namedServer(t *testing.T, name string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", server.Healthz)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { w.Header().Set(telemetry.InstanceHeader, name) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// statusOf returns the status of the upstream named name, and whether the
// gateway lists it.
func statusOf(g *Gateway, name string) (UpstreamStatus, bool) {
	for _, s := range g.Status() {
		if s.Name == name {
			return s, true
		}
	}
	return UpstreamStatus{}, false
}

// waitUntil polls cond every 2 ms for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(2 * time.Millisecond) // poll interval
	}
}

// TestWatchUpstreamsFileAddsAndDrains follows an autoscaler's replica
// through the gateway's file-based discovery: listed, it is checked and
// gets requests; unlisted while a request to it is held, it gets no new
// request, stays listed as draining until the held request completes
// (which succeeds), and is then let go.
func TestWatchUpstreamsFileAddsAndDrains(t *testing.T) {
	first := namedServer(t, "api-1")
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	auto := holdServer(t, arrived, release)
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })

	ups, err := ParseUpstreams([]string{first.URL}, []string{"api-1"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(ups, WithHealthInterval(20*time.Millisecond), WithUpstreamTimeout(time.Minute), WithRateLimit(0, 0),
		WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "upstreams.json")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = g.Run(ctx) })
	wg.Go(func() { _ = g.WatchUpstreamsFile(file, 5*time.Millisecond)(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); g.Close() })
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)

	write := func(content string) {
		t.Helper()
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "api-1 up", func() bool { s, _ := statusOf(g, "api-1"); return s.Up })

	// A file that does not parse leaves the set as it is.
	write(`{"upstreams": [{"name": "api-1", "url": "ftp://nowhere"}]}`)
	time.Sleep(50 * time.Millisecond) // ten reads of the file; nothing may change
	if s, ok := statusOf(g, "api-1"); !ok || s.URL != first.URL {
		t.Fatalf("after a bad file, api-1 = %+v, %v; want it kept at %s", s, ok, first.URL)
	}

	write(`{"upstreams": [{"name": "api-1", "url": "` + first.URL + `"}, {"name": "auto-1", "url": "` + auto.URL + `"}]}`)
	waitUntil(t, "auto-1 up", func() bool { s, _ := statusOf(g, "auto-1"); return s.Up })
	if s, _ := statusOf(g, "api-1"); !s.Up {
		t.Fatalf("api-1 after the set grew: %+v; want still up (kept, not replaced)", s)
	}

	// Hold a request on auto-1 (least outstanding sends the second of two
	// concurrent requests to it at the latest).
	held := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := http.Get(front.URL + "/v1/feed")
			if err != nil {
				held <- 0
				return
			}
			resp.Body.Close()
			held <- resp.StatusCode
		}()
	}
	<-arrived
	if code := <-held; code != http.StatusOK {
		t.Fatalf("the request api-1 answered: status %d; want 200", code)
	}

	write(`{"upstreams": [{"name": "api-1", "url": "` + first.URL + `"}]}`)
	waitUntil(t, "auto-1 draining", func() bool { s, _ := statusOf(g, "auto-1"); return s.Draining })
	for i := range 20 {
		resp, err := http.Get(front.URL + "/v1/feed")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if who := resp.Header.Get(telemetry.InstanceHeader); resp.StatusCode != http.StatusOK || who != "api-1" {
			t.Fatalf("request %d while auto-1 drains: %d from %q; want 200 from api-1", i, resp.StatusCode, who)
		}
	}
	if s, ok := statusOf(g, "auto-1"); !ok || !s.Draining || s.Outstanding != 1 {
		t.Fatalf("auto-1 with its request held: %+v, listed %v; want draining with 1 outstanding", s, ok)
	}
	releaseOnce.Do(func() { close(release) })
	if code := <-held; code != http.StatusOK {
		t.Errorf("the request held on auto-1 across its removal: status %d; want 200", code)
	}
	waitUntil(t, "auto-1 let go", func() bool { _, ok := statusOf(g, "auto-1"); return !ok })
}

func TestSetUpstreamsRefusesBadSets(t *testing.T) {
	ups, err := ParseUpstreams([]string{"http://127.0.0.1:1"}, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(ups, WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		set  []Upstream
	}{
		{"empty", nil},
		{"repeated name", []Upstream{ups[0], ups[0]}},
		{"unnamed", []Upstream{{URL: ups[0].URL}}},
	} {
		if err := g.SetUpstreams(tt.set); err == nil {
			t.Errorf("SetUpstreams(%s) = nil; want an error", tt.name)
		}
	}
	if st := g.Status(); len(st) != 1 || st[0].Name != "a" {
		t.Errorf("Status() after refused sets = %+v; want a alone", st)
	}
}
