package kvstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/reference-app/kvstore"
	"github.com/gameday/gameday/reference-app/kvstore/kvstoretest"
)

// wait is the deadline of every condition a test waits on.
const wait = 10 * time.Second

// hc is every test's HTTP client. Without keep-alive, no request meets a
// connection that a node's restart closed under it.
var hc = &http.Client{Timeout: 2 * wait, Transport: &http.Transport{DisableKeepAlives: true}}

// call sends method url with body (JSON when not empty) and headers as
// name, value pairs; it returns the status, the body and the headers.
func call(t *testing.T, method, url, body string, headers ...string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func mustWrite(t *testing.T, c *kvstore.Client, ops ...kvstore.Op) kvstore.WriteResult {
	t.Helper()
	res, err := c.Write(context.Background(), ops...)
	if err != nil {
		t.Fatalf("Write(%v): %v", ops, err)
	}
	return res
}

func TestClientAPI(t *testing.T) {
	ctx := context.Background()
	p := kvstoretest.Start(t, "", kvstore.WithNode("a"))
	c := kvstore.NewClient(kvstore.FixedPrimary(p.URL), hc)

	res := mustWrite(t, c, kvstore.Put("users", "u1", raw(`{"name":"ann"}`)), kvstore.Put("users", "u2", raw(`"bob"`)))
	if res.Seq != 1 || res.Epoch != 1 || !slices.Equal(res.Applied, []bool{true, true}) {
		t.Errorf("first Write = %+v; want seq 1, epoch 1, applied [true true]", res)
	}
	res = mustWrite(t, c, kvstore.PutIfAbsent("users", "u1", raw(`"other"`)), kvstore.PutIfAbsent("users", "u3", raw(`3`)), kvstore.Delete("users", "u2"))
	if res.Seq != 2 || !slices.Equal(res.Applied, []bool{false, true, true}) {
		t.Errorf("second Write = %+v; want seq 2, applied [false true true]", res)
	}
	item, err := c.Get(ctx, "users", "u1")
	if err != nil || string(item.Value) != `{"name":"ann"}` || item.Seq != 1 {
		t.Errorf(`Get(users, u1) = %+v, %v; want {"name":"ann"} from seq 1 (put_if_absent wrote nothing)`, item, err)
	}
	if _, err := c.Get(ctx, "users", "u2"); !errors.Is(err, kvstore.ErrNotFound) {
		t.Errorf("Get(users, u2) after delete error = %v; want ErrNotFound", err)
	}
	if _, err := c.Get(ctx, "nobucket", "x"); !errors.Is(err, kvstore.ErrNotFound) {
		t.Errorf("Get(nobucket, x) error = %v; want ErrNotFound", err)
	}

	for _, k := range []string{"p:a", "p:b", "p:c", "q:a", "p"} {
		mustWrite(t, c, kvstore.Put("posts", k, raw(`"`+k+`"`)))
	}
	keys := func(items []kvstore.KV) []string {
		var ks []string
		for _, it := range items {
			if string(it.Value) != `"`+it.Key+`"` {
				t.Errorf("item %s has value %s; want its key as a string", it.Key, it.Value)
			}
			ks = append(ks, it.Key)
		}
		return ks
	}
	for _, tt := range []struct {
		opts kvstore.ListOptions
		want []string
	}{
		{kvstore.ListOptions{}, []string{"p", "p:a", "p:b", "p:c", "q:a"}},                   // all, by key
		{kvstore.ListOptions{Prefix: "p:"}, []string{"p:a", "p:b", "p:c"}},                   // prefix
		{kvstore.ListOptions{Prefix: "p:", Reverse: true}, []string{"p:c", "p:b", "p:a"}},    // prefix, newest key first
		{kvstore.ListOptions{Prefix: "p:", Reverse: true, Limit: 2}, []string{"p:c", "p:b"}}, // limit
		{kvstore.ListOptions{Reverse: true, Limit: 2}, []string{"q:a", "p:c"}},               // reverse from the end
		{kvstore.ListOptions{Prefix: "q:", Reverse: true}, []string{"q:a"}},                  // prefix at the end
		{kvstore.ListOptions{Prefix: "z"}, nil},                                              // no match
		{kvstore.ListOptions{Prefix: "\xff", Reverse: true}, nil},                            // prefix with no upper bound
	} {
		items, err := c.List(ctx, "posts", tt.opts)
		if got := keys(items); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("List(posts, %+v) = %q, %v; want %q", tt.opts, got, err, tt.want)
		}
	}
	if items, err := c.List(ctx, "nobucket", kvstore.ListOptions{}); err != nil || items == nil || len(items) != 0 {
		t.Errorf("List(nobucket) = %v, %v; want an empty list", items, err)
	}
	if code, body, _ := call(t, "GET", p.URL+"/v1/list?bucket=nobucket", ""); code != 200 || !strings.Contains(body, `"items":[]`) {
		t.Errorf("GET /v1/list of an empty bucket = %d %s; want 200 with items []", code, body)
	}

	st, err := c.Status(ctx)
	want := kvstore.Status{Node: "a", Role: kvstore.RolePrimary, Epoch: 1, LastSeq: 7, AppliedSeq: 7, Replication: kvstore.Async}
	if err != nil || st != want {
		t.Errorf("Status() = %+v, %v; want %+v", st, err, want)
	}
	if got := p.Metric("refapp_store_writes_total", "result", "ok"); got != 7 {
		t.Errorf("refapp_store_writes_total{result=ok} = %v; want 7", got)
	}
	if got := p.Metric("refapp_store_last_sequence"); got != 7 {
		t.Errorf("refapp_store_last_sequence = %v; want 7", got)
	}
	if got := p.Metric("refapp_store_is_primary"); got != 1 {
		t.Errorf("refapp_store_is_primary = %v; want 1", got)
	}
}

