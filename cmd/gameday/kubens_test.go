package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A scenario naming kube-system, or a namespace the target does not list,
// exits 2 before touching anything: its cluster (a server that counts
// requests) is never called (acceptance 3 of the Kubernetes issue). No
// control plane needed.
func TestKubernetesNamespacesRefusedBeforeAnyCall(t *testing.T) {
	var calls atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer api.Close()
	kubeconfig := writeFile(t, "kubeconfig", fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %s}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, api.URL))
	for _, tt := range []struct{ name, namespaces, podNS, want string }{
		{"kube-system listed", "[shop, kube-system]", "shop", "kube-system is never a target"},
		{"kube-system in the fault", "[shop]", "kube-system", "kube-system is never a target"},
		{"unlisted namespace", "[shop]", "billing", `namespace "billing" is not one of the target's namespaces`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			scenario := writeFile(t, "ns.yaml", fmt.Sprintf(`apiVersion: gameday/v1
kind: Scenario
name: ns
target: {kubernetes: {baseURL: http://127.0.0.1:1, kubeconfig: %s, namespaces: %s}}
load: [{name: l, duration: 2s, profile: {constant: {rate: 1/s}}, requests: [{url: "{{.Base}}/"}]}]
faults: [{name: kill, at: 1s, pod: {namespace: %s, labelSelector: app=api}}]
checks: {slos: [{name: ok, client: {sli: success_ratio}, objective: ">= 0"}]}
`, kubeconfig, tt.namespaces, tt.podNS))
			for _, args := range [][]string{{"run", scenario, "--out", t.TempDir()}, {"run", "--dry-run", scenario}} {
				code, _, stderr := cli(t, context.Background(), args...)
				if code != exitUsage || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "ns.yaml:") {
					t.Errorf("%v = exit %d\n%s\nwant exit 2 naming the file and %q", args[:len(args)-1], code, stderr, tt.want)
				}
			}
			if n := calls.Load(); n != 0 {
				t.Errorf("the cluster's API was called %d times; want none", n)
			}
		})
	}
}
