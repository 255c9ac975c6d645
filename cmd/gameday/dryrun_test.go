package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// A dry run against an external target starts it (the proxy the scenario
// declares is created, then removed), prints each fault with its times and
// what it would do, and exits 0 having injected nothing, sent no load and
// written no run directory.
func TestDryRun(t *testing.T) {
	l := newExternalLab(t)
	var mu sync.Mutex
	hits := map[string]int{}
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.Method+" "+r.URL.Path]++
		mu.Unlock()
	}))
	t.Cleanup(service.Close)
	path := writeFile(t, "dry.yaml", fmt.Sprintf(`apiVersion: gameday/v1
kind: Scenario
name: dry
target:
  external:
    baseURL: "%[1]s"
    urls: {admin: "%[1]s"}
    toxiproxy:
      url: %[2]s
      links:
        - {name: edge, listen: "%[3]s", upstream: "%[4]s"}
        - {name: existing, proxy: %[5]s}
load: [{name: l, duration: 30s, profile: {constant: {rate: 50/s}}, requests: [{url: "{{.Base}}/load"}]}]
faults:
  - {name: slow, at: 5s, for: 10s, network: {link: edge, toxic: latency, latency: 50ms}}
  - {name: cut, at: 20s, repeat: {every: 4s, count: 2}, for: 2s, network: {link: existing, toxic: down}}
  - {name: failover, at: 25s, http: {url: '{{.URL "admin"}}/failover'}}
checks: {slos: [{name: ok, client: {sli: success_ratio}, objective: ">= 0"}]}
`, service.URL, l.toxiproxy, l.listen, service.Listener.Addr(), l.existing))
	out := t.TempDir()
	code, stdout, stderr := cli(t, context.Background(), "run", "--dry-run", path, "--out", out)
	t.Logf("run --dry-run stdout:\n%s", stdout)
	if code != exitOK {
		t.Fatalf("run --dry-run = exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0", code, stdout, stderr)
	}
	for _, want := range []string{
		"gameday: dry run of dry (" + path + "): nothing is injected, no load is sent, no run directory is written\n",
		"target external started\n",
		"  baseURL: " + service.URL + "\n",
		"load would run for 30s\n",
		"fault slow (network) at +5s for 10s: would add latency 50ms downstream on link edge\n",
		"fault cut (network) at +20s, +24s for 2s: would cut link existing (proxy disabled)\n",
		`fault failover (http) at +25s (ends by itself): would POST {{.URL "admin"}}/failover` + "\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("run --dry-run stdout:\n%s\nwant it to contain %q", stdout, want)
		}
	}
	if entries, err := os.ReadDir(out); err != nil || len(entries) != 0 {
		t.Errorf("run --dry-run left %d entries in --out (%v); want none", len(entries), err)
	}
	if d := l.dirty(t); d != "" {
		t.Errorf("after run --dry-run the toxiproxy holds %s; want nothing of gameday's", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits["POST /failover"] != 0 || hits["GET /load"] != 0 {
		t.Errorf("run --dry-run sent %v; want no load and no action (only the reachability check of the base URL)", hits)
	}
}