func TestBadRequests(t *testing.T) {
	p := kvstoretest.Start(t, "")
	big := `{"ops":[{"op":"put","bucket":"b","key":"k","value":"` + strings.Repeat("x", kvstore.MaxWriteBytes) + `"}]}`
	for _, tt := range []struct {
		method, path, body string
		headers            []string
		code               int
		msg                string // substring of the error
	}{
		{"POST", "/v1/write", `{"ops":[]}`, nil, 400, "ops"},
		{"POST", "/v1/write", `{"ops":[{"op":"upsert","bucket":"b","key":"k","value":1}]}`, nil, 400, "ops[0].op"},
		{"POST", "/v1/write", `{"ops":[{"op":"put","bucket":"","key":"k","value":1}]}`, nil, 400, "ops[0].bucket"},
		{"POST", "/v1/write", `{"ops":[{"op":"put","bucket":"b","key":"k","value":1},{"op":"put","bucket":"b","key":"","value":1}]}`, nil, 400, "ops[1].key"},
		{"POST", "/v1/write", `{"ops":[{"op":"put","bucket":"b","key":"k"}]}`, nil, 400, "ops[0].value"},
		{"POST", "/v1/write", `{"ops":[{"op":"delete","bucket":"b","key":"k","value":1}]}`, nil, 400, "ops[0].value"},
		{"POST", "/v1/write", `{"ops":[{"op":"put","bucket":"b","key":"k","value":1,"ttl":3}]}`, nil, 400, "unknown field"},
		{"POST", "/v1/write", `{"ops":[{"op":"put","bucket":"b","key":"k","value":1}]} {}`, nil, 400, "after"},
		{"POST", "/v1/write", `{"ops":`, nil, 400, "body"},
		{"POST", "/v1/write", `{"ops":[{"op":"put","bucket":"b","key":"k","value":1}]}`, []string{"X-Fencing-Epoch", "one"}, 400, "X-Fencing-Epoch"},
		{"POST", "/v1/write", big, nil, 413, "bytes"},
		{"GET", "/v1/get?bucket=b", "", nil, 400, "key"},
		{"GET", "/v1/list", "", nil, 400, "bucket"},
		{"GET", "/v1/list?bucket=b&limit=0", "", nil, 400, "limit"},
		{"GET", "/v1/list?bucket=b&reverse=maybe", "", nil, 400, "reverse"},
		{"GET", "/v1/repl/log?after=-1", "", nil, 400, "after"},
		{"GET", "/v1/repl/log?wait=soon", "", nil, 400, "wait"},
		{"POST", "/v1/admin/promote", `{}`, nil, 400, "epoch"},
		{"POST", "/v1/admin/promote", `{"epoch":1}`, nil, 409, "epoch"}, // not above the current
		{"POST", "/v1/admin/follow", `{"primary":"localhost:1","epoch":2}`, nil, 400, "primary"},
		{"POST", "/v1/admin/follow", `{"primary":"http://127.0.0.1:1","epoch":1}`, nil, 409, "epoch"}, // a primary follows only at a higher epoch
	} {
		code, body, _ := call(t, tt.method, p.URL+tt.path, tt.body, tt.headers...)
		var e kvstore.ErrorBody
		if code != tt.code || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, tt.msg) {
			short := tt.body[:min(len(tt.body), 80)]
			t.Errorf("%s %s %s = %d %.200s; want %d with an error mentioning %q", tt.method, tt.path, short, code, body, tt.code, tt.msg)
		}
	}
	if got := p.Metric("refapp_store_writes_total", "result", "invalid"); got != 11 {
		t.Errorf("refapp_store_writes_total{result=invalid} = %v; want 11", got)
	}
	if st := p.Node().Status(); st.LastSeq != 0 || st.Role != kvstore.RolePrimary || st.Epoch != 1 {
		t.Errorf("status after bad requests = %+v; want an untouched primary at epoch 1", st)
	}
}

