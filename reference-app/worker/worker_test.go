package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gameday/gameday/reference-app/pushmock"
	"github.com/gameday/gameday/reference-app/queue"
)

var discard = slog.New(slog.DiscardHandler)

// env is a real broker and a real mock push provider, in process, on
// 127.0.0.1:0.
type env struct {
	brokerDir string
	broker    *queue.Broker
	mock      *pushmock.Mock
	pushURL   string
	nc        *nats.Conn // the test's own connection: publishing, consumer info
	pub       *queue.Publisher
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{brokerDir: t.TempDir()}
	e.startBroker(t, "127.0.0.1:0")
	var err error
	if e.mock, err = pushmock.New(); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.mock.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.pushURL = srv.URL
	if e.nc, err = queue.Connect(e.broker.ClientURL(), "test", discard); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.nc.Close)
	if e.pub, err = queue.NewPublisher(e.nc); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) startBroker(t *testing.T, listen string) {
	t.Helper()
	b, err := queue.Start(context.Background(), listen, e.brokerDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	e.broker = b
}

// publish publishes the events post:from .. post:to-1.
func (e *env) publish(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		id := fmt.Sprint(i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := e.pub.Publish(ctx, queue.Event{EventID: queue.PostEventID(id), UserID: "u" + id, PostID: id, Title: "post " + id, CreatedAt: time.Now()})
		cancel()
		if err != nil {
			t.Errorf("publish post:%s: %v", id, err)
			return
		}
	}
}

// pending is the consumer's unacknowledged messages; -1 when unknown.
func (e *env) pending() int {
	js, err := jetstream.New(e.nc)
	if err != nil {
		return -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, queue.StreamName, ConsumerName)
	if err != nil {
		return -1
	}
	info := c.CachedInfo()
	return int(info.NumPending) + info.NumAckPending
}

// waitDrained waits until the mock has unique deliveries and the
// consumer has nothing left to ack.
func (e *env) waitDrained(t *testing.T, unique int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d unique deliveries and nothing pending", unique), func() bool {
		return e.mock.Deliveries().Unique >= unique && e.pending() == 0
	})
}

// wantExactlyOnce fails unless the mock got each of post:0 .. post:n-1
// exactly once and nothing else.
func (e *env) wantExactlyOnce(t *testing.T, n int) {
	t.Helper()
	d := e.mock.Deliveries()
	if d.Total != n || d.Unique != n || len(d.ByEvent) != n {
		t.Errorf("deliveries total %d unique %d events %d; want %d each", d.Total, d.Unique, len(d.ByEvent), n)
	}
	for i := range n {
		if got := d.ByEvent[queue.PostEventID(fmt.Sprint(i))]; got != 1 {
			t.Errorf("post:%d delivered %d times; want 1", i, got)
		}
	}
}

// running is a Worker in its own goroutine.
type running struct {
	w      *Worker
	reg    *prometheus.Registry
	ledger *BoltLedger
	cancel context.CancelFunc
	done   chan error
}

