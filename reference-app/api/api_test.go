package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/reference-app/store"
)

var testTime = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// newServer serves a fresh API over an empty in-memory store.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	New(store.NewMemory(), "api-test", WithClock(func() time.Time { return testTime })).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// do sends a request and decodes a JSON answer into out (when not nil).
func do(t *testing.T, method, url, body string, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode answer: %v", method, url, err)
		}
	}
	return resp
}

func TestCreateAndGet(t *testing.T) {
	srv := newServer(t)

	var created store.Post
	resp := do(t, "POST", srv.URL+"/v1/posts", `{"text":"hello"}`, &created)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/posts = %d; want 201", resp.StatusCode)
	}
	if !ValidID(created.ID) || created.Text != "hello" || created.Seq != 1 || !created.CreatedAt.Equal(testTime) {
		t.Errorf("POST /v1/posts = %+v; want a valid generated id, text hello, seq 1, createdAt %v", created, testTime)
	}
	if got, want := resp.Header.Get("Location"), "/v1/posts/"+created.ID; got != want {
		t.Errorf("POST /v1/posts Location = %q; want %q", got, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST /v1/posts Content-Type = %q; want application/json", ct)
	}

	var got store.Post
	if resp := do(t, "GET", srv.URL+"/v1/posts/"+created.ID, "", &got); resp.StatusCode != http.StatusOK || got != created {
		t.Errorf("GET /v1/posts/%s = %d %+v; want 200 %+v", created.ID, resp.StatusCode, got, created)
	}

	var e Error
	if resp := do(t, "GET", srv.URL+"/v1/posts/nope", "", &e); resp.StatusCode != http.StatusNotFound || e.Error == "" {
		t.Errorf("GET /v1/posts/nope = %d %+v; want 404 with an error message", resp.StatusCode, e)
	}

	var other store.Post
	do(t, "POST", srv.URL+"/v1/posts", `{"text":"hello"}`, &other)
	if other.ID == created.ID || other.Seq != 2 {
		t.Errorf("second POST /v1/posts without id = %+v; want a new id and seq 2", other)
	}
}

func TestCreateIsIdempotentByID(t *testing.T) {
	srv := newServer(t)
	var first, again store.Post
	if resp := do(t, "POST", srv.URL+"/v1/posts", `{"text":"one","id":"client-1"}`, &first); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST client-1 = %d; want 201", resp.StatusCode)
	}
	if first.ID != "client-1" {
		t.Errorf("POST client-1 id = %q; want client-1", first.ID)
	}
	if resp := do(t, "POST", srv.URL+"/v1/posts", `{"text":"two","id":"client-1"}`, &again); resp.StatusCode != http.StatusOK || again != first {
		t.Errorf("POST client-1 again = %d %+v; want 200 %+v", resp.StatusCode, again, first)
	}
	var feed Feed
	do(t, "GET", srv.URL+"/v1/feed", "", &feed)
	if len(feed.Items) != 1 {
		t.Errorf("GET /v1/feed after a repeated create = %d items; want 1", len(feed.Items))
	}
}