func TestReplicationCatchesUp(t *testing.T) {
	ctx := context.Background()
	// A small log batch makes the replica catch up over several answers.
	p := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"), kvstore.WithLogBatch(10))...)
	c := kvstore.NewClient(kvstore.FixedPrimary(p.URL), hc)
	for i := range 35 {
		mustWrite(t, c, kvstore.Put("b", fmt.Sprintf("k%02d", i), raw(fmt.Sprint(i))), kvstore.Put("other", "last", raw(fmt.Sprint(i))))
	}
	mustWrite(t, c, kvstore.Delete("b", "k03"))

	r := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("b"),
		kvstore.WithMode(kvstore.RoleReplica), kvstore.WithPrimary(p.URL))...)
	kvstoretest.WaitFor(t, wait, "replica applied 36", func() bool { return r.Node().Status().AppliedSeq == 36 })

	rc := kvstore.NewClient(kvstore.FixedPrimary(r.URL), hc)
	sameData := func() {
		t.Helper()
		for _, bucket := range []string{"b", "other"} {
			want, err1 := c.List(ctx, bucket, kvstore.ListOptions{Limit: 1000})
			got, err2 := rc.List(ctx, bucket, kvstore.ListOptions{Limit: 1000})
			if err1 != nil || err2 != nil || !slices.EqualFunc(got, want, func(a, b kvstore.KV) bool {
				return a.Key == b.Key && bytes.Equal(a.Value, b.Value)
			}) {
				t.Errorf("replica's %s = %v (%v); want the primary's %v (%v)", bucket, got, err2, want, err1)
			}
		}
	}
	sameData()
	if _, err := rc.Get(ctx, "b", "k03"); !errors.Is(err, kvstore.ErrNotFound) {
		t.Errorf("replica Get(b, k03) error = %v; want ErrNotFound (deleted)", err)
	}

	// Live writes reach it too, with the seq they had on the primary.
	res := mustWrite(t, c, kvstore.Put("b", "live", raw(`true`)))
	kvstoretest.WaitFor(t, wait, "replica applied the live write", func() bool { return r.Node().Status().AppliedSeq == res.Seq })
	if item, err := rc.Get(ctx, "b", "live"); err != nil || item.Seq != res.Seq {
		t.Errorf("replica Get(b, live) = %+v, %v; want seq %d", item, err, res.Seq)
	}
	sameData()

	st := r.Node().Status()
	want := kvstore.Status{Node: "b", Role: kvstore.RoleReplica, Epoch: 1, LastSeq: 37, AppliedSeq: 37, Primary: p.URL, Replication: kvstore.Async}
	if st != want {
		t.Errorf("replica Status() = %+v; want %+v", st, want)
	}
	kvstoretest.WaitFor(t, wait, "the primary sees the replica's ack of 37", func() bool {
		return p.Metric("refapp_store_replication_lag_entries") == 0
	})
	for _, m := range []string{"refapp_store_replication_lag_entries", "refapp_store_replication_lag_seconds", "refapp_store_is_primary"} {
		if got := r.Metric(m); got != 0 {
			t.Errorf("replica %s = %v; want 0", m, got)
		}
	}
	if got := r.Metric("refapp_store_applied_sequence"); got != 37 {
		t.Errorf("replica refapp_store_applied_sequence = %v; want 37", got)
	}

	// A write sent to the replica is refused, naming the primary.
	_, err := rc.Write(ctx, kvstore.Put("b", "x", raw(`1`)))
	var se *kvstore.StatusError
	if !errors.Is(err, kvstore.ErrNotPrimary) || !errors.As(err, &se) || se.Primary != p.URL || se.RetryAfter != time.Second {
		t.Errorf("Write to the replica error = %v (%+v); want ErrNotPrimary naming %s with Retry-After 1s", err, se, p.URL)
	}
	if code, body, _ := call(t, "POST", r.URL+"/v1/write", `{"ops":[{"op":"put","bucket":"b","key":"x","value":1}]}`); code != 503 ||
		body != fmt.Sprintf(`{"error":"not primary","primary":%q}`+"\n", p.URL) {
		t.Errorf("POST /v1/write to the replica = %d %s; want 503 {\"error\":\"not primary\",\"primary\":%q}", code, body, p.URL)
	}
}

