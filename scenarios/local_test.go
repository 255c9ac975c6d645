package scenarios

import (
	"strings"
	"testing"
	"time"
)

func TestValidateLocalAutoscale(t *testing.T) {
	tests := []struct {
		name string
		a    LocalAutoscale
		want string // "" for valid
	}{
		{"valid", LocalAutoscale{MaxReplicas: 4, TargetInFlight: 1.5, ScaleDownWindow: 10 * time.Second}, ""},
		{"no headroom is allowed", LocalAutoscale{MaxReplicas: 2}, ""},
		{"max below the static replicas", LocalAutoscale{MaxReplicas: 1}, "target.local.autoscale.maxReplicas: maxReplicas 1 is out of range (want apiReplicas, 2, to 8)"},
		{"max above the most", LocalAutoscale{MaxReplicas: 9}, "maxReplicas 9 is out of range"},
		{"negative target", LocalAutoscale{MaxReplicas: 3, TargetInFlight: -1}, "target.local.autoscale.targetInFlight: targetInFlight -1 is negative"},
		{"negative window", LocalAutoscale{MaxReplicas: 3, ScaleUpWindow: -time.Second}, "target.local.autoscale.scaleUpWindow: scaleUpWindow -1s is negative"},
	}
	for _, tt := range tests {
		v := &validator{s: &Scenario{}}
		a := tt.a
		v.autoscale("target.local.autoscale", LocalTarget{APIReplicas: 2, Autoscale: &a})
		got := ""
		if len(v.problems) > 0 {
			got = v.problems[0].Path + ": " + v.problems[0].Msg
		}
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: autoscale() = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// TestLocalAutoscaleTopology: with Autoscale the expansion runs an
// autoscaler after the gateway, which reads the upstreams file the
// autoscaler writes, and the autoscaler starts api replicas with the api's
// own flags.
func TestLocalAutoscaleTopology(t *testing.T) {
	pt := LocalTarget{APIReplicas: 2, StoreReplicas: 1, Replication: ReplicationAsync,
		Autoscale: &LocalAutoscale{MaxReplicas: 5}}.Processes()
	last := pt.Services[len(pt.Services)-1]
	if last.Name != "autoscaler" {
		t.Fatalf("last service = %s; want autoscaler", last.Name)
	}
	top := pt.sampleTopology()
	var gatewayArgs, scalerArgs, apiArgs []string
	for _, in := range pt.Instances() {
		args, _, err := pt.Render(in, top, nil)
		if err != nil {
			t.Fatalf("render %s: %v", in.Name, err)
		}
		switch in.Name {
		case "gateway":
			gatewayArgs = args
		case "autoscaler":
			scalerArgs = args
		case "api-1":
			apiArgs = args
		}
	}
	file := "--upstreams-file=" + top.DataDir + "/" + LocalUpstreamsFile
	if !contains(gatewayArgs, file) || !contains(scalerArgs, file) {
		t.Errorf("gateway %v and autoscaler %v; want both with %s", gatewayArgs, scalerArgs, file)
	}
	for _, want := range []string{"--min-replicas=2", "--max-replicas=5", "--target-in-flight=2",
		"--static-upstreams=api-1=http://127.0.0.1:10001,api-2=http://127.0.0.1:10001"} {
		if !contains(scalerArgs, want) {
			t.Errorf("autoscaler args %v; want %s", scalerArgs, want)
		}
	}
	for _, a := range apiArgs[3:] { // after --role, --listen, --instance
		if !contains(scalerArgs, "--replica-arg="+a) {
			t.Errorf("autoscaler args %v; want --replica-arg=%s (the api's own flag)", scalerArgs, a)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// TestLocalRegionsTopology: with two regions every instance renders, the
// global entry point is the base, region b's instances carry its label,
// and RegionLinks names declared links only.
func TestLocalRegionsTopology(t *testing.T) {
	lt := LocalTarget{APIReplicas: 2, StoreReplicas: 1, Replication: ReplicationAsync, Regions: 2, TLS: true}
	pt := lt.Processes()
	if pt.Base != "client-global" {
		t.Errorf("Base = %q; want client-global", pt.Base)
	}
	top := pt.sampleTopology()
	regions := map[string]string{}
	for _, in := range pt.Instances() {
		args, _, err := pt.Render(in, top, nil)
		if err != nil {
			t.Fatalf("render %s: %v", in.Name, err)
		}
		regions[in.Name] = in.Labels["region"]
		if in.Name == "global" && !contains(args, "--tls-listen=127.0.0.1:10002") {
			t.Errorf("global args %v; want the TLS listener (the entry point serves clients)", args)
		}
	}
	for name, want := range map[string]string{
		"store-1": "a", "api-1": "a", "gateway": "a", "sentinel": "a",
		"store-b": "b", "api-b-1": "b", "api-b-2": "b", "gateway-b": "b", "global": "",
	} {
		if regions[name] != want {
			t.Errorf("instance %s: region %q; want %q (instances %v)", name, regions[name], want, regions)
		}
	}
	declared := map[string]bool{}
	for _, l := range pt.Declaration().Links {
		declared[l] = true
	}
	for _, r := range []string{LocalPrimaryRegion, LocalPassiveRegion} {
		links := lt.RegionLinks(r)
		if len(links) == 0 {
			t.Errorf("RegionLinks(%s) is empty", r)
		}
		for _, l := range links {
			if !declared[l] {
				t.Errorf("RegionLinks(%s) names %s, not a link of the topology", r, l)
			}
		}
	}
	if links := (LocalTarget{APIReplicas: 2, StoreReplicas: 1}).RegionLinks(LocalPrimaryRegion); links != nil {
		t.Errorf("RegionLinks with one region = %v; want none", links)
	}
}
