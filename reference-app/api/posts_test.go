package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestCreateAndGetPost(t *testing.T) {
	f := newFixture(t, setup{})
	userID, token := f.user("alice")
	a := f.do("POST", "/v1/posts", token, `{"text":"hello"}`)
	if a.status != http.StatusCreated {
		t.Fatalf("POST /v1/posts = %d %s; want 201", a.status, a.body)
	}
	var p Post
	a.decode(t, &p)
	if p.ID == "" || p.UserID != userID || p.Text != "hello" || p.CreatedAt.IsZero() {
		t.Errorf("POST /v1/posts = %+v; want an id, user %s, text hello, createdAt", p, userID)
	}
	if got, want := a.header.Get("Location"), "/v1/posts/"+p.ID; got != want {
		t.Errorf("Location = %q; want %q", got, want)
	}
	if a.header.Get(ReplayedHeader) != "" {
		t.Errorf("first POST carries %s; want none", ReplayedHeader)
	}
	a = f.do("GET", "/v1/posts/"+p.ID, "", "")
	var got Post
	a.decode(t, &got)
	if a.status != http.StatusOK || !got.CreatedAt.Equal(p.CreatedAt) || got.ID != p.ID || got.Text != p.Text {
		t.Errorf("GET /v1/posts/%s = %d %+v; want 200 %+v", p.ID, a.status, got, p)
	}
	if a := f.do("GET", "/v1/posts/nope", "", ""); a.status != http.StatusNotFound || a.errorMessage() == "" {
		t.Errorf("GET /v1/posts/nope = %d %s; want 404 with an error", a.status, a.body)
	}
	q := f.post(token, "second")
	if q.ID == p.ID || q.ID < p.ID {
		t.Errorf("second post id %s after %s; want a new, later-sorting id", q.ID, p.ID)
	}
	if ids := f.postIDs(); len(ids) != 2 {
		t.Errorf("posts in the store = %v; want 2", ids)
	}
}

func TestIdempotentPost(t *testing.T) {
	f := newFixture(t, setup{})
	_, alice := f.user("alice")
	_, bob := f.user("bob")

	first := f.post(alice, "once", IdempotencyKeyHeader, "k-1")
	a := f.do("POST", "/v1/posts", alice, `{"text":"once"}`, IdempotencyKeyHeader, "k-1")
	var again Post
	a.decode(t, &again)
	if a.status != http.StatusCreated || again.ID != first.ID || a.header.Get(ReplayedHeader) != "true" {
		t.Errorf("retried POST k-1 = %d %s %+v; want 201, %s: true, id %s", a.status, ReplayedHeader, again, ReplayedHeader, first.ID)
	}
	if ids := f.postIDs(); len(ids) != 1 {
		t.Fatalf("posts after a retried POST = %v; want 1", ids)
	}
	if other := f.post(alice, "twice", IdempotencyKeyHeader, "k-2"); other.ID == first.ID {
		t.Errorf("POST with another key = id %s; want a new post", other.ID)
	}
	if bobs := f.post(bob, "once", IdempotencyKeyHeader, "k-1"); bobs.ID == first.ID {
		t.Errorf("bob's POST with alice's key = id %s; want his own post", bobs.ID)
	}
	if ids := f.postIDs(); len(ids) != 3 {
		t.Errorf("posts = %v; want 3", ids)
	}

	// Sent 8 times at once: one post.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			a := f.do("POST", "/v1/posts", alice, `{"text":"racing"}`, IdempotencyKeyHeader, "k-race")
			var p Post
			if a.status == http.StatusCreated {
				a.decode(t, &p)
			}
			ids[i] = fmt.Sprintf("%d %s", a.status, p.ID)
		})
	}
	wg.Wait()
	if uniq := slices.Compact(sortedCopy(ids)); len(uniq) != 1 || !strings.HasPrefix(uniq[0], "201 ") {
		t.Errorf("8 concurrent POSTs with one key answered %v; want one 201 id", ids)
	}
	if n := len(f.postIDs()); n != 4 {
		t.Errorf("posts after 8 concurrent POSTs with one key = %d; want 4", n)
	}

	if a := f.do("POST", "/v1/posts", alice, `{"text":"x"}`, IdempotencyKeyHeader, "a key/with spaces"); a.status != http.StatusBadRequest || !strings.Contains(a.errorMessage(), IdempotencyKeyHeader) {
		t.Errorf("POST with a bad Idempotency-Key = %d %q; want 400 naming the header", a.status, a.errorMessage())
	}
}