func TestPrimaryLagWhileReplicaCutOff(t *testing.T) {
	p := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"))...)
	r := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("b"),
		kvstore.WithMode(kvstore.RoleReplica), kvstore.WithPrimary(p.URL))...)
	c := kvstore.NewClient(kvstore.FixedPrimary(p.URL), hc)
	mustWrite(t, c, kvstore.Put("b", "k", raw(`1`)))
	kvstoretest.WaitFor(t, wait, "primary lag 0", func() bool {
		return p.Metric("refapp_store_replication_lag_entries") == 0 && r.Node().Status().AppliedSeq == 1
	})
	r.StopPull()
	for range 3 {
		mustWrite(t, c, kvstore.Put("b", "k", raw(`2`)))
	}
	if got := p.Metric("refapp_store_replication_lag_entries"); got != 3 {
		t.Errorf("primary refapp_store_replication_lag_entries = %v; want 3 unacknowledged", got)
	}
	if got := p.Metric("refapp_store_replication_lag_seconds"); got <= 0 {
		t.Errorf("primary refapp_store_replication_lag_seconds = %v; want > 0", got)
	}
}

func TestReplicaReconnectsWithBackoff(t *testing.T) {
	p := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"))...)
	c := kvstore.NewClient(kvstore.FixedPrimary(p.URL), hc)
	mustWrite(t, c, kvstore.Put("b", "before", raw(`1`)))
	p.Cut()
	r := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("b"),
		kvstore.WithMode(kvstore.RoleReplica), kvstore.WithPrimary(p.URL))...)
	kvstoretest.WaitFor(t, wait, "3 failed polls", func() bool { return r.Metric("refapp_store_replication_polls_total", "result", "error") >= 3 })
	if st := r.Node().Status(); st.AppliedSeq != 0 {
		t.Fatalf("replica applied %d while its primary was unreachable; want 0", st.AppliedSeq)
	}
	p.Heal()
	mustWrite(t, c, kvstore.Put("b", "after", raw(`2`)))
	kvstoretest.WaitFor(t, wait, "replica caught up after the primary came back", func() bool { return r.Node().Status().AppliedSeq == 2 })
}

func TestSyncWriteNeedsAReplica(t *testing.T) {
	ctx := context.Background()
	// Failing sync writes wait the whole sync timeout, so the primary runs
	// with a short one for them and is restarted with a long one for the
	// writes that must succeed.
	short, long := kvstore.WithSyncTimeout(100*time.Millisecond), kvstore.WithSyncTimeout(wait)
	p := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"), kvstore.WithReplication(kvstore.Sync), short)...)
	c := kvstore.NewClient(kvstore.FixedPrimary(p.URL), hc)

	// No replica: not acknowledged, though the primary logged it.
	_, err := c.Write(ctx, kvstore.Put("b", "lonely", raw(`1`)))
	var se *kvstore.StatusError
	if !errors.Is(err, kvstore.ErrNotReplicated) || !errors.As(err, &se) || se.Code != 503 || se.RetryAfter != time.Second {
		t.Fatalf("sync Write without a replica error = %v; want ErrNotReplicated, 503 with Retry-After 1", err)
	}
	if got := p.Metric("refapp_store_writes_total", "result", "not_replicated"); got != 1 {
		t.Errorf("refapp_store_writes_total{result=not_replicated} = %v; want 1", got)
	}
	if st := p.Node().Status(); st.LastSeq != 1 {
		t.Errorf("primary last sequence after the unacknowledged write = %d; want 1 (logged)", st.LastSeq)
	}

	// The replica pulls through a link that we can cut while clients still
	// reach the primary.
	p.Restart(long)
	link := kvstoretest.NewLink(t, p.URL)
	r := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("b"),
		kvstore.WithMode(kvstore.RoleReplica), kvstore.WithPrimary(link.URL))...)
	rc := kvstore.NewClient(kvstore.FixedPrimary(r.URL), hc)
	res, err := c.Write(ctx, kvstore.Put("b", "k1", raw(`1`)))
	if err != nil {
		t.Fatalf("sync Write with a replica: %v", err)
	}
	if item, err := rc.Get(ctx, "b", "k1"); err != nil || item.Seq != res.Seq {
		t.Errorf("replica Get(b, k1) right after the sync write was acknowledged = %+v, %v; want it, seq %d", item, err, res.Seq)
	}

	// Replica unreachable: not acknowledged again.
	link.Cut()
	p.Restart(short)
	if _, err := c.Write(ctx, kvstore.Put("b", "k2", raw(`2`))); !errors.Is(err, kvstore.ErrNotReplicated) {
		t.Errorf("sync Write with the replica cut off error = %v; want ErrNotReplicated", err)
	}
	if _, err := rc.Get(ctx, "b", "k2"); !errors.Is(err, kvstore.ErrNotFound) {
		t.Errorf("replica Get(b, k2) while cut off error = %v; want ErrNotFound", err)
	}

	// Healed: the replica reconnects, gets k2, and acknowledges new writes.
	link.Heal()
	p.Restart(long)
	if _, err := c.Write(ctx, kvstore.Put("b", "k3", raw(`3`))); err != nil {
		t.Errorf("sync Write after the link healed: %v", err)
	}
	if _, err := rc.Get(ctx, "b", "k2"); err != nil {
		t.Errorf("replica Get(b, k2) after healing: %v", err)
	}
}

