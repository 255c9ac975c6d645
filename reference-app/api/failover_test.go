package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gameday/gameday/reference-app/api/apitest"
)

// TestFailoverToTheSentinelsNewPrimary: a write refused by the old primary
// ("not primary") makes the api ask the sentinel at once and send the write
// to the new primary with the new epoch, within the same request.
func TestFailoverToTheSentinelsNewPrimary(t *testing.T) {
	sentinel := apitest.NewSentinel(t)
	// Polling once an hour: only the first question and the ones a refusal
	// triggers happen during the test.
	src := NewSentinel(sentinel.URL(), WithPollInterval(time.Hour))
	if err := src.Ready(context.Background()); err == nil {
		t.Errorf("Sentinel.Ready before any answer = nil; want an error")
	}
	f := newFixture(t, setup{src: src})
	a, b := f.store, apitest.NewStore(t)
	sentinel.SetPrimary("a", a.URL(), 1)
	src.Refresh(context.Background())
	if err := src.Ready(context.Background()); err != nil {
		t.Fatalf("Sentinel.Ready after the sentinel named a = %v; want nil", err)
	}
	_, token := f.user("alice")
	before := f.post(token, "to a")
	if got := a.FencingEpochs(); !slices.Equal(got, []string{"1", "1"}) {
		t.Errorf("X-Fencing-Epoch of writes to a = %q; want 1 for the signup and the post", got)
	}

	b.SetPrimary(2)
	a.SetReplica(b.URL())
	sentinel.SetPrimary("b", b.URL(), 2)
	asked := sentinel.Asked()
	p := f.post(token, "to b")
	if _, ok := b.Value(bucketPosts, p.ID); !ok {
		t.Errorf("post after the failover is not on the new primary b")
	}
	if _, ok := a.Value(bucketPosts, p.ID); ok {
		t.Errorf("post after the failover is on the old primary a")
	}
	if got := b.FencingEpochs(); !slices.Equal(got, []string{"2"}) {
		t.Errorf("X-Fencing-Epoch of writes to b = %q; want [2]", got)
	}
	if sentinel.Asked() <= asked {
		t.Errorf("sentinel asked %d times before and after the refused write; want a question after it", asked)
	}
	if _, ok := a.Value(bucketPosts, before.ID); !ok {
		t.Errorf("the post written before the failover is gone from a")
	}
}

// TestFencedWriteRetriedWithTheNewEpoch: a 409 (the api's epoch is stale)
// makes it ask the sentinel and retry with the new epoch; while the
// sentinel still names the old epoch the write is a 503.
func TestFencedWriteRetriedWithTheNewEpoch(t *testing.T) {
	sentinel := apitest.NewSentinel(t)
	src := NewSentinel(sentinel.URL(), WithPollInterval(time.Hour))
	f := newFixture(t, setup{src: src})
	sentinel.SetPrimary("a", f.store.URL(), 1)
	src.Refresh(context.Background())
	_, token := f.user("alice")

	f.store.SetPrimary(3) // promoted again; the sentinel lags
	if a := f.do("POST", "/v1/posts", token, `{"text":"fenced"}`); a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("write with a stale epoch the sentinel confirms = %d, Retry-After %q; want 503 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
	if n := len(f.postIDs()); n != 0 {
		t.Fatalf("posts after a fenced write = %d; want 0", n)
	}
	sentinel.SetPrimary("a", f.store.URL(), 3)
	f.post(token, "with epoch 3")
	got := f.store.FencingEpochs()
	if last := got[len(got)-2:]; !slices.Equal(last, []string{"1", "3"}) {
		t.Errorf("X-Fencing-Epoch of the last two writes = %q; want the refused 1, then 3", last)
	}
}

// TestSentinelPolls: Run follows the sentinel's answers on its own, keeps
// the last primary while the sentinel knows none, and stops with ctx.
func TestSentinelPolls(t *testing.T) {
	sentinel := apitest.NewSentinel(t)
	src := NewSentinel(sentinel.URL(), WithPollInterval(5*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	waitFor(t, "the sentinel to be asked twice", func() bool { return sentinel.Asked() >= 2 })
	if _, ok := src.Primary(); ok {
		t.Errorf("Primary() known while the sentinel knows none")
	}
	sentinel.SetPrimary("a", "http://127.0.0.1:1", 4)
	waitFor(t, "the primary a at epoch 4", func() bool {
		p, ok := src.Primary()
		return ok && p == Primary{Name: "a", URL: "http://127.0.0.1:1", Epoch: 4}
	})
	sentinel.Stop()
	asked := sentinel.Asked()
	src.Refresh(context.Background())
	if p, ok := src.Primary(); !ok || p.Name != "a" || sentinel.Asked() != asked {
		t.Errorf("Primary() with the sentinel down = %+v, %v; want a, still known", p, ok)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Sentinel.Run after cancel = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Sentinel.Run still running 10s after its context was cancelled")
	}
}

func TestStoreClientErrors(t *testing.T) {
	ctx := context.Background()
	s := apitest.NewStore(t)
	c := NewStoreClient(FixedPrimary(s.URL()))
	if _, err := c.Get(ctx, "b", "missing"); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
		t.Errorf("Get(missing) = %v; want ErrNotFound", err)
	}
	if _, err := c.Write(ctx, []Op{{Op: "bogus", Bucket: "b", Key: "k"}}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("Write(bogus op) = %v; want an error that is not ErrUnavailable", err)
	}
	applied, err := c.Write(ctx, []Op{put("b", "k2", 2), put("b", "k1", 1), putIfAbsent("b", "k1", 9), put("b", "other", 0)})
	if err != nil || !slices.Equal(applied, []bool{true, true, false, true}) {
		t.Errorf("Write = %v, %v; want [true true false true]", applied, err)
	}
	items, err := c.List(ctx, "b", "k", 10, true)
	if err != nil || len(items) != 2 || items[0].Key != "k2" || string(items[1].Value) != "1" {
		t.Errorf("List(b, k, reverse) = %+v, %v; want k2, k1=1", items, err)
	}
	s.Stop()
	if _, err := c.Get(ctx, "b", "k1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get with the store down = %v; want ErrUnavailable", err)
	}
	s.Start()
	s.SetReplica("")
	if _, err := c.Write(ctx, []Op{put("b", "k", 1)}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Write to a replica = %v; want ErrUnavailable", err)
	}
}
