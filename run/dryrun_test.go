package run

import (
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/chaos/kube"
)

func TestWritePlan(t *testing.T) {
	plan := &Plan{
		Scenario: "shop", Target: "kubernetes", End: time.Minute,
		Attrs: map[string]string{"kubernetes.host": "https://10.0.0.1:6443", "baseURL": "http://shop.example.com"},
		Faults: []PlannedFault{
			{Name: "kill-api", Kind: "pod", Windows: [][2]time.Duration{{10 * time.Second, 10 * time.Second}}, EndsByItself: true,
				Does: "delete one pod in shop matching labels app=api (grace 0s, at most 10 pods, owners ready within 5m)", Listed: true,
				Victims: []kube.Victim{{Namespace: "shop", Pod: "api-7d9f-abcde", OwnerKind: "Deployment", Owner: "api"}, {Namespace: "shop", Pod: "debug"}}},
			{Name: "kill-db", Kind: "pod", Windows: [][2]time.Duration{{20 * time.Second, 30 * time.Second}}, For: 10 * time.Second, EndsByItself: true,
				Does: "delete all pods in shop matching labels app=db (grace 0s, at most 10 pods, owners ready within 5m)", Listed: true},
			{Name: "kill-cache", Kind: "pod", Windows: [][2]time.Duration{{30 * time.Second, 30 * time.Second}}, EndsByItself: true,
				Does: "delete one pod in shop matching labels app=cache (grace 0s, at most 10 pods, owners ready within 5m)", Listed: true,
				Error: `pods is forbidden: User "ci" cannot list resource "pods"`},
			{Name: "slow", Kind: "network", Windows: [][2]time.Duration{{40 * time.Second, time.Minute}}, Does: "add latency 100ms downstream on link api-db"},
		},
	}
	var b strings.Builder
	if err := WritePlan(&b, plan); err != nil {
		t.Fatal(err)
	}
	want := `target kubernetes started
  baseURL: http://shop.example.com
  kubernetes.host: https://10.0.0.1:6443
load would run for 1m0s
fault kill-api (pod) at +10s (ends by itself): would delete one pod in shop matching labels app=api (grace 0s, at most 10 pods, owners ready within 5m)
  victims now:
    shop/api-7d9f-abcde (owner Deployment/api)
    shop/debug (no owner: nothing replaces it)
fault kill-db (pod) at +20s for 10s: would delete all pods in shop matching labels app=db (grace 0s, at most 10 pods, owners ready within 5m)
  victims now: none (no pod matches)
fault kill-cache (pod) at +30s (ends by itself): would delete one pod in shop matching labels app=cache (grace 0s, at most 10 pods, owners ready within 5m)
  victims: could not list them: pods is forbidden: User "ci" cannot list resource "pods"
fault slow (network) at +40s until the load ends: would add latency 100ms downstream on link api-db
`
	if got := b.String(); got != want {
		t.Errorf("WritePlan() =\n%s\nwant\n%s", got, want)
	}
}