func TestOnlyNamedPollsAtTheEpochAcknowledge(t *testing.T) {
	p := kvstoretest.Start(t, "")
	c := kvstore.NewClient(kvstore.FixedPrimary(p.URL), hc)
	lag := func() float64 { return p.Metric("refapp_store_replication_lag_entries") }
	poll := func(q string, want int) {
		t.Helper()
		if code, body, _ := call(t, "GET", p.URL+"/v1/repl/log?"+q, ""); code != want {
			t.Fatalf("GET /v1/repl/log?%s = %d %s; want %d", q, code, body, want)
		}
	}
	mustWrite(t, c, kvstore.Put("b", "k", raw(`1`)))
	if _, err := p.Node().Promote(2); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, c, kvstore.Put("b", "k", raw(`2`)))
	if got := lag(); got != 2 {
		t.Fatalf("lag with no replica = %v entries; want 2", got)
	}
	poll("after=2&epoch=2&wait=0s", 200) // unnamed: a replica checking its log claims nothing
	if got := lag(); got != 2 {
		t.Errorf("lag after an unnamed poll = %v; want 2 (no acknowledgement)", got)
	}
	poll("after=2&epoch=1&node=x&wait=0s", 200) // named, but at an older epoch
	if got := lag(); got != 2 {
		t.Errorf("lag after a poll at epoch 1 = %v; want 2 (no acknowledgement)", got)
	}
	poll("after=9&epoch=2&wait=0s", 200)        // unnamed past the end: answered, so a diverged replica can find out
	poll("after=9&epoch=2&node=x&wait=0s", 409) // named past the end: that replica diverged
	if code, body, _ := call(t, "GET", p.URL+"/v1/repl/log?after=18446744073709551615&wait=0s", ""); code != 200 || !strings.Contains(body, `"entries":[]`) {
		t.Errorf("unnamed poll after the largest sequence = %d %s; want 200 with no entries", code, body)
	}
	poll("after=1&epoch=2&node=x&wait=0s", 200)
	if got := lag(); got != 1 {
		t.Errorf("lag after a named poll after=1 = %v; want 1", got)
	}
	poll("after=2&epoch=2&node=x&wait=0s", 200)
	if got := lag(); got != 0 {
		t.Errorf("lag after a named poll after=2 = %v; want 0", got)
	}
}

