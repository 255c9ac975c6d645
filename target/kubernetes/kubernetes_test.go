package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target/external"
)

// apiServer serves what Start asks of a Kubernetes API server: /version
// and GET /api/v1/namespaces/NAME for the namespaces given; every other
// path answers 200 (the target's base URL is this server too).
func apiServer(t *testing.T, namespaces ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/version":
			_ = json.NewEncoder(w).Encode(map[string]string{"major": "1", "minor": "37", "gitVersion": "v1.37.2"})
		case r.URL.Path == "/api/v1/namespaces/role-only":
			// A namespaced Role: namespaces (cluster-scoped) are forbidden.
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
				Reason: metav1.StatusReasonForbidden, Code: http.StatusForbidden, Message: `namespaces "role-only" is forbidden`})
		case r.URL.Path == "/api/v1/namespaces/role-only/pods":
			_ = json.NewEncoder(w).Encode(corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}})
		case strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/"):
			name := strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/")
			for _, ns := range namespaces {
				if ns == name {
					_ = json.NewEncoder(w).Encode(corev1.Namespace{TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: name}})
					return
				}
			}
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
				Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound, Message: fmt.Sprintf("namespaces %q not found", name),
				Details: &metav1.StatusDetails{Name: name, Kind: "namespaces"}})
		default:
			_, _ = w.Write([]byte("{}"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// kubeconfig writes a kubeconfig with two contexts, "good" at server and
// "other" at another address, current-context "other".
func kubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	text := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- {name: good, cluster: {server: %q}}
- {name: other, cluster: {server: "http://127.0.0.1:1"}}
users:
- {name: u, user: {token: secret}}
contexts:
- {name: good, context: {cluster: good, user: u}}
- {name: other, context: {cluster: other, user: u}}
current-context: other
`, server)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStart(t *testing.T) {
	srv := apiServer(t, "shop", "shop-db")
	path := kubeconfig(t, srv.URL)
	// A closed port: nothing answers there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()

	for _, tc := range []struct {
		name       string
		spec       scenarios.KubernetesTarget
		kubeEnv    string // $KUBECONFIG
		wantErr    string // a part of the error; "" for none
		unreach    string // What of an *external.UnreachableError expected
		namespaceE string // Namespace of a *NamespaceError expected
	}{
		// The scenario's kubeconfig at a named context.
		{name: "kubeconfig and context", spec: scenarios.KubernetesTarget{Kubeconfig: path, Context: "good", Namespaces: []string{"shop", "shop-db"}}},
		// A relative kubeconfig, from the scenario's folder.
		{name: "relative kubeconfig", spec: scenarios.KubernetesTarget{Kubeconfig: filepath.Base(path), Context: "good", Namespaces: []string{"shop"}}},
		// $KUBECONFIG when the scenario names none.
		{name: "KUBECONFIG", kubeEnv: path, spec: scenarios.KubernetesTarget{Context: "good", Namespaces: []string{"shop"}}},
		// The current context is the unreachable cluster.
		{name: "API unreachable", spec: scenarios.KubernetesTarget{Kubeconfig: path, Namespaces: []string{"shop"}}, unreach: "kubernetes API"},
		// A context the kubeconfig lacks.
		{name: "unknown context", spec: scenarios.KubernetesTarget{Kubeconfig: path, Context: "nope", Namespaces: []string{"shop"}}, wantErr: `context "nope" does not exist`},
		// A namespace gameday may not get, but may list pods in.
		{name: "namespaced role", spec: scenarios.KubernetesTarget{Kubeconfig: path, Context: "good", Namespaces: []string{"shop", "role-only"}}},
		// A namespace the cluster lacks.
		{name: "missing namespace", spec: scenarios.KubernetesTarget{Kubeconfig: path, Context: "good", Namespaces: []string{"shop", "billing"}}, namespaceE: "billing", wantErr: `namespace "billing" does not exist in the cluster`},
		// The cluster answers; the base URL does not.
		{name: "base URL unreachable", spec: scenarios.KubernetesTarget{ExternalTarget: scenarios.ExternalTarget{BaseURL: closed}, Kubeconfig: path, Context: "good", Namespaces: []string{"shop"}}, unreach: "baseURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if spec.BaseURL == "" {
				spec.BaseURL = srv.URL + "/"
			}
			tg := New(&spec, Config{KubeconfigEnv: tc.kubeEnv, Dir: filepath.Dir(path)})
			r, err := tg.Start(t.Context())
			defer func() { _ = tg.Stop(context.Background()) }()
			var ue *external.UnreachableError
			var ne *NamespaceError
			switch {
			case tc.unreach != "":
				if !errors.As(err, &ue) || ue.What != tc.unreach {
					t.Fatalf("Start() = %v; want an UnreachableError of %s", err, tc.unreach)
				}
			case tc.namespaceE != "":
				if !errors.As(err, &ne) || ne.Namespace != tc.namespaceE || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Start() = %v; want a NamespaceError of %s saying %q", err, tc.namespaceE, tc.wantErr)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Start() = %v; want an error saying %q", err, tc.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("Start() = %v; want no error", err)
				}
				if r.Kube == nil {
					t.Error("Start(): Running.Kube = nil; want the cluster's client")
				}
				if strings.Join(r.Namespaces, ",") != strings.Join(spec.Namespaces, ",") {
					t.Errorf("Start(): Running.Namespaces = %v; want %v", r.Namespaces, spec.Namespaces)
				}
				if r.Base != srv.URL {
					t.Errorf("Start(): Running.Base = %q; want %q", r.Base, srv.URL)
				}
				if r.Attrs["kubernetes.version"] != "v1.37.2" || r.Attrs["kubernetes.host"] != srv.URL {
					t.Errorf("Start(): Attrs = %v; want kubernetes.version v1.37.2 and kubernetes.host %s", r.Attrs, srv.URL)
				}
			}
		})
	}
}

// TestStartFakeClient runs Start against client-go's fake clientset.
func TestStartFakeClient(t *testing.T) {
	srv := apiServer(t)
	client := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})
	spec := scenarios.KubernetesTarget{ExternalTarget: scenarios.ExternalTarget{BaseURL: srv.URL}, Namespaces: []string{"shop"}}
	r, err := New(&spec, Config{Client: client}).Start(t.Context())
	if err != nil {
		t.Fatalf("Start() = %v; want no error", err)
	}
	if r.Kube != client {
		t.Errorf("Start(): Running.Kube = %T; want the fake clientset given", r.Kube)
	}
	spec.Namespaces = []string{"shop", "gone"}
	_, err = New(&spec, Config{Client: client}).Start(t.Context())
	var ne *NamespaceError
	if !errors.As(err, &ne) || ne.Namespace != "gone" {
		t.Errorf("Start() with namespace gone = %v; want a NamespaceError of gone", err)
	}
}
