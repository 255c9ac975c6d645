package local

// Acceptance tests of the store's disaster-recovery, read-replica and
// status patterns (reference-app/ARCHITECTURE.md: "Backups and restore
// drills", "Read replicas", "User-facing status"), against the real
// processes of the local topology.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// noStoreReplicas as Refapp.StoreReplicas asks startTopology for a store
// primary alone.
const noStoreReplicas = -1

// putKV writes one per-user key through the gateway (one store write) and
// reports whether it was acknowledged (204).
func (c *client) putKV(base, key, value string) bool {
	resp, _, err := c.do("PUT", base+"/v1/kv/"+key, map[string]string{"value": value}, nil)
	return err == nil && resp.StatusCode == http.StatusNoContent
}

// getKV reads one per-user key through the gateway: its status and value.
func (c *client) getKV(base, key string) (int, string) {
	resp, body, err := c.do("GET", base+"/v1/kv/"+key, nil, nil)
	if err != nil {
		return 0, ""
	}
	var kv struct {
		Value string `json:"value"`
	}
	_ = json.Unmarshal(body, &kv)
	return resp.StatusCode, kv.Value
}

// 8. Disaster-recovery drill: N acknowledged writes, a backup, M more, the
// store's data destroyed; the restore brings back exactly the N, and the
// store rejoins as primary at a new epoch.
func TestPatternBackupRestoreDrill(t *testing.T) {
	const restartDelay = 3 * time.Second // the restore must run before the supervisor restarts the store
	tg := startTopology(t, Refapp{APIReplicas: 1, StoreReplicas: noStoreReplicas, RestartDelay: restartDelay})
	c := newClient(t, tg.Token)
	const n, m = 40, 25
	for i := range n {
		if !c.putKV(tg.BaseURL, fmt.Sprintf("drill-n%d", i), fmt.Sprint(i)) {
			t.Fatalf("write drill-n%d not acknowledged", i)
		}
	}
	resp, body, err := c.do("POST", tg.URLs["store-1"]+"/v1/admin/backup", nil, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/admin/backup = %v %s %v", resp, body, err)
	}
	var man struct {
		ID    string `json:"id"`
		Seq   uint64 `json:"seq"`
		Epoch uint64 `json:"epoch"`
		Size  int64  `json:"size"`
	}
	if err := json.Unmarshal(body, &man); err != nil || man.Seq == 0 {
		t.Fatalf("backup manifest %s: %v", body, err)
	}
	if v, _ := metric(t, tg, "store-1", "refapp_store_backup_last_sequence", nil); v != float64(man.Seq) {
		t.Errorf("refapp_store_backup_last_sequence = %v; want %d", v, man.Seq)
	}
	for i := range m {
		if !c.putKV(tg.BaseURL, fmt.Sprintf("drill-m%d", i), fmt.Sprint(i)) {
			t.Fatalf("write drill-m%d not acknowledged", i)
		}
	}
	before, ok := primary(t, tg)
	if !ok {
		t.Fatal("no primary before the disaster")
	}

	// The disaster: the store dies and its data is gone.
	disaster := time.Now()
	pid := signalProc(t, tg, "store-1", syscall.SIGKILL)
	eventually(t, restartDelay, "store-1 exits", func() bool {
		procs := tg.Supervisor.Select(map[string]string{"instance": "store-1"})
		if len(procs) > 0 && procs[0].PID != pid {
			t.Fatalf("the supervisor restarted store-1 before the restore (restart delay %v): the drill lost its race", restartDelay)
		}
		return len(procs) == 0
	})
	dataDir := filepath.Join(tg.DataDir, "store-1")
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}

	// The restore, as an operator runs it.
	restoreStart := time.Now()
	cmd := exec.Command(sharedRefapp(t), "restore", "--data-dir="+dataDir,
		"--backup-dir="+filepath.Join(tg.DataDir, "backups"), "--sentinel="+tg.URLs["sentinel"])
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("refapp restore: %v\n%s", err, stderr.String())
	}
	restoreWall := time.Since(restoreStart)
	var restored struct {
		Msg      string  `json:"msg"`
		Backup   string  `json:"backup"`
		Seq      uint64  `json:"seq"`
		Epoch    uint64  `json:"epoch"`
		Duration float64 `json:"durationSeconds"`
	}
	for sc := bufio.NewScanner(&stderr); sc.Scan(); {
		var line struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "restored" {
			_ = json.Unmarshal(sc.Bytes(), &restored)
		}
	}
	if restored.Backup != man.ID || restored.Seq != man.Seq || restored.Epoch <= uint64(before.Epoch) {
		t.Fatalf("restore = %+v; want backup %s at seq %d, at an epoch above %d", restored, man.ID, man.Seq, before.Epoch)
	}

	// The supervisor restarts the store on the restored data; the sentinel
	// adopts it as primary at the new epoch.
	eventually(t, 20*time.Second, "the restored store-1 is primary at the new epoch", func() bool {
		p, ok := primary(t, tg)
		return ok && p.Name == "store-1" && p.Epoch == int64(restored.Epoch)
	})
	var rto time.Duration
	eventually(t, 20*time.Second, "the api reads again", func() bool {
		code, _ := c.getKV(tg.BaseURL, "drill-n0")
		rto = time.Since(disaster)
		return code == http.StatusOK
	})
	// Exactly the N writes of the backup.
	for i := range n {
		if code, v := c.getKV(tg.BaseURL, fmt.Sprintf("drill-n%d", i)); code != http.StatusOK || v != fmt.Sprint(i) {
			t.Errorf("write drill-n%d (in the backup) after the restore = %d %q; want 200 %q", i, code, v, fmt.Sprint(i))
		}
	}
	lost := 0
	for i := range m {
		switch code, _ := c.getKV(tg.BaseURL, fmt.Sprintf("drill-m%d", i)); code {
		case http.StatusNotFound:
			lost++
		default:
			t.Errorf("write drill-m%d (after the backup) after the restore = %d; want 404", i, code)
		}
	}
	if v, _ := metric(t, tg, "store-1", "refapp_store_restored_sequence", nil); v != float64(man.Seq) {
		t.Errorf("refapp_store_restored_sequence = %v; want %d", v, man.Seq)
	}
	restoreMetric, _ := metric(t, tg, "store-1", "refapp_store_restore_duration_seconds", nil)
	// Writes go on at the new epoch.
	if !c.putKV(tg.BaseURL, "drill-after", "1") {
		t.Error("a write after the restore was not acknowledged")
	}
	t.Logf("restore drill: backup %s (seq %d, %d bytes); restore %.1f ms (command %v wall, store metric %.1f ms); "+
		"RTO from the disaster to the first read %v (the supervisor's restart delay %v included); "+
		"RPO: %d writes after the backup lost of %d; epoch %d → %d",
		man.ID, man.Seq, man.Size, restored.Duration*1000, restoreWall.Round(time.Millisecond), restoreMetric*1000,
		rto.Round(time.Millisecond), restartDelay, lost, m, before.Epoch, restored.Epoch)
}