func TestFeed(t *testing.T) {
	srv := newServer(t)
	var empty Feed
	do(t, "GET", srv.URL+"/v1/feed", "", &empty)
	if empty.Items == nil || len(empty.Items) != 0 || empty.Instance != "api-test" {
		t.Errorf("GET /v1/feed on an empty store = %+v; want [] items from api-test", empty)
	}
	for i := range 120 {
		if resp := do(t, "POST", srv.URL+"/v1/posts", fmt.Sprintf(`{"text":"post %d","id":"p%d"}`, i, i), nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST p%d = %d; want 201", i, resp.StatusCode)
		}
	}
	tests := []struct {
		query     string
		wantLen   int
		wantFirst string
	}{
		{"", DefaultFeedLimit, "p119"},
		{"?limit=3", 3, "p119"},
		{"?limit=1", 1, "p119"},
		{"?limit=100", 100, "p119"},
		{"?limit=500", MaxFeedLimit, "p119"}, // capped
	}
	for _, tt := range tests {
		var feed Feed
		resp := do(t, "GET", srv.URL+"/v1/feed"+tt.query, "", &feed)
		if resp.StatusCode != http.StatusOK || len(feed.Items) != tt.wantLen || feed.Items[0].ID != tt.wantFirst {
			t.Errorf("GET /v1/feed%s = %d, %d items; want 200, %d items from %s", tt.query, resp.StatusCode, len(feed.Items), tt.wantLen, tt.wantFirst)
			continue
		}
		for i := 1; i < len(feed.Items); i++ {
			if feed.Items[i].Seq >= feed.Items[i-1].Seq {
				t.Errorf("GET /v1/feed%s items[%d].seq = %d after %d; want newest first", tt.query, i, feed.Items[i].Seq, feed.Items[i-1].Seq)
				break
			}
		}
	}
}

func TestBadRequests(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name       string
		method     string
		path, body string
		want       int
	}{
		{"malformed JSON", "POST", "/v1/posts", `{"text":`, http.StatusBadRequest},
		{"not an object", "POST", "/v1/posts", `["text"]`, http.StatusBadRequest},
		{"trailing data", "POST", "/v1/posts", `{"text":"a"} {"text":"b"}`, http.StatusBadRequest},
		{"unknown field", "POST", "/v1/posts", `{"text":"a","txt":"b"}`, http.StatusBadRequest},
		{"no text", "POST", "/v1/posts", `{"id":"x"}`, http.StatusBadRequest},
		{"blank text", "POST", "/v1/posts", `{"text":"  \n"}`, http.StatusBadRequest},
		{"text too long", "POST", "/v1/posts", `{"text":"` + strings.Repeat("é", MaxTextRunes+1) + `"}`, http.StatusBadRequest},
		{"id with slash", "POST", "/v1/posts", `{"text":"a","id":"a/b"}`, http.StatusBadRequest},
		{"id dot dot", "POST", "/v1/posts", `{"text":"a","id":".."}`, http.StatusBadRequest},
		{"id too long", "POST", "/v1/posts", `{"text":"a","id":"` + strings.Repeat("x", MaxIDLength+1) + `"}`, http.StatusBadRequest},
		{"body too large", "POST", "/v1/posts", `{"text":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge},
		{"limit zero", "GET", "/v1/feed?limit=0", "", http.StatusBadRequest},
		{"limit negative", "GET", "/v1/feed?limit=-1", "", http.StatusBadRequest},
		{"limit not a number", "GET", "/v1/feed?limit=ten", "", http.StatusBadRequest},
		{"unknown post", "GET", "/v1/posts/p0", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Error
			resp := do(t, tt.method, srv.URL+tt.path, tt.body, &e)
			if resp.StatusCode != tt.want || e.Error == "" {
				t.Errorf("%s %s = %d %+v; want %d with an error message", tt.method, tt.path, resp.StatusCode, e, tt.want)
			}
		})
	}
	// Limits are inclusive: the longest text and id are accepted.
	ok := `{"text":"` + strings.Repeat("é", MaxTextRunes) + `","id":"` + strings.Repeat("x", MaxIDLength) + `"}`
	if resp := do(t, "POST", srv.URL+"/v1/posts", ok, nil); resp.StatusCode != http.StatusCreated {
		t.Errorf("POST with the longest text and id = %d; want 201", resp.StatusCode)
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"abc-DEF_012.~", true},
		{strings.Repeat("a", MaxIDLength), true},
		{"", false},
		{".", false},
		{"..", false},
		{"a b", false},
		{"a%2F", false},
		{"é", false},
		{strings.Repeat("a", MaxIDLength+1), false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v; want %v", tt.id, got, tt.want)
		}
	}
}