// TestIdempotentPostFinishesAnInterruptedCreate: the claim was written but
// the post write failed; the retry stores the claimed post, once.
func TestIdempotentPostFinishesAnInterruptedCreate(t *testing.T) {
	f := newFixture(t, setup{})
	_, token := f.user("alice")
	f.store.FailWrites(1, 1) // the claim passes, the post write fails
	a := f.do("POST", "/v1/posts", token, `{"text":"interrupted"}`, IdempotencyKeyHeader, "k-1")
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("POST with a failing post write = %d %s, Retry-After %q; want 503 with Retry-After", a.status, a.body, a.header.Get("Retry-After"))
	}
	claims := f.store.Keys(bucketIdempotency)
	if len(claims) != 1 || len(f.postIDs()) != 0 {
		t.Fatalf("after the interrupted POST: claims %v, posts %v; want 1 claim, no post", claims, f.postIDs())
	}
	p := f.post(token, "interrupted", IdempotencyKeyHeader, "k-1")
	if ids := f.postIDs(); len(ids) != 1 || ids[0] != p.ID {
		t.Errorf("after the retry: posts %v, answer id %s; want exactly the answered post", ids, p.ID)
	}
	again := f.post(token, "interrupted", IdempotencyKeyHeader, "k-1")
	if again.ID != p.ID || len(f.postIDs()) != 1 {
		t.Errorf("third POST = id %s, posts %v; want id %s, 1 post", again.ID, f.postIDs(), p.ID)
	}
}

func TestSync(t *testing.T) {
	f := newFixture(t, setup{})
	userID, token := f.user("alice")
	batch := `{"deviceId":"phone-1","items":[{"clientId":"c1","text":"one"},{"clientId":"c2","text":"two"},{"clientId":"c3","text":"three"}]}`
	sync := func(body string) SyncResponse {
		t.Helper()
		a := f.do("POST", "/v1/sync", token, body)
		if a.status != http.StatusOK {
			t.Fatalf("POST /v1/sync = %d %s; want 200", a.status, a.body)
		}
		var r SyncResponse
		a.decode(t, &r)
		return r
	}
	first := sync(batch)
	if len(first.Items) != 3 {
		t.Fatalf("sync = %+v; want 3 results", first)
	}
	for i, it := range first.Items {
		if it.ClientID != fmt.Sprintf("c%d", i+1) || !it.Created || it.ID == "" {
			t.Errorf("sync item %d = %+v; want c%d created with an id", i, it, i+1)
		}
		p, ok := f.storedPost(it.ID)
		if !ok || p.ClientID != it.ClientID || p.UserID != userID {
			t.Errorf("stored post %s = %+v (present %v); want clientId %s of %s", it.ID, p, ok, it.ClientID, userID)
		}
	}

	for range 2 {
		again := sync(batch)
		for i, it := range again.Items {
			if it.ID != first.Items[i].ID || it.Created {
				t.Errorf("retried sync item %d = %+v; want id %s, created false", i, it, first.Items[i].ID)
			}
		}
	}
	if ids := f.postIDs(); len(ids) != 3 {
		t.Errorf("posts after retried syncs = %d; want 3", len(ids))
	}

	mixed := sync(`{"deviceId":"phone-1","items":[{"clientId":"c2","text":"two"},{"clientId":"c4","text":"four"}]}`)
	if mixed.Items[0].ID != first.Items[1].ID || mixed.Items[0].Created || !mixed.Items[1].Created {
		t.Errorf("sync of c2 (old) and c4 (new) = %+v; want c2 = %s not created, c4 created", mixed.Items, first.Items[1].ID)
	}
	if ids := f.postIDs(); len(ids) != 4 {
		t.Errorf("posts = %d; want 4", len(ids))
	}
	// Another user's clientIds are their own.
	_, bob := f.user("bob")
	if a := f.do("POST", "/v1/sync", bob, batch); a.status != http.StatusOK || len(f.postIDs()) != 7 {
		t.Errorf("bob's sync of the same clientIds = %d, %d posts; want 200, 7 posts", a.status, len(f.postIDs()))
	}
}