// feedRead is one GET /v1/feed: when it began, which store node answered
// and the post ids it held.
type feedRead struct {
	start time.Time
	from  string
	ids   map[string]bool
}

// ack is one acknowledged post.
type ack struct {
	id string
	at time.Time
}

// 9. Read replicas under slowed replication: feed reads are served by the
// replica while it can promise the bound, by the primary otherwise, and no
// answer misses a post acknowledged more than the bound before the read.
func TestPatternReadReplicasBoundedStaleness(t *testing.T) {
	const bound = time.Second
	tg := startTopology(t, Refapp{APIReplicas: 1, RestartDelay: time.Second, ExtraArgs: map[string][]string{
		"api":   {"--replica-max-staleness=" + bound.String(), "--feed-fresh=0"},
		"store": {"--poll-wait=200ms"},
	}})
	c := newClient(t, tg.Token)
	proxy, err := tg.Toxiproxy.Proxy(tg.Links["repl-store-1"].Proxy)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the replica serves (the sentinel names it to the api).
	eventually(t, 15*time.Second, "a feed read served by store-2", func() bool {
		resp, _, err := c.do("GET", tg.BaseURL+"/v1/feed", nil, nil)
		return err == nil && resp.Header.Get("X-Refapp-Read-From") == "store-2"
	})

	phase := func(latency time.Duration) (reads []feedRead, acks []ack) {
		t.Helper()
		if _, err := proxy.AddToxic("slow", "latency", "downstream", 1, toxiclient.Attributes{"latency": latency.Milliseconds()}); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := proxy.RemoveToxic("slow"); err != nil {
				t.Errorf("remove the toxic: %v", err)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var mu sync.Mutex // guards acks
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				id, code := c.post(tg.BaseURL, fmt.Sprintf("stale %v %d", latency, i), "")
				if code == http.StatusCreated {
					mu.Lock()
					acks = append(acks, ack{id, time.Now()})
					mu.Unlock()
				}
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond): // the writer's pace
				}
			}
		})
		for ctx.Err() == nil {
			start := time.Now()
			resp, body, err := c.do("GET", tg.BaseURL+"/v1/feed?limit=100", nil, nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("feed read = %v %v", resp, err)
				continue
			}
			var fd struct {
				Items []struct {
					ID string `json:"id"`
				} `json:"items"`
			}
			if err := json.Unmarshal(body, &fd); err != nil {
				t.Fatal(err)
			}
			r := feedRead{start: start, from: resp.Header.Get("X-Refapp-Read-From"), ids: map[string]bool{}}
			for _, it := range fd.Items {
				r.ids[it.ID] = true
			}
			reads = append(reads, r)
		}
		wg.Wait()
		return reads, acks
	}
	check := func(name string, reads []feedRead, acks []ack) (replica, primaryReads int, worst time.Duration) {
		t.Helper()
		if len(acks) > 100 {
			t.Fatalf("%s: %d posts: more than a feed of 100 holds", name, len(acks))
		}
		for _, r := range reads {
			switch r.from {
			case "store-2":
				replica++
			case "primary":
				primaryReads++
			default:
				t.Errorf("%s: a feed read from %q; want store-2 or primary", name, r.from)
			}
			// The oldest post acknowledged before the read began that the
			// read misses: the read was at least that stale (every post
			// acknowledged before it is in).
			for _, a := range acks {
				if a.at.Before(r.start) && !r.ids[a.id] {
					worst = max(worst, r.start.Sub(a.at))
					if r.start.Sub(a.at) > bound {
						t.Errorf("%s: a read from %s at %s misses post %s acknowledged %v before: staler than %v",
							name, r.from, r.start.Format(time.StampMilli), a.id, r.start.Sub(a.at), bound)
					}
					break
				}
			}
		}
		return replica, primaryReads, worst
	}
	// Replication slowed by 300 ms: the replica keeps within the bound.
	reads, acks := phase(300 * time.Millisecond)
	rep, prim, worst := check("latency 300ms", reads, acks)
	t.Logf("latency 300ms: %d reads (%d from the replica, %d from the primary), %d posts, worst staleness seen %v (bound %v)",
		len(reads), rep, prim, len(acks), worst, bound)
	if rep == 0 {
		t.Errorf("latency 300ms: no read served by the replica")
	}
	// Slowed by 1.5 s: the replica cannot promise 1 s; the primary serves.
	reads, acks = phase(1500 * time.Millisecond)
	rep, prim, worst = check("latency 1.5s", reads, acks)
	t.Logf("latency 1.5s: %d reads (%d from the replica, %d from the primary), %d posts, worst staleness seen %v (bound %v)",
		len(reads), rep, prim, len(acks), worst, bound)
	if prim == 0 {
		t.Errorf("latency 1.5s: no read fell back to the primary")
	}
	if tooStale, _ := metric(t, tg, "api-1", "refapp_api_replica_reads_total", map[string]string{"result": "too_stale"}); tooStale == 0 {
		t.Errorf("refapp_api_replica_reads_total{result=too_stale} = 0; want the replica's refusals counted")
	}
}

