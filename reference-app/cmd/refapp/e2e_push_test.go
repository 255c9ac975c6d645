package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gameday/gameday/reference-app/pushmock"
	"github.com/gameday/gameday/reference-app/queue"
)

// logAttr waits until p has logged a line with message msg and returns
// that line's attribute key.
func logAttr(t *testing.T, p *proc, msg, key string) string {
	t.Helper()
	var val string
	waitFor(t, fmt.Sprintf("%s to log %q", p.name, msg), func() bool {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
				val, _ = rec[key].(string)
				return true
			}
		}
		return false
	})
	return val
}

// waitWithin polls cond until it holds, failing the test after d.
func waitWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

// ready reports whether the process at addr answers /readyz with 200.
func ready(addr string) bool {
	resp, err := client.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// deliveries reads the push mock's counts; zero when it cannot.
func deliveries(addr string) pushmock.Deliveries {
	var d pushmock.Deliveries
	resp, err := client.Get("http://" + addr + pushmock.DeliveriesPath)
	if err != nil {
		return d
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&d)
	return d
}

// TestEndToEndPushWorkerKilled runs queue, pushmock and worker processes,
// publishes notification events (some twice), SIGKILLs the worker while
// it delivers, publishes more while it is dead, and starts a new worker
// on the same data dir: every event reaches the provider, and at most the
// one delivery in flight at the kill reaches it twice (with the same
// Idempotency-Key, so the provider sees the duplicate).
func TestEndToEndPushWorkerKilled(t *testing.T) {
	const n = 200
	q := startProc(t, "queue", "--role=queue", "--instance=queue", "--nats-listen=127.0.0.1:0", "--data-dir="+t.TempDir())
	natsAddr := logAttr(t, q, "nats listening", "addr")
	mock := startProc(t, "pushmock", "--role=pushmock", "--instance=pushmock")
	workerArgs := []string{"--role=worker", "--nats=nats://" + natsAddr, "--push-url=http://" + mock.addr,
		"--data-dir=" + t.TempDir(), "--ack-wait=1s"}
	w1 := startProc(t, "worker-1", append(workerArgs, "--instance=worker-1")...)
	waitFor(t, "queue and worker ready", func() bool { return ready(q.addr) && ready(w1.addr) })

	nc, err := queue.Connect("nats://"+natsAddr, "e2e", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pub, err := queue.NewPublisher(nc)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			id := fmt.Sprint(i)
			err := pub.Publish(ctx, queue.Event{EventID: queue.PostEventID(id), UserID: "u", PostID: id, Title: "post " + id, CreatedAt: time.Now()})
			cancel()
			if err != nil {
				t.Fatalf("publish post:%d: %v", i, err)
			}
		}
	}

	publish(0, n/2)
	publish(0, n/10) // duplicate publishes: the broker drops them
	waitFor(t, "the first worker to deliver 20 events", func() bool { return deliveries(mock.addr).Total >= 20 })
	if err := w1.stop(t, syscall.SIGKILL); err == nil {
		t.Errorf("worker-1 after SIGKILL exited cleanly; want killed")
	}
	atKill := deliveries(mock.addr).Total
	publish(n/2, n)
	publish(n/2, n/2+n/10)

	w2 := startProc(t, "worker-2", append(workerArgs, "--instance=worker-2")...)
	pending := `refapp_queue_consumer_pending{consumer="push-worker"}`
	waitWithin(t, 30*time.Second, fmt.Sprintf("%d unique deliveries and nothing pending", n), func() bool {
		return deliveries(mock.addr).Unique >= n && metricValue(t, q.addr, pending) == "0"
	})
	d := deliveries(mock.addr)
	for i := range n {
		if c := d.ByEvent[queue.PostEventID(fmt.Sprint(i))]; c < 1 || c > 2 {
			t.Errorf("post:%d delivered %d times; want 1 (2 only for the delivery in flight at the kill)", i, c)
		}
	}
	if d.Unique != n || d.Total-d.Unique > 1 {
		t.Errorf("deliveries total %d unique %d; want unique %d and at most 1 duplicate", d.Total, d.Unique, n)
	}
	if got := metricValue(t, mock.addr, "refapp_push_duplicates_total"); got != fmt.Sprint(d.Total-d.Unique) {
		t.Errorf("refapp_push_duplicates_total = %s; want %d", got, d.Total-d.Unique)
	}
	if got := metricValue(t, q.addr, "refapp_queue_stream_messages"); got != fmt.Sprint(n) {
		t.Errorf("refapp_queue_stream_messages = %s; want %d (duplicate publishes dropped)", got, n)
	}
	t.Logf("delivered before the kill %d of %d; after the restart: total %d, unique %d, worker-2 delivered %s, duplicates %s",
		atKill, n/2, d.Total, d.Unique,
		metricValue(t, w2.addr, `refapp_worker_deliveries_total{result="delivered"}`),
		metricValue(t, w2.addr, `refapp_worker_deliveries_total{result="duplicate"}`))

	for _, p := range []*proc{w2, mock, q} {
		if err := p.stop(t, syscall.SIGTERM); err != nil {
			t.Errorf("%s after SIGTERM: %v; want exit 0", p.name, err)
		}
	}
	for _, p := range []*proc{q, mock, w1, w2} {
		if out := p.stdout.String(); out != "" {
			t.Errorf("%s printed %q on stdout; want nothing", p.name, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
			if line != "" && !json.Valid([]byte(line)) {
				t.Errorf("%s wrote a non-JSON stderr line %q", p.name, line)
			}
		}
	}
}

// TestEndToEndCache checks the cache process's wire contract and metrics.
func TestEndToEndCache(t *testing.T) {
	c := startProc(t, "cache", "--role=cache", "--instance=cache", "--capacity=2", "--max-value-bytes=8")
	base := "http://" + c.addr + "/v1/cache/"
	do := func(method, key, body string, h map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+key, strings.NewReader(body))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, key, err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tt := range []struct {
		method, key, body string
		h                 map[string]string
		want              int
	}{
		{"GET", "a", "", nil, 404},
		{"PUT", "a", "12345678", map[string]string{"X-Cache-TTL": "30s"}, 204},
		{"PUT", "b", "123456789", nil, 413},
		{"PUT", "b", "b", map[string]string{"X-Cache-TTL": "soon"}, 400},
		{"PUT", "b", "b", nil, 204},
		{"GET", "a", "", nil, 200},
		{"PUT", "c", "c", nil, 204}, // evicts b, the least recently used
		{"GET", "b", "", nil, 404},
		{"DELETE", "a", "", nil, 204},
		{"GET", "a", "", nil, 404},
	} {
		resp := do(tt.method, tt.key, tt.body, tt.h) //nolint:bodyclose // do closes the body before it returns
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d; want %d", tt.method, tt.key, resp.StatusCode, tt.want)
		}
		if resp.StatusCode == 200 && resp.Header.Get("X-Cache-Age") != "0" {
			t.Errorf("%s %s X-Cache-Age = %q; want \"0\"", tt.method, tt.key, resp.Header.Get("X-Cache-Age"))
		}
		if got := resp.Header.Get("X-Refapp-Instance"); got != "cache" {
			t.Errorf("%s %s X-Refapp-Instance = %q; want cache", tt.method, tt.key, got)
		}
	}
	for series, want := range map[string]string{
		"refapp_cache_evictions_total":                                                             "1",
		"refapp_cache_items":                                                                       "1",
		`refapp_cache_requests_total{op="get",result="hit"}`:                                       "1",
		`refapp_cache_requests_total{op="get",result="miss"}`:                                      "3",
		`refapp_cache_requests_total{op="put",result="rejected"}`:                                  "2",
		`refapp_cache_requests_total{op="put",result="stored"}`:                                    "3",
		`refapp_cache_requests_total{op="delete",result="deleted"}`:                                "1",
		`refapp_http_requests_total{code="413",method="PUT",role="cache",route="/v1/cache/{key}"}`: "1",
	} {
		if got := metricValue(t, c.addr, series); got != want {
			t.Errorf("%s = %s; want %s", series, got, want)
		}
	}
	if err := c.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("cache after SIGTERM: %v; want exit 0", err)
	}
}