func TestDurability(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := kvstoretest.Start(t, dir, kvstore.WithNode("a"))
	c := kvstore.NewClient(kvstore.FixedPrimary(p.URL), hc)
	mustWrite(t, c, kvstore.Put("b", "k1", raw(`{"v":1}`)))
	if _, err := p.Node().Promote(3); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, c, kvstore.Put("b", "k2", raw(`{"v":2}`)))
	hist := p.Node().History()

	// Restarted with a replica's flags: the persisted role and epoch win.
	p.Restart(kvstore.WithMode(kvstore.RoleReplica), kvstore.WithPrimary("http://127.0.0.1:1"))
	st := p.Node().Status()
	if st.Role != kvstore.RolePrimary || st.Epoch != 3 || st.LastSeq != 2 || st.AppliedSeq != 2 || st.Primary != "" {
		t.Errorf("restarted Status() = %+v; want primary, epoch 3, seq 2, no primary URL", st)
	}
	if got := p.Node().History(); !slices.Equal(got, hist) || len(got) != 2 {
		t.Errorf("restarted History() = %v; want %v (epochs 1 and 3)", got, hist)
	}
	for _, k := range []string{"k1", "k2"} {
		if _, err := c.Get(ctx, "b", k); err != nil {
			t.Errorf("Get(b, %s) after restart: %v", k, err)
		}
	}
	if res := mustWrite(t, c, kvstore.Put("b", "k3", raw(`3`))); res.Seq != 3 || res.Epoch != 3 {
		t.Errorf("Write after restart = %+v; want seq 3 at epoch 3", res)
	}

	// A follow persists too, and so does fencing.
	if _, err := p.Node().Follow("http://127.0.0.1:1", 4); err != nil {
		t.Fatal(err)
	}
	p.Restart()
	if st := p.Node().Status(); st.Role != kvstore.RoleReplica || st.Epoch != 4 || st.Primary != "http://127.0.0.1:1" || st.LastSeq != 3 {
		t.Errorf("restarted replica Status() = %+v; want replica of http://127.0.0.1:1 at epoch 4 with 3 entries", st)
	}
	if _, err := p.Node().Promote(5); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := call(t, "POST", p.URL+"/v1/write", `{"ops":[{"op":"put","bucket":"b","key":"k","value":1}]}`, "X-Fencing-Epoch", "6"); code != 409 {
		t.Fatalf("write with epoch 6 at epoch 5 = %d; want 409", code)
	}
	p.Restart()
	if err := p.Node().Ready(ctx); err == nil {
		t.Errorf("restarted fenced store Ready() = nil; want an error (still fenced)")
	}
	if _, err := c.Write(ctx, kvstore.Put("b", "k", raw(`1`))); !errors.Is(err, kvstore.ErrEpochConflict) {
		t.Errorf("Write to the restarted fenced store error = %v; want ErrEpochConflict", err)
	}
}

func TestReplicaWithoutPrimaryTakesTheFlagOnRestart(t *testing.T) {
	r := kvstoretest.Start(t, "", kvstore.WithMode(kvstore.RoleReplica))
	if st := r.Node().Status(); st.Role != kvstore.RoleReplica || st.Primary != "" {
		t.Fatalf("Status() = %+v; want a replica with no primary", st)
	}
	r.Restart(kvstore.WithPrimary("http://127.0.0.1:1"))
	if st := r.Node().Status(); st.Primary != "http://127.0.0.1:1" {
		t.Errorf("restarted with a primary: Status() = %+v; want primary http://127.0.0.1:1", st)
	}
	r.Restart(kvstore.WithPrimary("http://127.0.0.1:2"))
	if st := r.Node().Status(); st.Primary != "http://127.0.0.1:1" {
		t.Errorf("restarted with another primary: Status() = %+v; want the persisted http://127.0.0.1:1", st)
	}
}

