package queue

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// startBroker starts a broker on 127.0.0.1:0 over dir and stops it when
// the test ends.
func startBroker(t *testing.T, dir string, opts ...Option) (*Broker, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	b, err := Start(context.Background(), "127.0.0.1:0", dir, append([]Option{WithRegisterer(reg)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b, reg
}

// connect connects a client to url, closed when the test ends.
func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := Connect(url, "test", discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func streamState(t *testing.T, nc *nats.Conn) jetstream.StreamState {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatalf("stream %s: %v", StreamName, err)
	}
	return s.CachedInfo().State
}

func TestStartCreatesTheStreamAndKeepsItAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	b, _ := startBroker(t, dir)
	addr := b.Addr().(*net.TCPAddr)
	if !addr.IP.IsLoopback() || addr.Port == 0 || addr.Port == 4222 {
		t.Errorf("Addr() = %v; want 127.0.0.1 and a port picked for :0", addr)
	}
	if err := b.Ready(context.Background()); err != nil {
		t.Errorf("Ready() = %v; want nil", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := b.js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if strings.Join(cfg.Subjects, ",") != StreamSubjects || cfg.Storage != jetstream.FileStorage || cfg.Duplicates != 10*time.Minute {
		t.Errorf("stream config subjects %v storage %v duplicates %v; want [%s] file 10m", cfg.Subjects, cfg.Storage, cfg.Duplicates, StreamSubjects)
	}

	nc := connect(t, b.ClientURL())
	p, err := NewPublisher(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"post:1", "post:2", "post:3"} {
		if err := p.Publish(ctx, Event{EventID: id, UserID: "u", PostID: id[5:], Title: "t", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	nc.Close()
	b.Close()

	b2, _ := startBroker(t, dir) // same data dir: the stream and its messages are back
	if got := streamState(t, connect(t, b2.ClientURL())).Msgs; got != 3 {
		t.Errorf("stream messages after a restart = %d; want 3", got)
	}
	// Within the duplicate window, the restarted broker still drops a
	// re-publish of an event it stored before.
	p2, err := NewPublisher(connect(t, b2.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.Publish(ctx, Event{EventID: "post:2"}); err != nil {
		t.Fatal(err)
	}
	if got := streamState(t, connect(t, b2.ClientURL())).Msgs; got != 3 {
		t.Errorf("stream messages after re-publishing post:2 = %d; want 3", got)
	}
}

func TestPublishIsIdempotentByEventID(t *testing.T) {
	b, _ := startBroker(t, t.TempDir())
	nc := connect(t, b.ClientURL())
	p, err := NewPublisher(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"post:a", "post:b", "post:a", "post:a", "post:c", "post:b"} {
		if err := p.Publish(ctx, Event{EventID: id, Title: "x"}); err != nil {
			t.Errorf("Publish(%s) = %v; want nil (a duplicate is no error)", id, err)
		}
	}
	if got := streamState(t, nc).Msgs; got != 3 {
		t.Errorf("stream messages = %d after publishing 3 distinct event ids; want 3", got)
	}
	if err := p.Publish(ctx, Event{Title: "no id"}); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("Publish of an event without id = %v; want ErrInvalidEvent", err)
	}

	// The message carries the contract: subject, Nats-Msg-Id, JSON body.
	js, _ := jetstream.New(nc)
	s, err := js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(msg.Data, &got); err != nil {
		t.Fatal(err)
	}
	if msg.Subject != SubjectPost || msg.Header.Get("Nats-Msg-Id") != "post:a" || got["eventId"] != "post:a" {
		t.Errorf("stored message %s %v %v; want subject %s, Nats-Msg-Id post:a, eventId post:a", msg.Subject, msg.Header, got, SubjectPost)
	}
	for _, field := range []string{"eventId", "userId", "postId", "title", "createdAt"} {
		if _, ok := got[field]; !ok {
			t.Errorf("event JSON %v lacks %q", got, field)
		}
	}
}

func TestPublishFailsFastWhileDisconnected(t *testing.T) {
	b, _ := startBroker(t, t.TempDir())
	nc := connect(t, b.ClientURL())
	p, err := NewPublisher(nc)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	waitFor(t, "the client to notice the broker is gone", func() bool { return !nc.IsConnected() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Publish(ctx, Event{EventID: "post:1"}); err == nil {
		t.Errorf("Publish with the broker down = nil; want an error")
	}
	if ctx.Err() != nil {
		t.Errorf("Publish with the broker down waited for its context; want it to fail without buffering")
	}
}

func TestMetrics(t *testing.T) {
	b, reg := startBroker(t, t.TempDir())
	nc := connect(t, b.ClientURL())
	p, _ := NewPublisher(nc)
	ctx := context.Background()
	for _, id := range []string{"post:1", "post:2", "post:3"} {
		if err := p.Publish(ctx, Event{EventID: id}); err != nil {
			t.Fatal(err)
		}
	}
	js, _ := jetstream.New(nc)
	cons, err := js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{Durable: "c1", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second)) // delivered, not acked
	if err != nil {
		t.Fatal(err)
	}
	for range batch.Messages() {
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP refapp_queue_consumer_ack_pending Messages delivered to a consumer and awaiting its ack.
# TYPE refapp_queue_consumer_ack_pending gauge
refapp_queue_consumer_ack_pending{consumer="c1"} 1
# HELP refapp_queue_consumer_pending Messages of the stream a consumer has not acknowledged yet: not yet delivered, or delivered and awaiting the ack.
# TYPE refapp_queue_consumer_pending gauge
refapp_queue_consumer_pending{consumer="c1"} 3
# HELP refapp_queue_stream_messages Messages held in the NOTIFICATIONS stream.
# TYPE refapp_queue_stream_messages gauge
refapp_queue_stream_messages 3
`), "refapp_queue_stream_messages", "refapp_queue_consumer_pending", "refapp_queue_consumer_ack_pending"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "refapp_queue_stream_bytes"); err != nil || n != 1 {
		t.Errorf("refapp_queue_stream_bytes series = %d, %v; want 1", n, err)
	}
}

// TestClientBehindProxyStaysThere connects through a TCP forwarder, as
// gameday does with Toxiproxy: the server's INFO advertises no other
// address, and the client knows only the forwarder's.
func TestClientBehindProxyStaysThere(t *testing.T) {
	b, _ := startBroker(t, t.TempDir())

	conn, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	info, ok := strings.CutPrefix(strings.TrimSpace(line), "INFO ")
	var fields map[string]any
	if !ok || json.Unmarshal([]byte(info), &fields) != nil {
		t.Fatalf("first line from the broker = %q; want INFO {json}", line)
	}
	if urls, ok := fields["connect_urls"]; ok {
		t.Errorf("INFO advertises connect_urls %v; want none", urls)
	}
	if fields["jetstream"] != true {
		t.Errorf("INFO jetstream = %v; want true", fields["jetstream"])
	}

	proxy := forward(t, b.Addr().String())
	nc := connect(t, "nats://"+proxy)
	waitFor(t, "connected through the forwarder", nc.IsConnected)
	if got := nc.Servers(); len(got) != 1 || got[0] != "nats://"+proxy {
		t.Errorf("client's server pool = %v; want only nats://%s", got, proxy)
	}
	if got := nc.DiscoveredServers(); len(got) != 0 {
		t.Errorf("client discovered servers %v; want none", got)
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b, err := Start(context.Background(), ln.Addr().String(), t.TempDir())
	if err == nil {
		b.Close()
		t.Fatalf("Start on a busy port = nil error; want one")
	}
	if !strings.Contains(err.Error(), "listen") {
		t.Errorf("Start on a busy port = %v; want an error about listening", err)
	}
	for _, bad := range []string{"nohost", "127.0.0.1:http", "127.0.0.1:70000"} {
		if b, err := Start(context.Background(), bad, t.TempDir()); err == nil {
			b.Close()
			t.Errorf("Start(%q) = nil error; want one", bad)
		}
	}
}

func TestConnectRefusesBadURLs(t *testing.T) {
	for _, bad := range []string{"127.0.0.1:4222", "http://127.0.0.1:4222", "nats://127.0.0.1", "nats://:4222/x"} {
		if nc, err := Connect(bad, "t", discard); err == nil {
			nc.Close()
			t.Errorf("Connect(%q) = nil error; want one", bad)
		}
	}
}

func TestReconnectDelayIsBounded(t *testing.T) {
	for _, tt := range []struct {
		attempts int
		lo, hi   time.Duration
	}{
		{1, 100 * time.Millisecond, 125 * time.Millisecond},
		{2, 200 * time.Millisecond, 250 * time.Millisecond},
		{5, 1600 * time.Millisecond, 2000 * time.Millisecond},
		{6, 2 * time.Second, 2500 * time.Millisecond},
		{1000, 2 * time.Second, 2500 * time.Millisecond},
	} {
		for range 20 {
			if d := ReconnectDelay(tt.attempts); d < tt.lo || d > tt.hi {
				t.Errorf("ReconnectDelay(%d) = %v; want in [%v, %v]", tt.attempts, d, tt.lo, tt.hi)
			}
		}
	}
}

// forward accepts on 127.0.0.1:0 and pipes every connection to target,
// until the test ends; it returns its address.
func forward(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			wg.Go(func() { io.Copy(out, in); out.Close() })
			wg.Go(func() { io.Copy(in, out); in.Close() })
		}
	})
	return ln.Addr().String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 15s for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

var discard = slog.New(slog.DiscardHandler)
