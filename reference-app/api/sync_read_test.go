package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/reference-app/api/apitest"
)

// getSynced sends GET /v1/sync/{id} with token.
func (f *fixture) getSynced(token, id string) answer {
	f.t.Helper()
	return f.do("GET", "/v1/sync/"+id, token, "")
}

// wantPost checks that a is a 200 carrying the post want.
func wantPost(t *testing.T, what string, a answer, want Post) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("%s = %d %s; want 200", what, a.status, a.body)
	}
	var got Post
	a.decode(t, &got)
	if got.ID != want.ID || got.Text != want.Text || got.UserID != want.UserID {
		t.Errorf("%s = %+v; want %+v", what, got, want)
	}
}

// wantUnavailable checks that a is the api's dependency error: 503, a
// Retry-After and a JSON error, never a 404.
func wantUnavailable(t *testing.T, what string, a answer) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" || a.errorMessage() == "" {
		t.Errorf("%s = %d %s, Retry-After %q; want 503 with Retry-After and an error", what, a.status, a.body, a.header.Get("Retry-After"))
	}
}

func TestGetSync(t *testing.T) {
	f := newFixture(t, setup{})
	_, token := f.user("alice")
	probe := f.post(token, "probe p-1", IdempotencyKeyHeader, "p-1")
	a := f.do("POST", "/v1/sync", token, `{"deviceId":"phone","items":[{"clientId":"c-1","text":"offline"}]}`)
	var synced SyncResponse
	a.decode(t, &synced)
	if a.status != http.StatusOK || len(synced.Items) != 1 {
		t.Fatalf("POST /v1/sync = %d %s; want 200 with 1 item", a.status, a.body)
	}
	offline, _ := f.storedPost(synced.Items[0].ID)

	reads := len(f.store.ReadEpochs())
	wantPost(t, "GET /v1/sync/p-1 after POST /v1/posts with Idempotency-Key p-1", f.getSynced(token, "p-1"), probe)
	wantPost(t, "GET /v1/sync/c-1 after POST /v1/sync of c-1", f.getSynced(token, "c-1"), offline)
	for i, e := range f.store.ReadEpochs()[reads:] {
		if e != "0" {
			t.Errorf("store read %d of GET /v1/sync carried X-Fencing-Epoch %q; want 0 (a primary read at any epoch, FixedPrimary)", i, e)
		}
	}

	_, bob := f.user("bob")
	for _, tt := range []struct {
		name   string
		token  string
		id     string // path segment, escaped
		status int
	}{
		// An id nothing was stored under.
		{"unknown id", token, "p-2", http.StatusNotFound},
		// Ids are per user: bob has no p-1.
		{"another user's id", bob, "p-1", http.StatusNotFound},
		{"another user's sync id", bob, "c-1", http.StatusNotFound},
		// Authenticated like POST /v1/sync.
		{"no token", "", "p-1", http.StatusUnauthorized},
		// Validated like a sync item's clientId.
		{"id with a space", token, "p%201", http.StatusBadRequest},
		{"id too long", token, strings.Repeat("x", MaxIDLength+1), http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if a := f.getSynced(tt.token, tt.id); a.status != tt.status || a.errorMessage() == "" {
				t.Errorf("GET /v1/sync/%.20s = %d %s; want %d with an error", tt.id, a.status, a.body, tt.status)
			}
		})
	}
}

// TestGetSyncClaimWithoutPost: a claim whose post write failed is an item
// that never reached the store (its POST was not acknowledged): 404, until
// a retry of the POST stores it.
func TestGetSyncClaimWithoutPost(t *testing.T) {
	f := newFixture(t, setup{})
	_, token := f.user("alice")
	f.store.FailWrites(1, 1) // the claim passes, the post write fails
	if a := f.do("POST", "/v1/posts", token, `{"text":"half"}`, IdempotencyKeyHeader, "k-1"); a.status != http.StatusServiceUnavailable {
		t.Fatalf("POST with a failing post write = %d %s; want 503", a.status, a.body)
	}
	if a := f.getSynced(token, "k-1"); a.status != http.StatusNotFound {
		t.Errorf("GET /v1/sync/k-1 with the claim but not the post = %d %s; want 404", a.status, a.body)
	}
	p := f.post(token, "half", IdempotencyKeyHeader, "k-1")
	wantPost(t, "GET /v1/sync/k-1 after the retried POST", f.getSynced(token, "k-1"), p)
}

