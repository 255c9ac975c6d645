package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gameday/gameday/reports"
)

// An exec action fault whose command fails or times out, or an http action
// fault answered 500, fails the run with exit 3 and the command's output or
// the answer in the report; a successful one keeps its output (acceptance 6
// of the faults issue).
func TestActionFaultsFailTheRunWithTheirOutput(t *testing.T) {
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/failover" {
			http.Error(w, "database is read-only", http.StatusInternalServerError)
		}
	}))
	defer svc.Close()
	for _, tt := range []struct {
		name, fault string
		code        int
		want        []string // in the report's fault
	}{
		{"exec fails", `{name: restore, at: 200ms, exec: {command: [sh, -c, "echo restoring; echo disk full >&2; exit 4"]}}`,
			exitAborted, []string{"exit 4", "restoring", "disk full"}},
		{"exec times out", `{name: restore, at: 200ms, exec: {command: [sh, -c, "echo started; sleep 30"], timeout: 300ms}}`,
			exitAborted, []string{"timed out after 300ms", "started"}},
		{"http 500", `{name: failover, at: 200ms, http: {url: '{{.URL "admin"}}/failover', retries: 1}}`,
			exitAborted, []string{"500", "database is read-only"}},
		{"exec succeeds", `{name: restore, at: 200ms, exec: {command: [sh, -c, "echo restored 42 rows"]}}`,
			exitOK, []string{"restored 42 rows"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "action.yaml", fmt.Sprintf(`apiVersion: gameday/v1
kind: Scenario
name: action
target: {external: {baseURL: %s, urls: {admin: %s/admin}}}
metrics: {scrapeInterval: 250ms}
load: [{name: l, duration: 2s, profile: {constant: {rate: 10/s}}, requests: [{url: "{{.Base}}/"}]}]
faults: [%s]
checks: {slos: [{name: ok, client: {sli: success_ratio}, objective: ">= 0.5"}]}
`, svc.URL, svc.URL, tt.fault))
			out := t.TempDir()
			code, stdout, stderr := cli(t, context.Background(), "run", path, "--out", out)
			if code != tt.code {
				t.Fatalf("run = exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			rep := readReport(t, runDir(t, out))
			var got []string
			for _, f := range rep.Faults {
				got = append(got, f.Error+" | "+f.Action+" | "+f.Output)
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("report faults:\n%s\nwant them to show %q", all, w)
				}
			}
			if tt.code == exitAborted {
				if rep.Status != reports.StatusAborted || !strings.Contains(stderr, tt.want[0]) {
					t.Errorf("report %s (%s), stderr:\n%s\nwant aborted and the failure on stderr", rep.Status, rep.Reason, stderr)
				}
			}
		})
	}
}
