package global

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameday/gameday/reference-app/gateway"
	"github.com/gameday/gameday/reference-app/kvstore"
)

// fakeRegion is a region's gateway: ready or not, answering every other
// request with its name.
type fakeRegion struct {
	name string
	down atomic.Bool
	srv  *httptest.Server
}

func newFakeRegion(t *testing.T, name string) *fakeRegion {
	r := &fakeRegion{name: name}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Region", name)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *fakeRegion) region(t *testing.T) Region {
	ups, err := gateway.ParseUpstreams([]string{r.srv.URL}, []string{r.name})
	if err != nil {
		t.Fatal(err)
	}
	return Region{Name: r.name, Gateway: ups[0]}
}

// fakeStore records the admin requests a store gets.
type fakeStore struct {
	mu       sync.Mutex
	st       kvstore.Status
	down     bool
	promoted []uint64
	follows  []kvstore.FollowRequest
	srv      *httptest.Server
}

func newFakeStore(t *testing.T, st kvstore.Status) *fakeStore {
	st.Replication = kvstore.Async
	s := &fakeStore{st: st}
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter) {
		_ = json.NewEncoder(w).Encode(s.st)
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		reply(w)
	})
	mux.HandleFunc("POST /v1/admin/promote", func(w http.ResponseWriter, r *http.Request) {
		var req kvstore.PromoteRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.promoted = append(s.promoted, req.Epoch)
		s.st.Role, s.st.Epoch = kvstore.RolePrimary, req.Epoch
		reply(w)
	})
	mux.HandleFunc("POST /v1/admin/follow", func(w http.ResponseWriter, r *http.Request) {
		var req kvstore.FollowRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.follows = append(s.follows, req)
		s.st.Role, s.st.Epoch, s.st.Primary = kvstore.RoleReplica, req.Epoch, req.Primary
		reply(w)
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *fakeStore) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *fakeStore) record() ([]uint64, []kvstore.FollowRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.promoted...), append([]kvstore.FollowRequest(nil), s.follows...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(2 * time.Millisecond) // poll interval
	}
}

// TestFailoverAndFence: the primary region's checks fail: the entry point
// promotes the passive store above its epoch by the margin, routes to the
// passive region, and once the old region's store answers again tells it
// to follow the new primary at the new epoch, once.
func TestFailoverAndFence(t *testing.T) {
	a, b := newFakeRegion(t, "a"), newFakeRegion(t, "b")
	passive := newFakeStore(t, kvstore.Status{Node: "store-b", Role: kvstore.RoleReplica, Epoch: 3, LastSeq: 40})
	old := newFakeStore(t, kvstore.Status{Node: "store-1", Role: kvstore.RolePrimary, Epoch: 3, LastSeq: 52})
	old.setDown(true) // cut off with its region
	g, err := New(Config{
		Primary: a.region(t), Passive: b.region(t),
		PassiveStore: passive.srv.URL, FollowURL: "http://wan-to-b", Fence: []string{old.srv.URL},
		Interval: 5 * time.Millisecond, CheckTimeout: time.Second, Failures: 3, EpochMargin: 100,
		Gateway:    []gateway.Option{gateway.WithRateLimit(0, 0), gateway.WithHealthInterval(5 * time.Millisecond)},
		Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = g.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); g.Close() })
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)
	regionOf := func() string {
		resp, err := http.Get(front.URL + "/v1/feed")
		if err != nil {
			return ""
		}
		resp.Body.Close()
		return resp.Header.Get("X-Region")
	}

	waitFor(t, "served by region a", func() bool { return regionOf() == "a" })
	if promoted, _ := passive.record(); len(promoted) != 0 {
		t.Fatalf("promotions while region a is up: %v; want none", promoted)
	}
	a.down.Store(true)
	waitFor(t, "served by region b", func() bool { return regionOf() == "b" })
	if r, failedOver := g.Active(); r.Name != "b" || !failedOver {
		t.Errorf("Active() = %s, %v; want b, true", r.Name, failedOver)
	}
	if promoted, _ := passive.record(); len(promoted) != 1 || promoted[0] != 103 {
		t.Errorf("promotions of the passive store = %v; want one, at epoch 3 + margin 100", promoted)
	}
	if _, follows := old.record(); len(follows) != 0 {
		t.Errorf("follow orders to an unreachable store: %v; want none", follows)
	}

	old.setDown(false) // the old region rejoins
	waitFor(t, "the old store fenced", func() bool { _, f := old.record(); return len(f) > 0 })
	a.down.Store(false)
	for range 20 { // many rounds: no second order, no failback
		if who := regionOf(); who != "b" {
			t.Fatalf("after region a came back, served by %q; want b (no automatic failback)", who)
		}
	}
	if _, follows := old.record(); len(follows) != 1 || follows[0] != (kvstore.FollowRequest{Primary: "http://wan-to-b", Epoch: 103}) {
		t.Errorf("follow orders to the old store = %+v; want one: follow http://wan-to-b at epoch 103", follows)
	}
}

