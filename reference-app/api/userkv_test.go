package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/reference-app/api/apitest"
)

// putKV sends PUT /v1/kv/{key} with token and body.
func (f *fixture) putKV(token, key, body string) answer {
	f.t.Helper()
	return f.do("PUT", "/v1/kv/"+key, token, body)
}

// getKV sends GET /v1/kv/{key} with token.
func (f *fixture) getKV(token, key string) answer {
	f.t.Helper()
	return f.do("GET", "/v1/kv/"+key, token, "")
}

// wantKV checks that a is a 200 carrying key with the JSON value want.
func wantKV(t *testing.T, what string, a answer, key, want string) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("%s = %d %s; want 200", what, a.status, a.body)
	}
	var got KVItem
	a.decode(t, &got)
	if got.Key != key || string(got.Value) != want {
		t.Errorf("%s = key %q value %s; want key %q value %s", what, got.Key, got.Value, key, want)
	}
}

// writesString renders store writes as [op bucket key value, ...] per write.
func writesString(writes [][]apitest.Op) string {
	var b strings.Builder
	for i, w := range writes {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('[')
		for j, o := range w {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %s %s %s", o.Op, o.Bucket, o.Key, o.Value)
		}
		b.WriteByte(']')
	}
	return b.String()
}

// TestKVOnePutOneWrite: every acknowledged PUT is exactly one store write
// of exactly one op, put userkv userId/key, and nothing else: no cache
// write and no event, though the api has a cache and a queue. The GET
// reads it back from the primary.
func TestKVOnePutOneWrite(t *testing.T) {
	q := &recorder{}
	f := newFixture(t, setup{cache: true, queue: q})
	userID, token := f.user("alice")
	writes, cachePuts, reads := len(f.store.Writes()), f.cache.Puts(), len(f.store.ReadEpochs())
	for _, tt := range []struct {
		name  string
		body  string
		value string // as stored and answered: compact JSON
	}{
		// The probe's body.
		{"string", `{"value":"probe-1"}`, `"probe-1"`},
		// A second PUT of the key replaces the value, with one more write.
		{"object", `{"value": {"draft": "hello", "n": 2}}`, `{"draft":"hello","n":2}`},
		{"number", `{"value":42}`, `42`},
		{"same value again", `{"value":42}`, `42`},
	} {
		if a := f.putKV(token, "probe-1", tt.body); a.status != http.StatusNoContent || len(a.body) != 0 {
			t.Fatalf("PUT /v1/kv/probe-1 %s = %d %s; want 204 without a body", tt.body, a.status, a.body)
		}
		got := writesString(f.store.Writes()[writes:])
		if want := "[put userkv " + userID + "/probe-1 " + tt.value + "]"; got != want {
			t.Errorf("%s: store writes of PUT /v1/kv/probe-1 %s = %s; want exactly one write of one op: %s", tt.name, tt.body, got, want)
		}
		writes = len(f.store.Writes())
		wantKV(t, tt.name+": GET /v1/kv/probe-1", f.getKV(token, "probe-1"), "probe-1", tt.value)
	}
	if got := f.cache.Puts(); got != cachePuts {
		t.Errorf("cache puts after PUT and GET /v1/kv = %d; want %d (none)", got, cachePuts)
	}
	if got := q.published(); len(got) != 0 {
		t.Errorf("events published for PUT /v1/kv = %q; want none", got)
	}
	for i, e := range f.store.ReadEpochs()[reads:] {
		if e != "0" {
			t.Errorf("store read %d of GET /v1/kv carried X-Fencing-Epoch %q; want 0 (a primary read at any epoch, FixedPrimary)", i, e)
		}
	}
}