// startWorker runs a worker with its ledger in dir until stopped or the
// test ends.
func (e *env) startWorker(t *testing.T, dir string, opts ...Option) *running {
	t.Helper()
	led, err := OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := queue.Connect(e.broker.ClientURL(), "worker", discard)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{reg: prometheus.NewRegistry(), ledger: led, done: make(chan error, 1)}
	r.w, err = New(nc, led, e.pushURL, append([]Option{WithRegisterer(r.reg), WithLogger(discard)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = func() { cancel() }
	go func() {
		r.done <- r.w.Run(ctx)
		nc.Close()
		led.Close()
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the worker and waits for Run to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel = %v; want context.Canceled", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run still running 15s after its context was cancelled")
	}
}

func (r *running) count(result string) float64 {
	return testutil.ToFloat64(r.w.metrics.deliveries.WithLabelValues(result))
}

func TestDeliversEachEventExactlyOnce(t *testing.T) {
	const n = 40
	e := newEnv(t)
	e.publish(t, 0, n)
	e.publish(t, 0, 10) // duplicate publishes: the broker drops them
	// Three copies the broker cannot recognise (no Nats-Msg-Id): the
	// worker's ledger must.
	for i := range 3 {
		body := fmt.Sprintf(`{"eventId":"post:%d","userId":"u","title":"again"}`, i)
		if _, err := e.nc.Request(queue.SubjectPost, []byte(body), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	r := e.startWorker(t, t.TempDir())
	e.waitDrained(t, n)
	e.wantExactlyOnce(t, n)
	if got := r.count(resultDelivered); got != n {
		t.Errorf("deliveries_total{result=delivered} = %v; want %d", got, n)
	}
	waitFor(t, "3 duplicates counted", func() bool { return r.count(resultDuplicate) == 3 })
	if got, err := r.ledger.Len(); err != nil || got != n {
		t.Errorf("ledger Len() = %d, %v; want %d", got, err, n)
	}
	if err := r.w.Ready(context.Background()); err != nil {
		t.Errorf("Ready() while consuming = %v; want nil", err)
	}
	if n, _ := testutil.GatherAndCount(r.reg, "refapp_worker_delivery_duration_seconds"); n != 1 {
		t.Errorf("refapp_worker_delivery_duration_seconds series = %d; want 1", n)
	}
}

// TestBacklogDrainsAfterRestart stops the worker while events are being
// published, publishes more while it is down, and starts a new worker on
// the same data dir: every event is delivered exactly once.
func TestBacklogDrainsAfterRestart(t *testing.T) {
	const n = 60
	e := newEnv(t)
	dir := t.TempDir()
	// A pull request of the stopped worker may still take a message; the
	// broker redelivers it after the ack wait.
	fast := []Option{WithAckWait(time.Second), WithPushTimeout(500 * time.Millisecond)}
	r1 := e.startWorker(t, dir, fast...)

	published := make(chan struct{})
	go func() { defer close(published); e.publish(t, 0, n/2) }()
	waitFor(t, "the first worker to deliver 5 events", func() bool { return e.mock.Deliveries().Total >= 5 })
	r1.stop(t)
	<-published
	e.publish(t, n/2, n)
	// The consumer's count follows the stream's a moment later.
	waitFor(t, "a backlog of the events published with the worker down", func() bool { return e.pending() >= n/2 })

	r2 := e.startWorker(t, dir, fast...)
	e.waitDrained(t, n)
	e.wantExactlyOnce(t, n)
	if got := r1.count(resultDelivered) + r2.count(resultDelivered); got != n {
		t.Errorf("delivered by both workers = %v; want %d", got, n)
	}
}

// TestLostAckIsDeduplicated loses the ack of the first delivery: the
// broker redelivers after the ack wait, and the worker recognises the
// event from its ledger instead of pushing it again.
func TestLostAckIsDeduplicated(t *testing.T) {
	e := newEnv(t)
	var lost atomic.Bool
	loseFirst := func(o *options) {
		o.ack = func(m jetstream.Msg) error {
			if lost.CompareAndSwap(false, true) {
				return nil // the ack never leaves
			}
			return m.Ack()
		}
	}
	r := e.startWorker(t, t.TempDir(), WithAckWait(300*time.Millisecond), WithPushTimeout(200*time.Millisecond), loseFirst)
	e.publish(t, 0, 1)
	waitFor(t, "the redelivery counted as a duplicate", func() bool { return r.count(resultDuplicate) == 1 })
	e.waitDrained(t, 1)
	e.wantExactlyOnce(t, 1)
	if got := r.count(resultDelivered); got != 1 {
		t.Errorf("deliveries_total{result=delivered} = %v; want 1", got)
	}
}

func TestRetriesFailedPushes(t *testing.T) {
	e := newEnv(t)
	// The provider fails each event's first two pushes.
	var mu sync.Mutex
	tries := map[string]int{}
	mux := http.NewServeMux()
	e.mock.Register(mux)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(IdempotencyHeader)
		mu.Lock()
		tries[key]++
		n := tries[key]
		mu.Unlock()
		if n <= 2 {
			http.Error(w, `{"error":"overloaded"}`, http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	defer flaky.Close()
	e.pushURL = flaky.URL
	r := e.startWorker(t, t.TempDir(), WithRetryDelay(5*time.Millisecond, 20*time.Millisecond))
	e.publish(t, 0, 3)
	e.waitDrained(t, 3)
	e.wantExactlyOnce(t, 3)
	if got := r.count(resultFailed); got != 6 {
		t.Errorf("deliveries_total{result=failed} = %v; want 6", got)
	}
}

func TestDropsWhatCanNeverBeDelivered(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	e.mock.Register(mux)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(IdempotencyHeader) == "post:1" {
			http.Error(w, `{"error":"unknown device"}`, http.StatusUnprocessableEntity)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	defer refusing.Close()
	e.pushURL = refusing.URL
	if _, err := e.nc.Request(queue.SubjectPost, []byte("not json"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	r := e.startWorker(t, t.TempDir())
	e.publish(t, 0, 2)
	waitFor(t, "nothing pending", func() bool { return e.pending() == 0 && r.count(resultDropped) == 2 })
	if d := e.mock.Deliveries(); d.Total != 1 || d.ByEvent["post:0"] != 1 {
		t.Errorf("deliveries = %+v; want post:0 once", d)
	}
	if got := r.count(resultDelivered); got != 1 {
		t.Errorf("deliveries_total{result=delivered} = %v; want 1", got)
	}
}

// TestReconnectsWhenTheBrokerComesBack stops the broker under a running
// worker and starts it again on the same address and data dir.
func TestReconnectsWhenTheBrokerComesBack(t *testing.T) {
	e := newEnv(t)
	r := e.startWorker(t, t.TempDir())
	e.publish(t, 0, 5)
	e.waitDrained(t, 5)

	addr := e.broker.Addr().String()
	e.broker.Close()
	waitFor(t, "the worker to see the broker gone", func() bool { return r.w.Ready(context.Background()) != nil })
	e.startBroker(t, addr)
	waitFor(t, "the worker ready again", func() bool { return r.w.Ready(context.Background()) == nil })
	waitFor(t, "the test's publisher reconnected", e.nc.IsConnected)
	e.publish(t, 5, 10)
	e.waitDrained(t, 10)
	e.wantExactlyOnce(t, 10)
}

func TestNewValidates(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		url  string
		opts []Option
		want string
	}{
		{"127.0.0.1:1", nil, "push URL"},
		{"http://127.0.0.1:1/x", nil, "push URL"},
		{"http://127.0.0.1:1", []Option{WithAckWait(0)}, "ack wait 0s"},
		{"http://127.0.0.1:1", []Option{WithAckWait(time.Second), WithPushTimeout(time.Second)}, "push timeout 1s"},
		{"http://127.0.0.1:1", []Option{WithBatch(0)}, "batch 0"},
		{"http://127.0.0.1:1", []Option{WithRetryDelay(time.Second, time.Millisecond)}, "retry delay"},
	} {
		if _, err := New(e.nc, nil, tt.url, tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q, ...) error = %v; want one mentioning %q", tt.url, err, tt.want)
		}
	}
}

func TestLedgerPersistsAndLocks(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record("post:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLedger(dir, WithLockTimeout(50*time.Millisecond)); err == nil {
		t.Errorf("second OpenLedger of an open ledger = nil error; want a lock timeout")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for id, want := range map[string]bool{"post:1": true, "post:2": false} {
		if got, err := l.Delivered(id); err != nil || got != want {
			t.Errorf("Delivered(%q) after reopening = %v, %v; want %v", id, got, err, want)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20s for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}
