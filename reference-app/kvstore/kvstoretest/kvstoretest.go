// Package kvstoretest runs kvstore nodes in-process for tests, each on its
// own 127.0.0.1:0 address that a test can cut (the node stays alive but
// every connection is dropped, as a partition or a dead process looks from
// outside), restore, or serve a node restarted on the same data dir.
package kvstoretest

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gameday/gameday/reference-app/kvstore"
)

// Fast test settings of a node's pull loop: short waits and backoffs, so
// that tests wait on conditions rather than on defaults.
var FastOptions = []kvstore.Option{
	kvstore.WithPollWait(200 * time.Millisecond),
	kvstore.WithRetry(5*time.Millisecond, 50*time.Millisecond),
}

// Node is a kvstore node served on a stable test URL.
type Node struct {
	// URL is the node's base URL; it survives Cut and Restart.
	URL string
	// Dir is the node's data dir.
	Dir string

	t       testing.TB
	opts    []kvstore.Option
	srv     *httptest.Server
	handler atomic.Pointer[http.Handler] // nil while cut

	mu      sync.Mutex // guards the fields below
	node    *kvstore.Node
	reg     *prometheus.Registry
	stopRun context.CancelFunc
	runDone chan struct{}
}

// Start opens a node in dir (t.TempDir() when empty) with opts, serves it
// and runs its pull loop. The node is closed by t's cleanup.
func Start(t testing.TB, dir string, opts ...kvstore.Option) *Node {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	n := &Node{Dir: dir, t: t, opts: opts}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := n.handler.Load()
		if h == nil {
			panic(http.ErrAbortHandler) // drop the connection without an answer
		}
		(*h).ServeHTTP(w, r)
	}))
	n.URL = n.srv.URL
	n.open()
	t.Cleanup(func() {
		n.Stop()
		n.srv.Close()
	})
	return n
}

// open opens the node on n.Dir and serves it.
func (n *Node) open() {
	n.t.Helper()
	reg := prometheus.NewRegistry()
	node, err := kvstore.Open(n.Dir, append(append([]kvstore.Option{}, n.opts...), kvstore.WithRegisterer(reg))...)
	if err != nil {
		n.t.Fatalf("kvstore.Open(%s): %v", n.Dir, err)
	}
	mux := http.NewServeMux()
	node.Register(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = node.Run(ctx)
	}()
	n.mu.Lock()
	n.node, n.reg, n.stopRun, n.runDone = node, reg, cancel, done
	n.mu.Unlock()
	var h http.Handler = mux
	n.handler.Store(&h)
}

// Node returns the running kvstore node (a new one after Restart).
func (n *Node) Node() *kvstore.Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.node
}

// Cut drops every connection to the node from now on; the node itself
// keeps running (a partition).
func (n *Node) Cut() {
	n.handler.Store(nil)
	n.srv.CloseClientConnections()
}

// Heal serves the node again after Cut (not after Stop: use Restart).
func (n *Node) Heal() {
	n.mu.Lock()
	node := n.node
	n.mu.Unlock()
	mux := http.NewServeMux()
	node.Register(mux)
	var h http.Handler = mux
	n.handler.Store(&h)
}

// StopPull stops the node's pull loop (the node keeps serving): a replica
// cut off from its primary.
func (n *Node) StopPull() {
	n.mu.Lock()
	stop, done := n.stopRun, n.runDone
	n.mu.Unlock()
	stop()
	<-done
}

// Stop cuts the node and closes it (a dead process). It is idempotent.
func (n *Node) Stop() {
	n.Cut()
	n.mu.Lock()
	node, stop, done := n.node, n.stopRun, n.runDone
	n.mu.Unlock()
	if node == nil {
		return
	}
	stop()
	if err := node.Close(); err != nil {
		n.t.Errorf("close %s: %v", n.URL, err)
	}
	<-done
	n.mu.Lock()
	n.node = nil
	n.mu.Unlock()
}

// Restart stops the node and opens it again on the same data dir and URL,
// with the same options plus extra.
func (n *Node) Restart(extra ...kvstore.Option) {
	n.t.Helper()
	n.Stop()
	n.opts = append(n.opts, extra...)
	n.open()
}

// Metric returns the value of the node's metric name (a gauge or a
// counter) with the labels given as name, value pairs; -1 when absent.
func (n *Node) Metric(name string, labels ...string) float64 {
	n.mu.Lock()
	reg := n.reg
	n.mu.Unlock()
	return Metric(reg, name, labels...)
}

// Metric returns the value of the gauge or counter name of g with the
// labels given as name, value pairs; -1 when absent.
func Metric(g prometheus.Gatherer, name string, labels ...string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				switch {
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				case m.Counter != nil:
					return m.Counter.GetValue()
				}
			}
		}
	}
	return -1
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			found = found || (l.GetName() == pairs[i] && l.GetValue() == pairs[i+1])
		}
		if !found {
			return false
		}
	}
	return true
}

// WaitFor polls cond every 5 ms until it holds, failing t after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not synchronisation
	}
}

// Link is a cuttable reverse proxy to a node: a network edge (the
// replication edge, or the sentinel's view of a node) that a test can cut
// without touching the other edges.
type Link struct {
	// URL is the link's base URL.
	URL string
	srv *httptest.Server
	up  atomic.Bool
}

// NewLink returns a link to target, up. t's cleanup closes it.
func NewLink(t testing.TB, target string) *Link {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("link to %q: %v", target, err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // a cut edge is expected
	l := &Link{}
	l.up.Store(true)
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.up.Load() {
			panic(http.ErrAbortHandler)
		}
		rp.ServeHTTP(w, r)
	}))
	l.URL = l.srv.URL
	t.Cleanup(l.srv.Close)
	return l
}

// Cut drops every connection through the link from now on.
func (l *Link) Cut() {
	l.up.Store(false)
	l.srv.CloseClientConnections()
}

// Heal lets connections through again.
func (l *Link) Heal() { l.up.Store(true) }