func TestKVErrors(t *testing.T) {
	f := newFixture(t, setup{opts: []Option{WithMaxBodyBytes(64)}})
	_, token := f.user("alice")
	if a := f.putKV(token, "k-1", `{"value":"alice's"}`); a.status != http.StatusNoContent {
		t.Fatalf("PUT /v1/kv/k-1 = %d %s; want 204", a.status, a.body)
	}
	_, bob := f.user("bob")
	for _, tt := range []struct {
		name   string
		method string
		token  string
		key    string // path segment, escaped
		body   string
		status int
	}{
		// A key nothing was put under.
		{"unknown key", "GET", token, "k-2", "", http.StatusNotFound},
		// Keys are per user: bob has no k-1.
		{"another user's key", "GET", bob, "k-1", "", http.StatusNotFound},
		// Authenticated.
		{"GET without a token", "GET", "", "k-1", "", http.StatusUnauthorized},
		{"PUT without a token", "PUT", "", "k-1", `{"value":1}`, http.StatusUnauthorized},
		// Keys are validated like a sync clientId.
		{"GET of a key with a space", "GET", token, "k%201", "", http.StatusBadRequest},
		{"PUT of a key with a space", "PUT", token, "k%201", `{"value":1}`, http.StatusBadRequest},
		{"key too long", "PUT", token, strings.Repeat("x", MaxIDLength+1), `{"value":1}`, http.StatusBadRequest},
		// The body is {"value": any JSON value but null}, strictly.
		{"no value", "PUT", token, "k-3", `{}`, http.StatusBadRequest},
		{"null value", "PUT", token, "k-3", `{"value":null}`, http.StatusBadRequest},
		{"unknown field", "PUT", token, "k-3", `{"value":1,"ttl":2}`, http.StatusBadRequest},
		{"bare value", "PUT", token, "k-3", `"x"`, http.StatusBadRequest},
		{"not JSON", "PUT", token, "k-3", `value=1`, http.StatusBadRequest},
		{"trailing data", "PUT", token, "k-3", `{"value":1}{}`, http.StatusBadRequest},
		{"body over the max", "PUT", token, "k-3", `{"value":"` + strings.Repeat("x", 64) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			writes := len(f.store.Writes())
			if a := f.do(tt.method, "/v1/kv/"+tt.key, tt.token, tt.body); a.status != tt.status || a.errorMessage() == "" {
				t.Errorf("%s /v1/kv/%.20s %s = %d %s; want %d with an error", tt.method, tt.key, tt.body, a.status, a.body, tt.status)
			}
			if got := f.store.Writes()[writes:]; len(got) != 0 {
				t.Errorf("store writes of a refused request = %s; want none", writesString(got))
			}
		})
	}
	wantKV(t, "GET /v1/kv/k-1 after the refused requests", f.getKV(token, "k-1"), "k-1", `"alice's"`)
}

// TestKVStoreDown: with the store unreachable, or failing the write, both
// answer 503, never a 204 and never a 404; also once the breaker is open.
func TestKVStoreDown(t *testing.T) {
	f := newFixture(t, setup{cache: true})
	_, token := f.user("alice")
	if a := f.putKV(token, "k-1", `{"value":1}`); a.status != http.StatusNoContent {
		t.Fatalf("PUT /v1/kv/k-1 = %d %s; want 204", a.status, a.body)
	}
	f.store.FailWrites(0, 1)
	wantUnavailable(t, "PUT /v1/kv/k-1 with the store failing the write", f.putKV(token, "k-1", `{"value":2}`))
	wantKV(t, "GET /v1/kv/k-1 after a failed PUT", f.getKV(token, "k-1"), "k-1", `1`)

	f.store.Stop()
	for i := range 5 { // the breaker opens after 3 failures
		try := " with the store down, try " + string(rune('1'+i))
		wantUnavailable(t, "PUT /v1/kv/k-1"+try, f.putKV(token, "k-1", `{"value":3}`))
		wantUnavailable(t, "GET /v1/kv/k-1"+try, f.getKV(token, "k-1"))
	}
	if got := metric(t, f.reg, "refapp_api_breaker_state", map[string]string{"dependency": "store"}); got != 2 {
		t.Errorf("refapp_api_breaker_state{dependency=store} = %v; want 2 (open)", got)
	}
}

// TestKVAfterFailover: a PUT the old primary acknowledged and the failover
// discarded reads 404 from the new primary, though the deposed primary
// still holds it and the api's last answer from the sentinel names it:
// the probe counts it lost, as the store counts it discarded.
func TestKVAfterFailover(t *testing.T) {
	sentinel := apitest.NewSentinel(t)
	src := NewSentinel(sentinel.URL(), WithPollInterval(time.Hour)) // the api learns a failover only by asking
	f := newFixture(t, setup{src: src})
	a, b := f.store, apitest.NewStore(t)
	sentinel.SetPrimary("a", a.URL(), 1)
	src.Refresh(context.Background())
	userID, token := f.user("alice")
	if r := f.putKV(token, "probe-1", `{"value":"probe-1"}`); r.status != http.StatusNoContent {
		t.Fatalf("PUT /v1/kv/probe-1 to a = %d %s; want 204", r.status, r.body)
	}
	wantKV(t, "GET /v1/kv/probe-1 from a", f.getKV(token, "probe-1"), "probe-1", `"probe-1"`)

	b.SetPrimary(2)
	sentinel.SetPrimary("b", b.URL(), 2)
	if r := f.getKV(token, "probe-1"); r.status != http.StatusNotFound {
		t.Errorf("GET /v1/kv/probe-1 after a failover that lost it = %d %s; want 404 from b (a's copy is stale)", r.status, r.body)
	}
	if _, ok := a.Value(bucketUserKV, userID+"/probe-1"); !ok {
		t.Errorf("a no longer holds probe-1; want it kept (a read from a would be a stale 200)")
	}
	if got := b.Writes(); len(got) != 0 {
		t.Errorf("writes to b = %s; want none", writesString(got))
	}
}