func TestSyncValidation(t *testing.T) {
	f := newFixture(t, setup{})
	_, token := f.user("alice")
	items := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"clientId":"c%d","text":"t"}`, i)
		}
		return b.String()
	}
	tests := []struct {
		body      string
		wantField string
	}{
		{`{"items":[{"clientId":"c1","text":"t"}]}`, "deviceId"},
		{`{"deviceId":"d/1","items":[{"clientId":"c1","text":"t"}]}`, "deviceId"},
		{`{"deviceId":"d1","items":[]}`, "items"},
		{`{"deviceId":"d1"}`, "items"},
		{`{"deviceId":"d1","items":[` + items(MaxSyncItems+1) + `]}`, "items"},
		{`{"deviceId":"d1","items":[{"clientId":"","text":"t"}]}`, "items[0].clientId"},
		{`{"deviceId":"d1","items":[{"clientId":"c1","text":"t"},{"clientId":"c1","text":"u"}]}`, "items[1].clientId"},
		{`{"deviceId":"d1","items":[{"clientId":"c1","text":"t"},{"clientId":"c2","text":" "}]}`, "items[1].text"},
		{`{"deviceId":"d1","items":[{"clientId":"c1","text":"t","extra":1}]}`, "extra"},
	}
	for _, tt := range tests {
		a := f.do("POST", "/v1/sync", token, tt.body)
		if a.status != http.StatusBadRequest || !strings.Contains(a.errorMessage(), tt.wantField) {
			t.Errorf("POST /v1/sync %.70s = %d %q; want 400 naming %s", tt.body, a.status, a.errorMessage(), tt.wantField)
		}
	}
	if a := f.do("POST", "/v1/sync", token, `{"deviceId":"d1","items":[`+items(MaxSyncItems)+`]}`); a.status != http.StatusOK {
		t.Errorf("POST /v1/sync with %d items = %d %s; want 200", MaxSyncItems, a.status, a.errorMessage())
	}
}

func TestProfile(t *testing.T) {
	f := newFixture(t, setup{})
	userID, token := f.user("alice")
	var p Profile
	a := f.do("GET", "/v1/me", token, "")
	a.decode(t, &p)
	if a.status != http.StatusOK || p != (Profile{UserID: userID, Username: "alice"}) {
		t.Errorf("GET /v1/me before any PUT = %d %+v; want 200 with id and username only", a.status, p)
	}
	a = f.do("PUT", "/v1/me", token, `{"displayName":"Alice A.","bio":"hi"}`)
	want := Profile{UserID: userID, Username: "alice", DisplayName: "Alice A.", Bio: "hi"}
	a.decode(t, &p)
	if a.status != http.StatusOK || p != want {
		t.Errorf("PUT /v1/me = %d %+v; want 200 %+v", a.status, p, want)
	}
	a = f.do("GET", "/v1/me", token, "")
	a.decode(t, &p)
	if p != want {
		t.Errorf("GET /v1/me after PUT = %+v; want %+v", p, want)
	}
	for _, tt := range []struct{ body, field string }{
		{`{"displayName":"` + strings.Repeat("é", MaxDisplayNameRunes+1) + `"}`, "displayName"},
		{`{"bio":"` + strings.Repeat("b", MaxBioRunes+1) + `"}`, "bio"},
		{`{"nickname":"x"}`, "nickname"},
	} {
		if a := f.do("PUT", "/v1/me", token, tt.body); a.status != http.StatusBadRequest || !strings.Contains(a.errorMessage(), tt.field) {
			t.Errorf("PUT /v1/me %.50s = %d %q; want 400 naming %s", tt.body, a.status, a.errorMessage(), tt.field)
		}
	}
}

func TestDevices(t *testing.T) {
	f := newFixture(t, setup{})
	userID, token := f.user("alice")
	a := f.do("POST", "/v1/devices", token, `{"deviceId":"phone-1","platform":"ios","pushToken":"apns-abc"}`)
	var d Device
	a.decode(t, &d)
	if a.status != http.StatusCreated || d.DeviceID != "phone-1" || d.Platform != "ios" || strings.Contains(string(a.body), "apns-abc") {
		t.Errorf("POST /v1/devices = %d %s; want 201 phone-1 ios without the push token", a.status, a.body)
	}
	raw, ok := f.store.Value(bucketDevices, userID+"/phone-1")
	if !ok || !strings.Contains(string(raw), "apns-abc") {
		t.Errorf("stored device = %s (present %v); want its push token", raw, ok)
	}
	if a := f.do("POST", "/v1/devices", token, `{"deviceId":"phone-1","platform":"android","pushToken":"fcm-1"}`); a.status != http.StatusCreated {
		t.Errorf("POST /v1/devices again = %d; want 201", a.status)
	}
	if raw, _ := f.store.Value(bucketDevices, userID+"/phone-1"); !strings.Contains(string(raw), "fcm-1") {
		t.Errorf("re-registered device = %s; want the new token", raw)
	}
	for _, tt := range []struct{ body, field string }{
		{`{"deviceId":"","platform":"ios","pushToken":"t"}`, "deviceId"},
		{`{"deviceId":"p1","platform":"windows","pushToken":"t"}`, "platform"},
		{`{"deviceId":"p1","platform":"ios","pushToken":""}`, "pushToken"},
		{`{"deviceId":"p1","platform":"ios","pushToken":"` + strings.Repeat("t", MaxPushTokenBytes+1) + `"}`, "pushToken"},
	} {
		if a := f.do("POST", "/v1/devices", token, tt.body); a.status != http.StatusBadRequest || !strings.Contains(a.errorMessage(), tt.field) {
			t.Errorf("POST /v1/devices %.60s = %d %q; want 400 naming %s", tt.body, a.status, a.errorMessage(), tt.field)
		}
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, setup{opts: []Option{WithMaxBodyBytes(2048)}})
	_, token := f.user("alice")
	big := `{"text":"` + strings.Repeat("a", 2048) + `"}`
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"malformed JSON", "POST", "/v1/posts", `{"text":`, http.StatusBadRequest},
		{"not an object", "POST", "/v1/posts", `["text"]`, http.StatusBadRequest},
		{"trailing data", "POST", "/v1/posts", `{"text":"a"} {"text":"b"}`, http.StatusBadRequest},
		{"unknown field", "POST", "/v1/posts", `{"text":"a","txt":"b"}`, http.StatusBadRequest},
		{"no text", "POST", "/v1/posts", `{}`, http.StatusBadRequest},
		{"blank text", "POST", "/v1/posts", `{"text":"  \n"}`, http.StatusBadRequest},
		{"text too long", "POST", "/v1/posts", `{"text":"` + strings.Repeat("é", MaxTextRunes+1) + `"}`, http.StatusBadRequest},
		{"post too large", "POST", "/v1/posts", big, http.StatusRequestEntityTooLarge},
		{"sync too large", "POST", "/v1/sync", big, http.StatusRequestEntityTooLarge},
		{"signup too large", "POST", "/v1/auth/signup", big, http.StatusRequestEntityTooLarge},
		{"profile too large", "PUT", "/v1/me", big, http.StatusRequestEntityTooLarge},
		{"device too large", "POST", "/v1/devices", big, http.StatusRequestEntityTooLarge},
		{"malformed signup", "POST", "/v1/auth/signup", `{"username":1}`, http.StatusBadRequest},
		{"malformed login", "POST", "/v1/auth/login", `nope`, http.StatusBadRequest},
		{"malformed device", "POST", "/v1/devices", `{"deviceId":`, http.StatusBadRequest},
		{"limit zero", "GET", "/v1/feed?limit=0", "", http.StatusBadRequest},
		{"limit not a number", "GET", "/v1/feed?limit=ten", "", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.do(tt.method, tt.path, token, tt.body)
			if a.status != tt.want || a.errorMessage() == "" {
				t.Errorf("%s %s = %d %s; want %d with an error message", tt.method, tt.path, a.status, a.body, tt.want)
			}
		})
	}
	if n := len(f.postIDs()); n != 0 {
		t.Errorf("posts after bad requests = %d; want 0", n)
	}
}