func TestFencing(t *testing.T) {
	ctx := context.Background()
	p := kvstoretest.Start(t, "")
	at := func(epoch uint64) *kvstore.Client {
		return kvstore.NewClient(func(context.Context) (kvstore.Target, error) {
			return kvstore.Target{URL: p.URL, Epoch: epoch}, nil
		}, hc)
	}
	if _, err := p.Node().Promote(2); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, at(2), kvstore.Put("b", "k", raw(`1`)))
	mustWrite(t, at(0), kvstore.Put("b", "k", raw(`2`))) // no header: no check

	// A stale client is refused; the store goes on.
	_, err := at(1).Write(ctx, kvstore.Put("b", "k", raw(`3`)))
	var se *kvstore.StatusError
	if !errors.Is(err, kvstore.ErrEpochConflict) || !errors.As(err, &se) || se.StoreEpoch != 2 || se.RequestEpoch != 1 {
		t.Errorf("Write at epoch 1 to a store at 2 error = %v; want ErrEpochConflict with epochs 2 and 1", err)
	}
	mustWrite(t, at(2), kvstore.Put("b", "k", raw(`4`)))
	if got := p.Metric("refapp_store_writes_total", "result", "stale_epoch"); got != 1 {
		t.Errorf("refapp_store_writes_total{result=stale_epoch} = %v; want 1", got)
	}

	// A higher epoch proves the store stale: 409, and no write from then on.
	if _, err := at(3).Write(ctx, kvstore.Put("b", "k", raw(`5`))); !errors.Is(err, kvstore.ErrEpochConflict) {
		t.Errorf("Write at epoch 3 to a store at 2 error = %v; want ErrEpochConflict", err)
	}
	for _, epoch := range []uint64{0, 2, 3} {
		if _, err := at(epoch).Write(ctx, kvstore.Put("b", "k", raw(`6`))); !errors.Is(err, kvstore.ErrEpochConflict) {
			t.Errorf("Write at epoch %d to a fenced store error = %v; want ErrEpochConflict", epoch, err)
		}
	}
	if item, err := at(0).Get(ctx, "b", "k"); err != nil || string(item.Value) != "4" {
		t.Errorf("Get(b, k) on the fenced store = %+v, %v; want the last accepted value 4", item, err)
	}
	if got := p.Metric("refapp_store_is_primary"); got != 0 {
		t.Errorf("fenced refapp_store_is_primary = %v; want 0", got)
	}
	if code, body, _ := call(t, "GET", p.URL+"/v1/status", ""); code != 200 || !strings.Contains(body, `"role":"primary"`) || !strings.Contains(body, `"epoch":2`) {
		t.Errorf("fenced GET /v1/status = %d %s; want role primary at epoch 2", code, body)
	}

	// Told to follow, it is a replica; promoted later, it writes again.
	if _, err := p.Node().Follow("http://127.0.0.1:1", 3); err != nil {
		t.Fatalf("Follow after fencing: %v", err)
	}
	if _, err := p.Node().Promote(4); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, at(4), kvstore.Put("b", "k", raw(`7`)))

	// A replica's poll with a higher epoch fences a primary too.
	if code, _, _ := call(t, "GET", p.URL+"/v1/repl/log?after=0&epoch=9&node=x&wait=0s", ""); code != 409 {
		t.Errorf("poll at epoch 9 of a primary at 4 = %d; want 409", code)
	}
	if _, err := at(4).Write(ctx, kvstore.Put("b", "k", raw(`8`))); !errors.Is(err, kvstore.ErrEpochConflict) {
		t.Errorf("Write after a poll at a higher epoch error = %v; want ErrEpochConflict (fenced)", err)
	}
}

func TestFollowDiscardsDivergentWrites(t *testing.T) {
	ctx := context.Background()
	a := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"))...)
	b := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("b"),
		kvstore.WithMode(kvstore.RoleReplica), kvstore.WithPrimary(a.URL))...)
	ca, cb := kvstore.NewClient(kvstore.FixedPrimary(a.URL), hc), kvstore.NewClient(kvstore.FixedPrimary(b.URL), hc)
	for i := range 5 {
		mustWrite(t, ca, kvstore.Put("b", fmt.Sprintf("shared%d", i), raw(`1`)))
	}
	kvstoretest.WaitFor(t, wait, "b applied 5", func() bool { return b.Node().Status().AppliedSeq == 5 })

	b.StopPull()
	const n = 7
	for i := range n {
		mustWrite(t, ca, kvstore.Put("b", fmt.Sprintf("lost%d", i), raw(`1`)), kvstore.Put("b", "shared0", raw(`"overwritten"`)))
	}
	if _, err := b.Node().Promote(2); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustWrite(t, cb, kvstore.Put("b", fmt.Sprintf("new%d", i), raw(`2`)))
	}
	if _, err := a.Node().Follow(b.URL, 2); err != nil {
		t.Fatal(err)
	}
	kvstoretest.WaitFor(t, wait, "a discarded and caught up", func() bool {
		return a.Metric("refapp_store_discarded_writes_total") == n && a.Node().Status().AppliedSeq == 8
	})
	if got := a.Metric("refapp_store_discarded_writes_total"); got != n {
		t.Errorf("refapp_store_discarded_writes_total = %v; want %d", got, n)
	}
	want, _ := cb.List(ctx, "b", kvstore.ListOptions{Limit: 1000})
	got, _ := ca.List(ctx, "b", kvstore.ListOptions{Limit: 1000})
	if !slices.EqualFunc(got, want, func(x, y kvstore.KV) bool { return x.Key == y.Key && bytes.Equal(x.Value, y.Value) }) {
		t.Errorf("a's data after follow = %v; want b's %v", got, want)
	}
	for i := range n {
		k := fmt.Sprintf("lost%d", i)
		for name, c := range map[string]*kvstore.Client{"a": ca, "b": cb} {
			if _, err := c.Get(ctx, "b", k); !errors.Is(err, kvstore.ErrNotFound) {
				t.Errorf("%s Get(b, %s) error = %v; want ErrNotFound (discarded)", name, k, err)
			}
		}
	}
	if item, err := ca.Get(ctx, "b", "shared0"); err != nil || string(item.Value) != "1" || item.Seq != 1 {
		t.Errorf("a Get(b, shared0) = %+v, %v; want 1 from seq 1 (the overwrite was discarded)", item, err)
	}
	if st := a.Node().Status(); st.Role != kvstore.RoleReplica || st.Epoch != 2 || st.LastSeq != 8 {
		t.Errorf("a Status() = %+v; want replica at epoch 2 with 8 entries", st)
	}
	if got, want := a.Node().History(), b.Node().History(); !slices.Equal(got, want) {
		t.Errorf("a History() = %v; want b's %v", got, want)
	}
	// Following again discards nothing more.
	mustWrite(t, cb, kvstore.Put("b", "later", raw(`3`)))
	kvstoretest.WaitFor(t, wait, "a applied 9", func() bool { return a.Node().Status().AppliedSeq == 9 })
	if got := a.Metric("refapp_store_discarded_writes_total"); got != n {
		t.Errorf("refapp_store_discarded_writes_total after more writes = %v; want still %d", got, n)
	}
}

