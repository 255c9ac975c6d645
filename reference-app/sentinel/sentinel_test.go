package sentinel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameday/gameday/reference-app/kvstore"
	"github.com/gameday/gameday/reference-app/kvstore/kvstoretest"
	"github.com/gameday/gameday/reference-app/sentinel"
)

const wait = 10 * time.Second

// hc is every test's HTTP client. Without keep-alive, no request meets a
// connection that a node's restart closed under it.
var hc = &http.Client{Timeout: 2 * wait, Transport: &http.Transport{DisableKeepAlives: true}}

// sent is a running sentinel.
type sent struct {
	*sentinel.Sentinel
	URL string
	reg *prometheus.Registry
}

func startSentinel(t *testing.T, stores []sentinel.Store) *sent {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := sentinel.New(stores,
		sentinel.WithCheckInterval(20*time.Millisecond),
		sentinel.WithFailures(3),
		sentinel.WithCheckTimeout(time.Second),
		sentinel.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return &sent{Sentinel: s, URL: srv.URL, reg: reg}
}

func (s *sent) metric(name string, labels ...string) float64 {
	return kvstoretest.Metric(s.reg, name, labels...)
}

// waitPrimary waits until the sentinel names name at epoch.
func (s *sent) waitPrimary(t *testing.T, name string, epoch uint64) sentinel.Primary {
	t.Helper()
	var p sentinel.Primary
	kvstoretest.WaitFor(t, wait, fmt.Sprintf("sentinel names %s at epoch %d", name, epoch), func() bool {
		var err error
		p, err = sentinel.Lookup(context.Background(), hc, s.URL)
		return err == nil && p.Name == name && p.Epoch == epoch
	})
	return p
}

func store(name string, n *kvstoretest.Node) sentinel.Store {
	return sentinel.Store{Name: name, URL: n.URL, ClientURL: n.URL, ReplURL: n.URL}
}

func raw(s string) []byte { return []byte(s) }

func replicaOf(t *testing.T, name string, primary *kvstoretest.Node, extra ...kvstore.Option) *kvstoretest.Node {
	return kvstoretest.Start(t, "", append(append(kvstoretest.FastOptions, kvstore.WithNode(name),
		kvstore.WithMode(kvstore.RoleReplica), kvstore.WithPrimary(primary.URL)), extra...)...)
}

func TestParseStores(t *testing.T) {
	for _, tt := range []struct {
		stores, clients, repls string
		want                   string // the stores as name:url:client:repl, or the error's substring
	}{
		{"a=http://127.0.0.1:1,b=http://127.0.0.1:2", "", "",
			"a:http://127.0.0.1:1:http://127.0.0.1:1:http://127.0.0.1:1 b:http://127.0.0.1:2:http://127.0.0.1:2:http://127.0.0.1:2"},
		{"a=http://127.0.0.1:1,b=http://127.0.0.1:2", "b=http://127.0.0.1:12", "a=http://127.0.0.1:21/",
			"a:http://127.0.0.1:1:http://127.0.0.1:1:http://127.0.0.1:21 b:http://127.0.0.1:2:http://127.0.0.1:12:http://127.0.0.1:2"},
		{"", "", "", "none given"},
		{"a", "", "", "name=URL"},
		{"a=127.0.0.1:1", "", "", "base URL"},
		{"a=http://127.0.0.1:1,a=http://127.0.0.1:2", "", "", "twice"},
		{"a=http://127.0.0.1:1", "c=http://127.0.0.1:3", "", "not in stores"},
		{"a=http://127.0.0.1:1", "", "=http://127.0.0.1:3", "name=URL"},
	} {
		got, err := sentinel.ParseStores(tt.stores, tt.clients, tt.repls)
		var s []string
		for _, st := range got {
			s = append(s, strings.Join([]string{st.Name, st.URL, st.ClientURL, st.ReplURL}, ":"))
		}
		gotStr := strings.Join(s, " ")
		if err != nil {
			gotStr = err.Error()
		}
		if (err == nil && gotStr != tt.want) || (err != nil && !strings.Contains(gotStr, tt.want)) {
			t.Errorf("ParseStores(%q, %q, %q) = %q; want %q", tt.stores, tt.clients, tt.repls, gotStr, tt.want)
		}
	}
}

func TestPrimaryEndpoint(t *testing.T) {
	a := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"))...)
	b := replicaOf(t, "b", a)
	// b pulls from a through a link of its own: the sentinel's repl URL.
	link := kvstoretest.NewLink(t, a.URL)
	stores := []sentinel.Store{
		{Name: "a", URL: a.URL, ClientURL: "http://127.0.0.1:9", ReplURL: link.URL},
		store("b", b),
	}
	s := startSentinel(t, stores)
	s.waitPrimary(t, "a", 1)
	resp, err := hc.Get(s.URL + "/v1/primary")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"name":"a","url":"http://127.0.0.1:9","epoch":1}` + "\n"; resp.StatusCode != 200 || string(body) != want {
		t.Errorf("GET /v1/primary = %d %s; want 200 %s", resp.StatusCode, body, want)
	}
	kvstoretest.WaitFor(t, wait, "b follows a through its repl URL", func() bool { return b.Node().Status().Primary == link.URL })
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"refapp_sentinel_epoch", nil, 1},
		{"refapp_sentinel_primary", []string{"node", "a"}, 1},
		{"refapp_sentinel_primary", []string{"node", "b"}, 0},
		{"refapp_sentinel_store_up", []string{"node", "a"}, 1},
		{"refapp_sentinel_store_up", []string{"node", "b"}, 1},
		{"refapp_sentinel_failovers_total", nil, 0},
		{"refapp_sentinel_failover_blocked", nil, 0},
	} {
		if got := s.metric(m.name, m.labels...); got != m.want {
			t.Errorf("%s%v = %v; want %v", m.name, m.labels, got, m.want)
		}
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Errorf("Ready() = %v; want nil", err)
	}
	if st := b.Node().Status(); st.Role != kvstore.RoleReplica || st.Epoch != 1 {
		t.Errorf("b Status() = %+v; want a replica at epoch 1", st)
	}
}

func TestAdoptsTheHighestEpoch(t *testing.T) {
	a := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"))...)
	b := replicaOf(t, "b", a)
	if _, err := a.Node().Promote(5); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Node().Follow(a.URL, 5); err != nil {
		t.Fatal(err)
	}
	s := startSentinel(t, []sentinel.Store{store("a", a), store("b", b)})
	s.waitPrimary(t, "a", 5)
	if got := s.metric("refapp_sentinel_epoch"); got != 5 {
		t.Errorf("refapp_sentinel_epoch = %v; want 5", got)
	}
	if got := s.metric("refapp_sentinel_failovers_total"); got != 0 {
		t.Errorf("refapp_sentinel_failovers_total = %v; want 0 (adopting is no failover)", got)
	}
}

func TestNoReachableReplicaNoFailover(t *testing.T) {
	a := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"))...)
	b := replicaOf(t, "b", a)
	s := startSentinel(t, []sentinel.Store{store("a", a), store("b", b)})
	s.waitPrimary(t, "a", 1)
	b.Stop()
	a.Stop()
	kvstoretest.WaitFor(t, wait, "failover blocked", func() bool { return s.metric("refapp_sentinel_failover_blocked") == 1 })
	if _, err := sentinel.Lookup(context.Background(), hc, s.URL); !errors.Is(err, sentinel.ErrNoPrimary) {
		t.Errorf("Lookup with no primary error = %v; want ErrNoPrimary", err)
	}
	if err := s.Ready(context.Background()); err == nil {
		t.Errorf("Ready() with no primary = nil; want an error")
	}
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"refapp_sentinel_failovers_total", nil, 0},
		{"refapp_sentinel_epoch", nil, 1},
		{"refapp_sentinel_primary", []string{"node", "a"}, 0},
		{"refapp_sentinel_store_up", []string{"node", "a"}, 0},
	} {
		if got := s.metric(m.name, m.labels...); got != m.want {
			t.Errorf("%s%v = %v; want %v", m.name, m.labels, got, m.want)
		}
	}
	// The primary comes back: the sentinel names it again, at the same epoch.
	a.Restart()
	s.waitPrimary(t, "a", 1)
	if got := s.metric("refapp_sentinel_failover_blocked"); got != 0 {
		t.Errorf("refapp_sentinel_failover_blocked after the primary came back = %v; want 0", got)
	}
}

// writer writes distinct keys through the sentinel until stopped and
// records which were acknowledged, and at which epoch.
type writer struct {
	mu    sync.Mutex        // guards acked
	acked map[string]uint64 // key → epoch of the acknowledging primary
	stop  context.CancelFunc
	done  sync.WaitGroup
}

func startWriters(sentinelURL string, n int) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{acked: map[string]uint64{}, stop: cancel}
	c := kvstore.NewClient(sentinel.PrimaryFunc(hc, sentinelURL), hc)
	for g := range n {
		w.done.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("w%d-%05d", g, i)
				res, err := c.Write(ctx, kvstore.Put("posts", key, raw(`{"n":`+fmt.Sprint(i)+`}`)))
				if err != nil {
					time.Sleep(5 * time.Millisecond) // pace retries while there is no primary
					continue
				}
				w.mu.Lock()
				w.acked[key] = res.Epoch
				w.mu.Unlock()
			}
		})
	}
	return w
}

// count returns how many writes were acknowledged at epoch (0: any).
func (w *writer) count(epoch uint64) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.acked {
		if epoch == 0 || e == epoch {
			n++
		}
	}
	return n
}

func (w *writer) finish() map[string]uint64 {
	w.stop()
	w.done.Wait()
	return w.acked
}

func TestSyncFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	ctx := context.Background()
	opts := []kvstore.Option{kvstore.WithReplication(kvstore.Sync), kvstore.WithSyncTimeout(wait)}
	a := kvstoretest.Start(t, "", append(append(kvstoretest.FastOptions, kvstore.WithNode("a")), opts...)...)
	b := replicaOf(t, "b", a, opts...)
	c := replicaOf(t, "c", a, opts...)
	nodes := map[string]*kvstoretest.Node{"a": a, "b": b, "c": c}
	s := startSentinel(t, []sentinel.Store{store("a", a), store("b", b), store("c", c)})
	s.waitPrimary(t, "a", 1)

	w := startWriters(s.URL, 3)
	kvstoretest.WaitFor(t, wait, "30 writes acknowledged at epoch 1", func() bool { return w.count(1) >= 30 })
	// c falls behind: the writes from now on are acknowledged by b alone,
	// so promoting c would lose them.
	c.StopPull()
	n := w.count(1)
	kvstoretest.WaitFor(t, wait, "20 more writes acknowledged by b alone", func() bool { return w.count(1) >= n+20 })
	a.Stop() // the primary dies
	p := s.waitPrimary(t, "b", 2)
	c.Restart() // c pulls again, from the new primary once told to
	kvstoretest.WaitFor(t, wait, "30 writes acknowledged at epoch 2", func() bool { return w.count(2) >= 30 })
	acked := w.finish()
	newPrimary := nodes[p.Name]
	if st := newPrimary.Node().Status(); st.Role != kvstore.RolePrimary || st.Epoch != 2 {
		t.Errorf("%s Status() = %+v; want primary at epoch 2", p.Name, st)
	}
	pc := kvstore.NewClient(kvstore.FixedPrimary(newPrimary.URL), hc)
	lost := 0
	for key := range acked {
		if _, err := pc.Get(ctx, "posts", key); err != nil {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged write %s at epoch %d: Get on the new primary %s: %v", key, acked[key], p.Name, err)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes lost in the failover; want 0", lost, len(acked))
	}
	t.Logf("%d acknowledged writes (%d at epoch 1, %d at epoch 2), all on %s", len(acked), w.count(1), w.count(2), p.Name)
	if got := s.metric("refapp_sentinel_failovers_total"); got != 1 {
		t.Errorf("refapp_sentinel_failovers_total = %v; want 1", got)
	}
	if got := s.metric("refapp_sentinel_primary", "node", p.Name); got != 1 {
		t.Errorf("refapp_sentinel_primary{node=%s} = %v; want 1", p.Name, got)
	}

	// The old primary comes back on its data dir, still primary at epoch
	// 1: it is told to follow and catches up.
	a.Restart()
	last := newPrimary.Node().Status().LastSeq
	kvstoretest.WaitFor(t, wait, "a follows the new primary and catches up", func() bool {
		st := a.Node().Status()
		return st.Role == kvstore.RoleReplica && st.Epoch == 2 && st.Primary == newPrimary.URL && st.AppliedSeq == last
	})
}

func TestAsyncFailoverDiscardsUnreplicatedWrites(t *testing.T) {
	ctx := context.Background()
	a := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"))...)
	b := replicaOf(t, "b", a)
	s := startSentinel(t, []sentinel.Store{store("a", a), store("b", b)})
	s.waitPrimary(t, "a", 1)
	c := kvstore.NewClient(sentinel.PrimaryFunc(hc, s.URL), hc)
	for i := range 5 {
		if _, err := c.Write(ctx, kvstore.Put("posts", fmt.Sprintf("kept%d", i), raw(`1`))); err != nil {
			t.Fatal(err)
		}
	}
	kvstoretest.WaitFor(t, wait, "b applied 5", func() bool { return b.Node().Status().AppliedSeq == 5 })

	b.StopPull() // the replica is cut off from the primary
	const n = 6
	for i := range n {
		res, err := c.Write(ctx, kvstore.Put("posts", fmt.Sprintf("lost%d", i), raw(`1`)))
		if err != nil || res.Epoch != 1 {
			t.Fatalf("async Write(lost%d) = %+v, %v; want acknowledged at epoch 1", i, res, err)
		}
	}
	a.Stop() // then the primary dies
	s.waitPrimary(t, "b", 2)
	for i := range 3 {
		res, err := c.Write(ctx, kvstore.Put("posts", fmt.Sprintf("new%d", i), raw(`2`)))
		if err != nil || res.Epoch != 2 {
			t.Fatalf("Write(new%d) after failover = %+v, %v; want acknowledged at epoch 2", i, res, err)
		}
	}

	a.Restart() // the old primary comes back claiming primary at epoch 1
	kvstoretest.WaitFor(t, wait, "a discards its unreplicated writes and catches up", func() bool {
		st := a.Node().Status()
		return a.Metric("refapp_store_discarded_writes_total") == n && st.Role == kvstore.RoleReplica && st.AppliedSeq == 8
	})
	if got := a.Metric("refapp_store_discarded_writes_total"); got != n {
		t.Errorf("a refapp_store_discarded_writes_total = %v; want %d", got, n)
	}
	ac, bc := kvstore.NewClient(kvstore.FixedPrimary(a.URL), hc), kvstore.NewClient(kvstore.FixedPrimary(b.URL), hc)
	for i := range n {
		key := fmt.Sprintf("lost%d", i)
		if _, err := bc.Get(ctx, "posts", key); !errors.Is(err, kvstore.ErrNotFound) {
			t.Errorf("new primary Get(%s) error = %v; want ErrNotFound", key, err)
		}
		if _, err := ac.Get(ctx, "posts", key); !errors.Is(err, kvstore.ErrNotFound) {
			t.Errorf("old primary Get(%s) after follow error = %v; want ErrNotFound (discarded)", key, err)
		}
	}
	for _, key := range []string{"kept0", "kept4", "new0", "new2"} {
		if _, err := ac.Get(ctx, "posts", key); err != nil {
			t.Errorf("old primary Get(%s) after follow: %v", key, err)
		}
	}
	// The old primary, now a replica, refuses writes.
	if _, err := ac.Write(ctx, kvstore.Put("posts", "x", raw(`1`))); !errors.Is(err, kvstore.ErrNotPrimary) {
		t.Errorf("Write to the old primary error = %v; want ErrNotPrimary", err)
	}
	if got := s.metric("refapp_sentinel_failovers_total"); got != 1 {
		t.Errorf("refapp_sentinel_failovers_total = %v; want 1", got)
	}
}

func TestStaleWriterFencesPartitionedPrimary(t *testing.T) {
	ctx := context.Background()
	a := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"))...)
	b := replicaOf(t, "b", a)
	// The sentinel sees a through a link of its own; clients reach a directly.
	view := kvstoretest.NewLink(t, a.URL)
	s := startSentinel(t, []sentinel.Store{{Name: "a", URL: view.URL, ClientURL: a.URL, ReplURL: a.URL}, store("b", b)})
	s.waitPrimary(t, "a", 1)

	view.Cut() // a is alive, but the sentinel cannot see it
	s.waitPrimary(t, "b", 2)
	// A client that learnt epoch 2 but still sends to a fences it.
	toA := kvstore.NewClient(func(context.Context) (kvstore.Target, error) {
		return kvstore.Target{URL: a.URL, Epoch: 2}, nil
	}, hc)
	_, err := toA.Write(ctx, kvstore.Put("posts", "split", raw(`1`)))
	var se *kvstore.StatusError
	if !errors.Is(err, kvstore.ErrEpochConflict) || !errors.As(err, &se) || se.StoreEpoch != 1 {
		t.Errorf("Write at epoch 2 to the old primary error = %v; want ErrEpochConflict from a store at epoch 1", err)
	}
	// Fenced, it refuses writes without an epoch too.
	noEpoch := kvstore.NewClient(kvstore.FixedPrimary(a.URL), hc)
	if _, err := noEpoch.Write(ctx, kvstore.Put("posts", "split", raw(`1`))); !errors.Is(err, kvstore.ErrEpochConflict) {
		t.Errorf("Write without epoch to the fenced old primary error = %v; want ErrEpochConflict", err)
	}
	view.Heal()
	kvstoretest.WaitFor(t, wait, "the sentinel tells a to follow b", func() bool {
		st := a.Node().Status()
		return st.Role == kvstore.RoleReplica && st.Epoch == 2 && a.Node().Ready(ctx) == nil
	})
}
