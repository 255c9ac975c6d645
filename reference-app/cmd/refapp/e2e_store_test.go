package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/gameday/gameday/reference-app/kvstore"
	"github.com/gameday/gameday/reference-app/sentinel"
)

// TestEndToEndStoreFailover runs three store processes in sync mode and a
// sentinel, writes through the sentinel's view of the primary, SIGKILLs the
// primary and checks that the sentinel promotes a replica at epoch 2, that
// writes resume there and that every acknowledged write is on it. It then
// restarts the old primary on its data dir and port: it comes back as it
// was (primary at epoch 1 with its log), is told to follow, and catches up.
func TestEndToEndStoreFailover(t *testing.T) {
	ctx := context.Background()
	storeArgs := func(name, dir string, extra ...string) []string {
		return append([]string{"--role=store", "--instance=store-" + name, "--node=" + name,
			"--data-dir=" + dir, "--replication=sync", "--sync-timeout=2s"}, extra...)
	}
	dirA := t.TempDir()
	a := startProc(t, "store-a", storeArgs("a", dirA)...)
	urlA := "http://" + a.addr
	b := startProc(t, "store-b", storeArgs("b", t.TempDir(), "--mode=replica", "--primary="+urlA)...)
	c := startProc(t, "store-c", storeArgs("c", t.TempDir(), "--mode=replica", "--primary="+urlA)...)
	urls := map[string]string{"a": urlA, "b": "http://" + b.addr, "c": "http://" + c.addr}
	s := startProc(t, "sentinel", "--role=sentinel", "--instance=sentinel", "--check-interval=50ms",
		"--stores=a="+urls["a"]+",b="+urls["b"]+",c="+urls["c"])
	urlS := "http://" + s.addr

	primary := func() sentinel.Primary {
		p, _ := sentinel.Lookup(ctx, client, urlS)
		return p
	}
	waitFor(t, "sentinel names a at epoch 1", func() bool { p := primary(); return p.Name == "a" && p.Epoch == 1 })

	kc := kvstore.NewClient(sentinel.PrimaryFunc(client, urlS), client)
	var keys []string
	write := func(key string) {
		t.Helper()
		waitFor(t, "write "+key+" acknowledged", func() bool {
			_, err := kc.Write(ctx, kvstore.Put("posts", key, json.RawMessage(`{"k":"`+key+`"}`)))
			return err == nil
		})
		keys = append(keys, key)
	}
	for i := range 20 {
		write(fmt.Sprintf("before%02d", i))
	}
	if err := a.stop(t, syscall.SIGKILL); err == nil {
		t.Errorf("store-a after SIGKILL exited cleanly; want killed")
	}
	waitFor(t, "sentinel promotes b or c at epoch 2", func() bool { p := primary(); return p.Epoch == 2 && p.Name != "a" && p.Name != "" })
	for i := range 20 {
		write(fmt.Sprintf("after%02d", i))
	}
	p := primary()
	if p.URL != urls[p.Name] {
		t.Errorf("sentinel's primary %+v; want the URL of %s, %s", p, p.Name, urls[p.Name])
	}
	onNew := kvstore.NewClient(kvstore.FixedPrimary(p.URL), client)
	st, err := onNew.Status(ctx)
	if err != nil || st.Role != kvstore.RolePrimary || st.Epoch != 2 || st.Replication != kvstore.Sync {
		t.Errorf("new primary status = %+v, %v; want a sync primary at epoch 2", st, err)
	}
	for _, k := range keys {
		if _, err := onNew.Get(ctx, "posts", k); err != nil {
			t.Errorf("acknowledged write %s: Get on the new primary %s: %v", k, p.Name, err)
		}
	}
	if got := metricValue(t, s.addr, "refapp_sentinel_failovers_total"); got != "1" {
		t.Errorf("refapp_sentinel_failovers_total = %s; want 1", got)
	}

	// The old primary restarts on its data dir and port.
	a2 := startProc(t, "store-a-restarted", append(storeArgs("a", dirA), "--listen="+a.addr)...)
	var opened struct {
		Msg     string
		Role    string
		Epoch   uint64
		LastSeq uint64
	}
	for line := range strings.SplitSeq(a2.stderr.String(), "\n") {
		if json.Unmarshal([]byte(line), &opened) == nil && opened.Msg == "store opened" {
			break
		}
	}
	if opened.Msg == "" || opened.Role != "primary" || opened.Epoch != 1 || opened.LastSeq < 20 {
		t.Errorf("restarted store-a opened as %+v; want its persisted state: primary at epoch 1 with >= 20 entries", opened)
	}
	onA := kvstore.NewClient(kvstore.FixedPrimary(urlA), client)
	waitFor(t, "store-a follows the new primary and catches up", func() bool {
		sa, err1 := onA.Status(ctx)
		sp, err2 := onNew.Status(ctx)
		return err1 == nil && err2 == nil && sa.Role == kvstore.RoleReplica && sa.Epoch == 2 &&
			sa.Primary == p.URL && sa.AppliedSeq == sp.LastSeq
	})
	for _, k := range keys {
		if _, err := onA.Get(ctx, "posts", k); err != nil {
			t.Errorf("Get(%s) on the restarted store-a: %v", k, err)
		}
	}
	if _, err := onA.Write(ctx, kvstore.Put("posts", "x", json.RawMessage(`1`))); !errors.Is(err, kvstore.ErrNotPrimary) {
		t.Errorf("Write to the restarted store-a error = %v; want ErrNotPrimary", err)
	}

	for _, proc := range []*proc{s, a2, b, c} {
		if err := proc.stop(t, syscall.SIGTERM); err != nil {
			t.Errorf("%s after SIGTERM: %v; want exit 0", proc.name, err)
		}
		if out := proc.stdout.String(); out != "" {
			t.Errorf("%s printed %q on stdout; want nothing", proc.name, out)
		}
		for line := range strings.SplitSeq(strings.TrimSpace(proc.stderr.String()), "\n") {
			if line != "" && !json.Valid([]byte(line)) {
				t.Errorf("%s wrote a non-JSON stderr line %q", proc.name, line)
			}
		}
	}
}

// TestEndToEndStoreReadiness checks the store's and the sentinel's /readyz
// and instance header.
func TestEndToEndStoreReadiness(t *testing.T) {
	st := startProc(t, "store", "--role=store", "--instance=store-1", "--data-dir="+t.TempDir())
	se := startProc(t, "sentinel", "--role=sentinel", "--instance=sentinel-1", "--check-interval=50ms",
		"--stores=s1=http://"+st.addr)
	ready := func(addr string) (int, string) {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0, ""
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("X-Refapp-Instance")
	}
	if code, inst := ready(st.addr); code != http.StatusOK || inst != "store-1" {
		t.Errorf("store /readyz = %d from %q; want 200 from store-1", code, inst)
	}
	waitFor(t, "sentinel ready once it knows the primary", func() bool { code, _ := ready(se.addr); return code == http.StatusOK })
	if err := st.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("store after SIGTERM: %v; want exit 0", err)
	}
	waitFor(t, "sentinel /readyz 503 once its only store is gone", func() bool {
		code, _ := ready(se.addr)
		return code == http.StatusServiceUnavailable
	})
}
