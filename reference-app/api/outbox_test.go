package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startNATS runs an embedded NATS server with JetStream on 127.0.0.1:port
// (-1: any free port) storing in dir; the test's cleanup shuts it down.
func startNATS(t *testing.T, port int, dir string) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats server on port %d not ready after 10s", port)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// stream connects to ns and returns its NOTIFICATIONS stream, created as
// the queue role creates it when create is set.
func stream(t *testing.T, ns *server.Server, create bool) jetstream.Stream {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var s jetstream.Stream
	if create {
		s, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name: "NOTIFICATIONS", Subjects: []string{"notifications.>"},
			Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute,
		})
	} else {
		s, err = js.Stream(ctx, "NOTIFICATIONS")
	}
	if err != nil {
		t.Fatalf("stream NOTIFICATIONS: %v", err)
	}
	return s
}

// events returns the events in the stream, in order, with their
// Nats-Msg-Id.
func events(t *testing.T, s jetstream.Stream) (ids []string, evs []Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		var e Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		if m.Subject != SubjectPost {
			t.Errorf("stream message %d on %s; want %s", seq, m.Subject, SubjectPost)
		}
		ids, evs = append(ids, m.Header.Get(jetstream.MsgIDHeader)), append(evs, e)
	}
	return ids, evs
}

// TestOutboxRelayPublishesOnceTheQueueIsBack: a post made while the queue
// is down keeps its event in the outbox; the relay publishes it once the
// broker is back (restarted on the same port and store), and a republished
// event is dropped by the broker as a duplicate.
func TestOutboxRelayPublishesOnceTheQueueIsBack(t *testing.T) {
	dir := t.TempDir()
	ns := startNATS(t, -1, dir)
	port := ns.Addr().(*net.TCPAddr).Port
	stream(t, ns, true)
	pub, err := DialNATS(ns.ClientURL(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	f := newFixture(t, setup{queue: pub, opts: []Option{WithRelay(20*time.Millisecond, 0), WithPublishTimeout(200 * time.Millisecond), WithBreaker(3, 50*time.Millisecond)}})
	ctx, cancel := context.WithCancel(context.Background())
	var relay sync.WaitGroup
	relay.Go(func() { _ = f.api.RunRelay(ctx) })
	t.Cleanup(func() { cancel(); relay.Wait() })
	pending := func() float64 { return metric(t, f.reg, "refapp_api_outbox_pending", nil) }

	_, token := f.user("alice")
	first := f.post(token, "while the queue is up")
	if keys := f.store.Keys(bucketOutbox); len(keys) != 0 {
		t.Errorf("outbox after a post with the queue up = %v; want empty (published and deleted)", keys)
	}
	ids, evs := events(t, stream(t, ns, false))
	if len(ids) != 1 || ids[0] != "post:"+first.ID || evs[0].PostID != first.ID || evs[0].EventID != ids[0] || evs[0].Title != first.Text || evs[0].UserID != first.UserID {
		t.Fatalf("stream after one post = %q %+v; want one event post:%s", ids, evs, first.ID)
	}

	ns.Shutdown()
	ns.WaitForShutdown()
	second := f.post(token, "while the queue is down")
	if _, ok := f.store.Value(bucketOutbox, EventID(second.ID)); !ok {
		t.Fatalf("outbox after a post with the queue down = %v; want post:%s", f.store.Keys(bucketOutbox), second.ID)
	}
	waitFor(t, "refapp_api_outbox_pending = 1", func() bool { return pending() == 1 })

	ns = startNATS(t, port, dir)
	waitFor(t, "the relay to empty the outbox", func() bool { return len(f.store.Keys(bucketOutbox)) == 0 })
	waitFor(t, "refapp_api_outbox_pending = 0", func() bool { return pending() == 0 })
	s := stream(t, ns, false)
	ids, _ = events(t, s)
	if want := []string{"post:" + first.ID, "post:" + second.ID}; len(ids) != 2 || ids[0] != want[0] || ids[1] != want[1] {
		t.Errorf("stream after the restart = %q; want %q", ids, want)
	}

	// A record whose deletion was lost is published again: the broker
	// drops it as a duplicate.
	p, _ := f.storedPost(first.ID)
	if _, err := f.api.store.Write(context.Background(), []Op{put(bucketOutbox, EventID(first.ID), eventOf(p))}); err != nil {
		t.Fatal(err)
	}
	if err := f.api.RelayOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if keys := f.store.Keys(bucketOutbox); len(keys) != 0 {
		t.Errorf("outbox after relaying a repeat = %v; want empty", keys)
	}
	if ids, _ := events(t, s); len(ids) != 2 {
		t.Errorf("stream after a republished event = %q; want still 2 events", ids)
	}
}

// recorder is a Publisher that records what it is given, or fails.
type recorder struct {
	mu   sync.Mutex // guards ids and fail
	ids  []string
	fail bool
}

func (r *recorder) Publish(_ context.Context, subject, msgID string, _ []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return ErrUnavailable
	}
	r.ids = append(r.ids, msgID)
	return nil
}

func (r *recorder) published() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

// TestRelayLeavesYoungRecords: the relay republishes only records older
// than its age; younger ones are their request's to publish.
func TestRelayLeavesYoungRecords(t *testing.T) {
	var offset time.Duration
	var mu sync.Mutex // guards offset
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	q := &recorder{fail: true}
	f := newFixture(t, setup{queue: q, opts: []Option{WithClock(clock), WithRelay(time.Hour, 5*time.Second)}})
	_, token := f.user("alice")
	p := f.post(token, "queue refuses")
	if len(f.store.Keys(bucketOutbox)) != 1 {
		t.Fatalf("outbox = %v; want the event", f.store.Keys(bucketOutbox))
	}
	q.mu.Lock()
	q.fail = false
	q.mu.Unlock()
	if err := f.api.RelayOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := q.published(); len(got) != 0 || metric(t, f.reg, "refapp_api_outbox_pending", nil) != 1 {
		t.Errorf("relay of a 0s-old record (age 5s) published %q, pending %v; want nothing, 1", got, metric(t, f.reg, "refapp_api_outbox_pending", nil))
	}
	mu.Lock()
	offset = 6 * time.Second
	mu.Unlock()
	if err := f.api.RelayOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := q.published(); len(got) != 1 || got[0] != EventID(p.ID) || len(f.store.Keys(bucketOutbox)) != 0 {
		t.Errorf("relay of a 6s-old record published %q, outbox %v; want [post:%s], empty", got, f.store.Keys(bucketOutbox), p.ID)
	}
	if got := metric(t, f.reg, "refapp_api_outbox_pending", nil); got != 0 {
		t.Errorf("refapp_api_outbox_pending = %v; want 0", got)
	}
}

func TestNoQueueNoOutbox(t *testing.T) {
	f := newFixture(t, setup{})
	_, token := f.user("alice")
	f.post(token, "no queue configured")
	if keys := f.store.Keys(bucketOutbox); len(keys) != 0 {
		t.Errorf("outbox without a queue = %v; want nothing", keys)
	}
	if err := f.api.RunRelay(context.Background()); err != nil {
		t.Errorf("RunRelay without a queue = %v; want nil at once", err)
	}
}