// statusReport is the gateway's GET /v1/status.
type statusReport struct {
	Status     string `json:"status"`
	Stale      bool   `json:"stale"`
	Components []struct {
		Name    string `json:"name"`
		State   string `json:"state"`
		Message string `json:"message"`
	} `json:"components"`
}

func (s statusReport) states() map[string]string {
	m := map[string]string{}
	for _, c := range s.Components {
		m[c.Name] = c.State
	}
	return m
}

// status reads the gateway's GET /v1/status.
func status(t *testing.T, tg *Target) (statusReport, bool) {
	resp, body, err := newClient(t, "").do("GET", tg.BaseURL+"/v1/status", nil, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		return statusReport{}, false
	}
	var s statusReport
	return s, json.Unmarshal(body, &s) == nil
}

// 10. User-facing status: with the cache cut, the cache is degraded and the
// rest operational; with every api cut off, the page still answers, from
// its last copy, saying the api is down.
func TestPatternStatusPage(t *testing.T) {
	tg := startTopology(t, Refapp{APIReplicas: 2, RestartDelay: time.Second})
	want := func(what, overall string, states map[string]string, stale bool) statusReport {
		t.Helper()
		var last statusReport
		eventually(t, 15*time.Second, what, func() bool {
			s, ok := status(t, tg)
			last = s
			if !ok || s.Status != overall || s.Stale != stale || len(s.Components) != len(states) {
				return false
			}
			for k, v := range s.states() {
				if states[k] != v {
					return false
				}
			}
			return true
		})
		for _, c := range last.Components {
			if c.Message == "" {
				t.Errorf("%s: component %s has no message", what, c.Name)
			}
		}
		return last
	}
	all := func(state string) map[string]string {
		return map[string]string{"api": state, "store": state, "cache": state, "queue": state}
	}
	want("all operational", "operational", all("operational"), false)

	setLink(t, tg, "api-cache", false)
	cut := want("cache degraded, the rest operational", "degraded",
		map[string]string{"api": "operational", "store": "operational", "cache": "degraded", "queue": "operational"}, false)
	t.Logf("with the cache cut: %+v", cut)
	setLink(t, tg, "api-cache", true)
	want("all operational again", "operational", all("operational"), false)

	// Every api cut off from the gateway: the page stays up.
	for _, l := range []string{"gateway-api-1", "gateway-api-2"} {
		setLink(t, tg, l, false)
	}
	down := want("api outage from the last copy", "outage",
		map[string]string{"api": "outage", "store": "operational", "cache": "operational", "queue": "operational"}, true)
	if !strings.Contains(fmt.Sprint(down.Components), "cannot be reached") {
		t.Errorf("status with every api down = %+v; want the api's message to say it cannot be reached", down)
	}
}
