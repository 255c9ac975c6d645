package scenarios

import (
	"reflect"
	"testing"
	"time"
)

// TestKubernetesInline checks that the keys of the ExternalTarget embedded
// inline in a KubernetesTarget decode in place, with their positions, and
// that a kubernetes target plays the external target's part.
func TestKubernetesInline(t *testing.T) {
	s, err := Load("testdata/kubernetes.good.yaml")
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	k := s.Target.Kubernetes
	if k == nil {
		t.Fatal("Load: target.kubernetes = nil")
	}
	if got := s.Target.Kind(); got != TargetKubernetes {
		t.Errorf("Target.Kind() = %q; want %q", got, TargetKubernetes)
	}
	if k.BaseURL != "http://shop.example.com" || k.Toxiproxy == nil || len(k.Toxiproxy.Links) != 1 || k.Prometheus == nil {
		t.Errorf("target.kubernetes external part = %+v; want baseURL, toxiproxy and prometheus decoded inline", k.ExternalTarget)
	}
	if got, want := k.Namespaces, []string{"shop", "shop-db"}; !reflect.DeepEqual(got, want) {
		t.Errorf("target.kubernetes.namespaces = %v; want %v", got, want)
	}
	for path, want := range map[string]Pos{
		"target.kubernetes.baseURL":            {8, 14},
		"target.kubernetes.toxiproxy.links[0]": {12, 15},
		"target.kubernetes.namespaces[1]":      {17, 24},
	} {
		if got := s.Position(path); got != want {
			t.Errorf("Position(%q) = %v; want %v", path, got, want)
		}
	}
	if got := s.Target.Declaration().Links; !reflect.DeepEqual(got, []string{"api-db"}) {
		t.Errorf("Declaration().Links = %v; want [api-db]", got)
	}
	if !s.Target.OutlivingToxiproxy() {
		t.Error("OutlivingToxiproxy() = false; want true (the user's Toxiproxy)")
	}
	if p := s.Target.Prometheus(); p == nil || p.ScrapeInterval != 15*time.Second {
		t.Errorf("Prometheus() = %+v; want the target's, scrapeInterval 15s", p)
	}
}

// TestPodDefaults checks that SetDefaults fills a pod fault's unwritten
// fields only.
func TestPodDefaults(t *testing.T) {
	s, err := Load("testdata/kubernetes.good.yaml")
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	seed := int64(7)
	for i, want := range []PodFault{
		// Nothing written but the selection: every default.
		{Namespace: "shop", LabelSelector: "app=api,tier!=canary", Mode: ModeOne, GracePeriod: DefaultPodGracePeriod, MaxVictims: DefaultMaxVictims, ReadyTimeout: DefaultPodReadyTimeout},
		// Everything written: kept.
		{Namespace: "shop-db", LabelSelector: "app in (db)", FieldSelector: "status.phase=Running", Mode: ModePercent, Percent: 50, Seed: &seed, GracePeriod: 30 * time.Second, MaxVictims: 2, ReadyTimeout: 2 * time.Minute},
		// A count without a mode: mode fixed, as for process faults.
		{Namespace: "shop", LabelSelector: "app=api", Mode: ModeFixed, Count: 2, GracePeriod: DefaultPodGracePeriod, MaxVictims: DefaultMaxVictims, ReadyTimeout: DefaultPodReadyTimeout},
	} {
		if got := *s.Faults[i].Pod; !reflect.DeepEqual(got, want) {
			t.Errorf("after SetDefaults, faults[%d].pod = %+v; want %+v", i, got, want)
		}
	}
	if !s.Faults[0].EndsByItself() {
		t.Error("pod fault EndsByItself() = false; want true (over once the owners are ready again)")
	}
}

func TestFaultDescribe(t *testing.T) {
	s, err := Load("testdata/kubernetes.good.yaml")
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	for i, want := range []string{
		"delete one pod in shop matching labels app=api,tier!=canary (grace 0s, at most 10 pods, owners ready within 5m)",
		"delete 50% of the pods in shop-db matching labels app in (db) and fields status.phase=Running (grace 30s, at most 2 pods, owners ready within 2m)",
		"delete 2 pods in shop matching labels app=api (grace 0s, at most 10 pods, owners ready within 5m)",
		"add latency 100ms downstream on link api-db",
	} {
		if got := s.Faults[i].Describe(); got != want {
			t.Errorf("faults[%d].Describe() = %q; want %q", i, got, want)
		}
	}
	k := Fault{Process: &ProcessFault{Selector: map[string]string{"role": "api"}, Signal: SignalKill, Mode: ModeOne}}
	if got, want := k.Describe(), "send KILL to one process matching {role: api}"; got != want {
		t.Errorf("process Describe() = %q; want %q", got, want)
	}
}