// TestPrimaryRead: a read that carries X-Fencing-Epoch is answered only by
// the unfenced primary at that epoch; one without it by any node.
func TestPrimaryRead(t *testing.T) {
	p := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("p"))...)
	r := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("r"),
		kvstore.WithMode(kvstore.RoleReplica), kvstore.WithPrimary(p.URL))...)
	mustWrite(t, kvstore.NewClient(kvstore.FixedPrimary(p.URL), hc), kvstore.Put("b", "k", raw(`1`)))
	kvstoretest.WaitFor(t, wait, "r applied 1", func() bool { return r.Node().Status().AppliedSeq == 1 })
	get, list := "/v1/get?bucket=b&key=k", "/v1/list?bucket=b"
	for _, tt := range []struct {
		name, url, path string
		header          []string // name, value
		code            int
		body            string // a part of the answer
	}{
		// Without the header any node answers from its own data.
		{"replica, no header", r.URL, get, nil, 200, `"value":1`},
		{"primary, no header", p.URL, get, nil, 200, `"value":1`},
		// The primary at the named epoch answers; 0 names any epoch.
		{"primary at its epoch", p.URL, get, []string{kvstore.FencingHeader, "1"}, 200, `"value":1`},
		{"primary at any epoch", p.URL, get, []string{kvstore.FencingHeader, "0"}, 200, `"value":1`},
		{"primary list at its epoch", p.URL, list, []string{kvstore.FencingHeader, "1"}, 200, `"key":"k"`},
		{"primary, absent key", p.URL, "/v1/get?bucket=b&key=none", []string{kvstore.FencingHeader, "1"}, 404, "not found"},
		// A replica refuses: its copy may lag.
		{"replica get", r.URL, get, []string{kvstore.FencingHeader, "1"}, 503, kvstore.MsgNotPrimary},
		{"replica list", r.URL, list, []string{kvstore.FencingHeader, "0"}, 503, kvstore.MsgNotPrimary},
		{"bad header", p.URL, get, []string{kvstore.FencingHeader, "x"}, 400, kvstore.FencingHeader},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := call(t, "GET", tt.url+tt.path, "", tt.header...)
			if code != tt.code || !strings.Contains(body, tt.body) {
				t.Errorf("GET %s %v = %d %s; want %d with %q", tt.path, tt.header, code, body, tt.code, tt.body)
			}
		})
	}

	// A higher epoch proves the primary deposed: 409, and it is fenced, so
	// that no primary read (nor write) is answered by it from then on.
	if code, body, _ := call(t, "GET", p.URL+get, "", kvstore.FencingHeader, "2"); code != 409 {
		t.Errorf("primary read at epoch 2 of a primary at 1 = %d %s; want 409", code, body)
	}
	for _, epoch := range []string{"0", "1"} {
		if code, body, _ := call(t, "GET", p.URL+get, "", kvstore.FencingHeader, epoch); code != 409 {
			t.Errorf("primary read at epoch %s of a fenced primary = %d %s; want 409", epoch, code, body)
		}
	}
	if got := p.Metric("refapp_store_is_primary"); got != 0 {
		t.Errorf("refapp_store_is_primary after a read at a higher epoch = %v; want 0 (fenced)", got)
	}
}