// TestGetSyncStoreDown: with the store unreachable the answer is 503, never
// a 404 and never a copy, though the cache and the last-good feed hold the
// post; also once the breaker is open.
func TestGetSyncStoreDown(t *testing.T) {
	f := newFixture(t, setup{cache: true})
	_, token := f.user("alice")
	p := f.post(token, "cached", IdempotencyKeyHeader, "p-1")
	if a := f.do("GET", "/v1/feed", "", ""); a.status != http.StatusOK || !strings.Contains(string(a.body), p.ID) {
		t.Fatalf("GET /v1/feed = %d %s; want 200 with post %s (now cached)", a.status, a.body, p.ID)
	}
	f.store.Stop()
	if a := f.do("GET", "/v1/feed", "", ""); a.status != http.StatusOK || !strings.Contains(string(a.body), p.ID) {
		t.Fatalf("GET /v1/feed with the store down = %d %s; want a stale 200 with post %s", a.status, a.body, p.ID)
	}
	for i := range 5 { // the breaker opens after 3 failures
		wantUnavailable(t, "GET /v1/sync/p-1 with the store down, try "+string(rune('1'+i)), f.getSynced(token, "p-1"))
	}
	if got := metric(t, f.reg, "refapp_api_breaker_state", map[string]string{"dependency": "store"}); got != 2 {
		t.Errorf("refapp_api_breaker_state{dependency=store} = %v; want 2 (open)", got)
	}
}

// TestGetSyncAfterFailover: a write that the old primary acknowledged and
// the failover discarded (it never reached the new primary) reads 404 from
// the new primary, even while the old one, deposed but unaware, still holds
// it and the api's last answer from the sentinel still names it. While the
// sentinel names a node that is not (or no longer) the primary at its
// epoch, the answer is 503.
func TestGetSyncAfterFailover(t *testing.T) {
	sentinel := apitest.NewSentinel(t)
	// Polling once an hour: the api learns a failover only by asking.
	src := NewSentinel(sentinel.URL(), WithPollInterval(time.Hour))
	f := newFixture(t, setup{src: src})
	a, b := f.store, apitest.NewStore(t)
	sentinel.SetPrimary("a", a.URL(), 1)
	src.Refresh(context.Background())
	userID, token := f.user("alice")
	p := f.post(token, "acknowledged by a", IdempotencyKeyHeader, "p-1")
	wantPost(t, "GET /v1/sync/p-1 from a", f.getSynced(token, "p-1"), p)

	// b is promoted without p-1; a does not know yet.
	b.SetPrimary(2)
	sentinel.SetPrimary("b", b.URL(), 2)
	if got, _ := src.Primary(); got.Name != "a" {
		t.Fatalf("the api's primary before the read = %+v; want still a", got)
	}
	if r := f.getSynced(token, "p-1"); r.status != http.StatusNotFound {
		t.Errorf("GET /v1/sync/p-1 after a failover that lost it = %d %s; want 404 from b (a's copy is stale)", r.status, r.body)
	}
	if _, ok := a.Value(bucketIdempotency, userID+"/p-1"); !ok {
		t.Errorf("a no longer holds the claim; want it kept (a read from a would be a stale 200)")
	}

	// The sentinel lags and names a, which now follows b.
	a.SetReplica(b.URL())
	sentinel.SetPrimary("a", a.URL(), 1)
	wantUnavailable(t, "GET /v1/sync/p-1 while the sentinel names a replica", f.getSynced(token, "p-1"))
	// The sentinel names b at an epoch b has left.
	b.SetPrimary(3)
	sentinel.SetPrimary("b", b.URL(), 2)
	wantUnavailable(t, "GET /v1/sync/p-1 while the sentinel names b at a past epoch", f.getSynced(token, "p-1"))
}
