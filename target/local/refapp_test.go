package local

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target/local/localtest"
)

func TestStartRefappServesThroughEveryLink(t *testing.T) {
	bin, err := localtest.BuildRefapp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	target, err := StartRefapp(ctx, Refapp{Binary: bin, APIReplicas: 3, StoreReplicas: 1, RestartDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Stop(context.Background()) })

	// The target is what scenarios validate faults against: the same links
	// and the same processes with the same labels.
	decl := scenarios.Target{Local: &scenarios.LocalTarget{APIReplicas: 3, StoreReplicas: 1}}.Declaration()
	if got, want := slices.Sorted(maps.Keys(target.Links)), slices.Sorted(slices.Values(decl.Links)); !slices.Equal(got, want) {
		t.Errorf("links = %v; want the scenario's %v", got, want)
	}
	var wantProcs, gotProcs []string
	for _, in := range decl.Instances {
		wantProcs = append(wantProcs, fmt.Sprint(in.Labels))
		if got := target.Supervisor.Select(in.Labels); len(got) != 1 {
			t.Errorf("processes with labels %v: %v; want one", in.Labels, got)
		}
	}
	for _, st := range target.Scrape {
		gotProcs = append(gotProcs, fmt.Sprint(st.Labels))
	}
	slices.Sort(wantProcs)
	slices.Sort(gotProcs)
	if !slices.Equal(gotProcs, wantProcs) {
		t.Errorf("scrape targets %v; want one per process of the scenario: %v", gotProcs, wantProcs)
	}
	// Round robin through the client-gateway proxy reaches every replica.
	seen := map[string]bool{}
	for range 9 {
		resp, err := http.Get(target.BaseURL + "/v1/feed")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/feed = %d; want 200", resp.StatusCode)
		}
		seen[resp.Header.Get("X-Refapp-Instance")] = true
	}
	if len(seen) != 3 {
		t.Errorf("replicas seen through the gateway: %v; want api-1..3", seen)
	}
	for _, st := range target.Scrape {
		resp, err := http.Get(st.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "refapp_http_requests_total") {
			t.Errorf("%s (%v) lacks refapp_http_requests_total", st.URL, st.Labels)
		}
	}

	pids := target.Supervisor.PIDs()
	if err := target.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for name, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) alive after Stop", name, pid)
		}
	}
	if _, err := http.Get(target.BaseURL + "/healthz"); err == nil {
		t.Errorf("the client-gateway proxy still answers after Stop")
	}
}

func TestFindBinary(t *testing.T) {
	if _, err := FindBinary("/no/such/refapp"); err == nil {
		t.Error("FindBinary(missing explicit path) = nil error; want one")
	}
	t.Setenv("PATH", t.TempDir())
	_, err := FindBinary("")
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("FindBinary(\"\") with nothing around = %v; want an error that says how to fix it", err)
	}
	self, _ := os.Executable()
	if got, err := FindBinary(self); err != nil || got != self {
		t.Errorf("FindBinary(%q) = %q, %v; want it back", self, got, err)
	}
}

// alive reports whether pid is a live process (a zombie is not).
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "stat"))
	if err != nil {
		return false
	}
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] != 'Z'
		}
	}
	return true
}
