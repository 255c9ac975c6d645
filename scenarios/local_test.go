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
