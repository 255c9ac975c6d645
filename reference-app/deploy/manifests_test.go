package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestManifests decodes every manifest strictly and checks the set.
func TestManifests(t *testing.T) {
	m := loadManifests(t, manifestDir)
	for _, p := range check(m, refappContract(t)) {
		t.Error(p)
	}
	// The set is what the architecture asks for.
	want := map[string]int32{
		"Deployment gateway": 2, "Deployment api": 3, "Deployment cache": 1, "Deployment worker": 1,
		"Deployment pushmock": 1, "Deployment sentinel": 1, "Deployment toxiproxy": 1,
		"StatefulSet store-a": 1, "StatefulSet store-b": 1, "StatefulSet queue": 1,
	}
	got := map[string]int32{}
	for _, w := range m.workloads {
		got[w.String()] = w.replicas
	}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("%s has %d replicas; want %d", w, got[w], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("workloads %v; want exactly %v", got, want)
	}
	for _, name := range []string{"store-a", "store-b", "queue"} {
		if w := m.workload("StatefulSet", name); w != nil && len(w.claims) == 0 {
			t.Errorf("StatefulSet %s has no volumeClaimTemplates", name)
		}
	}
}

// TestBrokenCopyFails breaks a copy of the manifests with a misspelt field
// and expects the load to fail naming the file, the document and the field.
func TestBrokenCopyFails(t *testing.T) {
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(f) == "api.yaml" {
			broken := strings.Replace(string(data), "  replicas: 3\n", "  replicass: 3\n", 1)
			if broken == string(data) {
				t.Fatal("api.yaml has no \"  replicas: 3\" line to break")
			}
			data = []byte(broken)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := decodeDir(manifestDir); err != nil {
		t.Fatalf("the original does not load: %v", err)
	}
	_, err = decodeDir(dir)
	if err == nil || !strings.Contains(err.Error(), "api.yaml: document 1") ||
		!strings.Contains(err.Error(), `unknown field "spec.replicass"`) {
		t.Fatalf("decodeDir(broken copy) = %v; want api.yaml document 1: unknown field \"spec.replicass\"", err)
	}
}

// TestChecksCatch breaks the real manifests one way at a time and expects
// check to name exactly that: a check that cannot fail proves nothing.
func TestChecksCatch(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, m *manifests)
		want   string
	}{
		{"no readiness probe", func(t *testing.T, m *manifests) {
			ctr(t, m, "Deployment api").ReadinessProbe = nil
		}, "Deployment api: container refapp: no readinessProbe"},
		{"no liveness probe", func(t *testing.T, m *manifests) {
			ctr(t, m, "Deployment toxiproxy").LivenessProbe = nil
		}, "Deployment toxiproxy: container toxiproxy: no livenessProbe"},
		{"liveness on /readyz", func(t *testing.T, m *manifests) {
			ctr(t, m, "Deployment gateway").LivenessProbe.HTTPGet.Path = "/readyz"
		}, "Deployment gateway: container refapp: livenessProbe is GET /readyz; want /healthz"},
		{"probe on a missing port", func(t *testing.T, m *manifests) {
			ctr(t, m, "Deployment cache").ReadinessProbe.HTTPGet.Port = intstr.FromString("htp")
		}, "readinessProbe port htp is not a container port"},
		{"root allowed", func(t *testing.T, m *manifests) {
			no := false
			pod(t, m, "StatefulSet store-a").SecurityContext.RunAsNonRoot = &no
			ctr(t, m, "StatefulSet store-a").SecurityContext.RunAsNonRoot = nil
		}, "StatefulSet store-a: container refapp: runAsNonRoot not true"},
		{"writable root filesystem", func(t *testing.T, m *manifests) {
			no := false
			ctr(t, m, "Deployment worker").SecurityContext.ReadOnlyRootFilesystem = &no
		}, "Deployment worker: container refapp: readOnlyRootFilesystem not true"},
		{"capabilities kept", func(t *testing.T, m *manifests) {
			ctr(t, m, "StatefulSet queue").SecurityContext.Capabilities = nil
		}, "StatefulSet queue: container refapp: capabilities do not drop ALL"},
		{"no seccomp", func(t *testing.T, m *manifests) {
			pod(t, m, "Deployment pushmock").SecurityContext.SeccompProfile = nil
		}, "Deployment pushmock: container refapp: seccomp profile not RuntimeDefault"},
		{"host network", func(t *testing.T, m *manifests) {
			pod(t, m, "Deployment cache").HostNetwork = true
		}, "Deployment cache: Pod Security restricted forbids its pods: host namespaces (hostNetwork=true)"},
		{"host path", func(t *testing.T, m *manifests) {
			p := pod(t, m, "Deployment toxiproxy")
			p.Volumes = append(p.Volumes, corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
		}, "Deployment toxiproxy: Pod Security restricted forbids its pods: restricted volume types"},
		{"namespace not enforcing", func(t *testing.T, m *manifests) {
			for _, d := range m.docs {
				if ns, ok := d.obj.(*corev1.Namespace); ok {
					ns.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
				}
			}
		}, `Namespace refapp: label pod-security.kubernetes.io/enforce="baseline"; want "restricted"`},
		{"no memory limit", func(t *testing.T, m *manifests) {
			delete(ctr(t, m, "Deployment sentinel").Resources.Limits, corev1.ResourceMemory)
		}, "Deployment sentinel: container refapp: no memory limit"},
		{"request above limit", func(t *testing.T, m *manifests) {
			ctr(t, m, "Deployment api").Resources.Requests[corev1.ResourceCPU] = quantity("2")
		}, "cpu request 2 above limit 1"},
		{"service selects nothing", func(t *testing.T, m *manifests) {
			m.services["api"].Spec.Selector["app.kubernetes.io/component"] = "apii"
		}, "Service api: selector map[app.kubernetes.io/component:apii app.kubernetes.io/name:refapp] selects no workload's pods"},
		{"service targets a missing port", func(t *testing.T, m *manifests) {
			m.services["queue"].Spec.Ports[1].TargetPort = intstr.FromString("natz")
		}, "Service queue: port nats targets natz, not a container port of StatefulSet queue"},
		{"statefulset without headless service", func(t *testing.T, m *manifests) {
			m.services["store-a"].Spec.ClusterIP = ""
		}, "StatefulSet store-a: Service store-a is not headless"},
		{"role on secrets", func(t *testing.T, m *manifests) {
			r := m.roles["gameday"]
			r.Rules = append(r.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
		}, `Role gameday: rule 5: resource "secrets" in group ""; want only what gameday needs`},
		{"role creates pods", func(t *testing.T, m *manifests) {
			m.roles["gameday"].Rules[0].Verbs = append(m.roles["gameday"].Rules[0].Verbs, "create")
		}, `Role gameday: rule 0: verb "create" on pods`},
		{"role on apps", func(t *testing.T, m *manifests) {
			m.roles["gameday"].Rules[0].APIGroups = []string{"", "apps"}
		}, `Role gameday: rule 0: resource "pods" in group "apps"`},
		{"role updates deployments", func(t *testing.T, m *manifests) {
			m.roles["gameday"].Rules[2].Verbs = append(m.roles["gameday"].Rules[2].Verbs, "patch")
		}, `Role gameday: rule 2: verb "patch" on deployments.apps; want only [get list watch]`},
		{"role cannot record events", func(t *testing.T, m *manifests) {
			m.roles["gameday"].Rules = m.roles["gameday"].Rules[:4]
		}, "ServiceAccount gameday cannot create events.events.k8s.io"},
		{"role names its pods", func(t *testing.T, m *manifests) {
			m.roles["gameday"].Rules[0].ResourceNames = []string{"api-0"}
		}, `Role gameday: rule 0: resourceNames [api-0]`},
		{"role cannot delete", func(t *testing.T, m *manifests) {
			m.roles["gameday"].Rules[0].Verbs = []string{"get", "list", "watch"}
		}, "ServiceAccount gameday cannot delete pods"},
		{"cluster role", func(t *testing.T, m *manifests) {
			m.docs = append(m.docs, doc{file: "x.yaml", index: 1, kind: "ClusterRole",
				obj: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "gameday"}}})
		}, "ClusterRole gameday (x.yaml): kind ClusterRole not allowed"},
		{"binding to a cluster role", func(t *testing.T, m *manifests) {
			m.bindings[0].RoleRef.Kind = "ClusterRole"
		}, "RoleBinding gameday: roleRef ClusterRole gameday: want a Role of this namespace"},
		{"other namespace", func(t *testing.T, m *manifests) {
			m.services["cache"].Namespace = "default"
		}, `Service cache: namespace "default"; want "refapp"`},
		{"pdb selects gateway", func(t *testing.T, m *manifests) {
			m.pdbs[0].Spec.Selector.MatchLabels["app.kubernetes.io/component"] = "gateway"
		}, "no PodDisruptionBudget selects Deployment api"},
		{"pdb blocks drains", func(t *testing.T, m *manifests) {
			three := intstr.FromInt(3)
			m.pdbs[0].Spec.MinAvailable = &three
		}, "PodDisruptionBudget api: minAvailable 3 >= Deployment api replicas 3"},
		{"no autoscaler", func(t *testing.T, m *manifests) {
			m.hpas = nil
		}, "no HorizontalPodAutoscaler scales Deployment api"},
		{"autoscaler under the floor", func(t *testing.T, m *manifests) {
			two := int32(2)
			m.hpas[0].Spec.MinReplicas = &two
		}, "HorizontalPodAutoscaler api: minReplicas 2 below Deployment api replicas 3"},
		{"autoscaler on the store", func(t *testing.T, m *manifests) {
			m.hpas[0].Spec.ScaleTargetRef.Kind, m.hpas[0].Spec.ScaleTargetRef.Name = "StatefulSet", "store-a"
		}, "HorizontalPodAutoscaler api: scales StatefulSet store-a; want only the stateless Deployment api"},
		{"autoscaler without cpu request", func(t *testing.T, m *manifests) {
			delete(ctr(t, m, "Deployment api").Resources.Requests, corev1.ResourceCPU)
		}, "HorizontalPodAutoscaler api: Deployment api has a container without a CPU request"},
		{"autoscaler scales down at once", func(t *testing.T, m *manifests) {
			m.hpas[0].Spec.Behavior.ScaleDown = nil
		}, "HorizontalPodAutoscaler api: want a scale-down stabilizationWindowSeconds of at least 60"},
		{"unknown flag", func(t *testing.T, m *manifests) {
			setArg(t, ctr(t, m, "Deployment api"), "jwt-secret-file", "jwt-secret-flie=/etc/refapp/jwt/jwt-key")
		}, "Deployment api: container refapp: --jwt-secret-flie is not a flag of role api"},
		{"flag of another role", func(t *testing.T, m *manifests) {
			c := ctr(t, m, "Deployment cache")
			c.Args = append(c.Args, "--data-dir=/data")
		}, "Deployment cache: container refapp: --data-dir is not a flag of role cache"},
		{"loopback listen", func(t *testing.T, m *manifests) {
			setArg(t, ctr(t, m, "Deployment pushmock"), "listen", "listen=127.0.0.1:8080")
		}, "Deployment pushmock: container refapp: --listen=127.0.0.1:8080: host 127.0.0.1 is not all interfaces"},
		{"role label", func(t *testing.T, m *manifests) {
			pod := m.workload("Deployment", "worker").template
			pod.Labels["role"] = "workers"
		}, `Deployment worker: pod label role="workers"; want "worker"`},
		{"scrape port", func(t *testing.T, m *manifests) {
			m.workload("StatefulSet", "queue").template.Annotations["prometheus.io/port"] = "9090"
		}, `StatefulSet queue: pod annotation prometheus.io/port="9090" is not a container port`},
		{"grace shorter than drain", func(t *testing.T, m *manifests) {
			setArg(t, ctr(t, m, "Deployment gateway"), "drain-timeout", "drain-timeout=30s")
		}, "Deployment gateway: container refapp: preStop sleep 3s + drain 30s >= terminationGracePeriodSeconds 20"},
		{"secret key", func(t *testing.T, m *manifests) {
			s := m.secrets["refapp-jwt"]
			s.StringData = map[string]string{"key": "x"}
		}, `--jwt-secret-file=/etc/refapp/jwt/jwt-key: Secret refapp-jwt has no key "jwt-key"`},
		{"data dir not persistent", func(t *testing.T, m *manifests) {
			setArg(t, ctr(t, m, "Deployment worker"), "data-dir", "data-dir=/tmp/data")
		}, "Deployment worker: container refapp: --data-dir=/tmp/data: path on no volume"},
		{"cache not through toxiproxy", func(t *testing.T, m *manifests) {
			setArg(t, ctr(t, m, "Deployment api"), "cache", "cache=http://cache:8080")
		}, `Deployment api: --cache reaches Deployment cache via ""; want through toxiproxy proxy api-cache`},
		{"sentinel checks through toxiproxy", func(t *testing.T, m *manifests) {
			setArg(t, ctr(t, m, "Deployment sentinel"), "stores", "stores=store-a=http://toxiproxy:18001,store-b=http://store-b-0.store-b:8080")
		}, "Deployment sentinel: --stores store-a goes through toxiproxy proxy api-store-a; want direct"},
		{"nats on the http port", func(t *testing.T, m *manifests) {
			setArg(t, ctr(t, m, "Deployment worker"), "nats", "nats=nats://queue:8080")
		}, `Deployment worker: --nats: nats://queue:8080 reaches StatefulSet queue port "http"; want the port named "nats"`},
		{"missing pod", func(t *testing.T, m *manifests) {
			setArg(t, ctr(t, m, "StatefulSet store-b"), "primary", "primary=http://store-a-1.store-a:8080")
		}, `no pod store-a-1 of a StatefulSet governed by headless Service store-a`},
		{"proxy to nowhere", func(t *testing.T, m *manifests) {
			cm := m.configMaps["toxiproxy"]
			cm.Data["proxies.json"] = strings.Replace(cm.Data["proxies.json"], `"cache:8080"`, `"cahce:8080"`, 1)
		}, `toxiproxy proxy "api-cache": upstream cahce:8080: no Service cahce`},
		{"proxy config typo", func(t *testing.T, m *manifests) {
			cm := m.configMaps["toxiproxy"]
			cm.Data["proxies.json"] = strings.Replace(cm.Data["proxies.json"], `"upstream"`, `"upstrem"`, 1)
		}, `proxies.json: json: unknown field "upstrem"`},
		{"proxy port not exposed", func(t *testing.T, m *manifests) {
			cm := m.configMaps["toxiproxy"]
			cm.Data["proxies.json"] = strings.Replace(cm.Data["proxies.json"], `0.0.0.0:18003`, `0.0.0.0:18004`, 1)
		}, `toxiproxy proxy "api-cache": listen port 18004 is not a container port named api-cache`},
		{"two primaries", func(t *testing.T, m *manifests) {
			setArg(t, ctr(t, m, "StatefulSet store-b"), "mode", "mode=primary")
		}, "2 stores start as primary; want 1"},
		{"node unknown to the sentinel", func(t *testing.T, m *manifests) {
			setArg(t, ctr(t, m, "StatefulSet store-b"), "node", "node=store-c")
		}, `StatefulSet store-b: --node="store-c" is not in the sentinel's --stores`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadManifests(t, manifestDir)
			tt.mutate(t, m)
			got := check(m, refappContract(t))
			for _, p := range got {
				if strings.Contains(p, tt.want) {
					return
				}
			}
			t.Errorf("check found %q; want a problem containing %q", got, tt.want)
		})
	}
}

// pod returns the pod spec of workload id ("Deployment api").
func pod(t *testing.T, m *manifests, id string) *corev1.PodSpec {
	t.Helper()
	kind, name, _ := strings.Cut(id, " ")
	w := m.workload(kind, name)
	if w == nil {
		t.Fatalf("no %s", id)
	}
	return &w.template.Spec
}

// ctr returns the first container of workload id.
func ctr(t *testing.T, m *manifests, id string) *corev1.Container {
	t.Helper()
	return &pod(t, m, id).Containers[0]
}

// setArg replaces the argument --flag=... of c by --arg; arg "" removes it.
func setArg(t *testing.T, c *corev1.Container, flag, arg string) {
	t.Helper()
	for i, a := range c.Args {
		if strings.HasPrefix(a, "--"+flag+"=") {
			c.Args[i] = "--" + arg
			return
		}
	}
	t.Fatalf("container %s has no --%s", c.Name, flag)
}