// TestNoFailoverToADownRegion: with both regions down the entry point
// stays, and promotes nothing.
func TestNoFailoverToADownRegion(t *testing.T) {
	a, b := newFakeRegion(t, "a"), newFakeRegion(t, "b")
	a.down.Store(true)
	b.down.Store(true)
	passive := newFakeStore(t, kvstore.Status{Role: kvstore.RoleReplica, Epoch: 1})
	g, err := New(Config{Primary: a.region(t), Passive: b.region(t), PassiveStore: passive.srv.URL, FollowURL: "http://x",
		Interval: time.Millisecond, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		g.round(context.Background())
	}
	if r, failedOver := g.Active(); r.Name != "a" || failedOver {
		t.Errorf("Active() after 10 rounds with both regions down = %s, %v; want a, false", r.Name, failedOver)
	}
	if promoted, _ := passive.record(); len(promoted) != 0 {
		t.Errorf("promotions = %v; want none", promoted)
	}
}

// TestNoFailoverFromARegionNeverSeenUp: a primary region that has not yet
// passed a check is starting, not failing: no failover however many
// rounds, until it was once up and then fails.
func TestNoFailoverFromARegionNeverSeenUp(t *testing.T) {
	a, b := newFakeRegion(t, "a"), newFakeRegion(t, "b")
	a.down.Store(true)
	passive := newFakeStore(t, kvstore.Status{Role: kvstore.RoleReplica, Epoch: 1})
	g, err := New(Config{Primary: a.region(t), Passive: b.region(t), PassiveStore: passive.srv.URL, FollowURL: "http://x",
		Interval: time.Millisecond, Failures: 2, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		g.round(context.Background())
	}
	if r, failedOver := g.Active(); r.Name != "a" || failedOver {
		t.Fatalf("Active() after 10 rounds of a region never up = %s, %v; want a, false", r.Name, failedOver)
	}
	a.down.Store(false)
	g.round(context.Background())
	a.down.Store(true)
	for range 3 {
		g.round(context.Background())
	}
	if r, failedOver := g.Active(); r.Name != "b" || !failedOver {
		t.Errorf("Active() after region a was up, then failed 3 rounds = %s, %v; want b, true", r.Name, failedOver)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	a := newFakeRegion(t, "a")
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"one region twice", Config{Primary: a.region(t), Passive: a.region(t), PassiveStore: "http://s", FollowURL: "http://f"}},
		{"no passive store", Config{Primary: a.region(t), Passive: Region{Name: "b", Gateway: a.region(t).Gateway}, FollowURL: "http://f"}},
		{"no gateway", Config{Primary: Region{Name: "a"}, Passive: Region{Name: "b"}, PassiveStore: "http://s", FollowURL: "http://f"}},
	} {
		if _, err := New(tt.cfg); err == nil {
			t.Errorf("New(%s) = nil error; want one", tt.name)
		}
	}
}

// TestPassiveStoreTracksThePrimaryRegion: while region a is active, an
// in-region failover there (its sentinel names store-2 at epoch 2) makes
// the passive store follow store-2 through its WAN URL, once.
func TestPassiveStoreTracksThePrimaryRegion(t *testing.T) {
	a, b := newFakeRegion(t, "a"), newFakeRegion(t, "b")
	passive := newFakeStore(t, kvstore.Status{Node: "store-b", Role: kvstore.RoleReplica, Epoch: 1, Primary: "http://wan-1"})
	sentinel := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"name":"store-2","url":"http://in-region-2","epoch":2}`))
	}))
	t.Cleanup(sentinel.Close)
	g, err := New(Config{Primary: a.region(t), Passive: b.region(t), PassiveStore: passive.srv.URL, FollowURL: "http://x",
		Sentinel: sentinel.URL, ReplURLs: map[string]string{"store-1": "http://wan-1", "store-2": "http://wan-2"},
		Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		g.round(context.Background())
	}
	if _, follows := passive.record(); len(follows) != 1 || follows[0] != (kvstore.FollowRequest{Primary: "http://wan-2", Epoch: 2}) {
		t.Errorf("follow orders to the passive store = %+v; want one: follow http://wan-2 at epoch 2", follows)
	}
	if r, failedOver := g.Active(); r.Name != "a" || failedOver {
		t.Errorf("Active() = %s, %v; want a, false", r.Name, failedOver)
	}
}
