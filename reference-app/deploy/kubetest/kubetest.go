package kubetest

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Client-side rate limits of Config: client-go's defaults (5 requests per
// second, bursts of 10) turn a test's few dozen requests into seconds of
// waiting.
const (
	QPS   = 200
	Burst = 400
)

// Config returns the REST config of the control plane named by
// GAMEDAY_KUBECONFIG, with QPS and Burst raised.
//
// It skips the test when the variable is unset, and fails it instead under
// GAMEDAY_REQUIRE_KUBE=1. A kubeconfig that does not load fails the test.
func Config(t testing.TB) *rest.Config {
	t.Helper()
	path := os.Getenv(EnvKubeconfig)
	if path == "" {
		if os.Getenv(EnvRequireKube) == "1" {
			t.Fatalf("no Kubernetes control plane: %s is not set [%s=1]; run make test-k8s", EnvKubeconfig, EnvRequireKube)
		}
		t.Skip("no Kubernetes control plane: run make test-k8s")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("%s=%s: %v", EnvKubeconfig, path, err)
	}
	cfg.QPS, cfg.Burst = QPS, Burst
	cfg.UserAgent = "gameday-kubetest"
	return cfg
}

// Client returns a clientset for Config(t); it skips or fails the test as
// Config does.
func Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(Config(t))
	if err != nil {
		t.Fatalf("kubernetes client: %v", err)
	}
	return client
}

var notDNSLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace of its own for the test, named after it
// with a random suffix, and deletes it when the test ends (without waiting
// for the namespace controller to finish).
func Namespace(t testing.TB, client kubernetes.Interface) string {
	t.Helper()
	prefix := strings.Trim(notDNSLabel.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(prefix) > 50 {
		prefix = strings.TrimRight(prefix[:50], "-")
	}
	ns, err := client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix + "-",
			Labels:       map[string]string{"app.kubernetes.io/managed-by": "gameday-kubetest"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace for %s: %v", t.Name(), err)
	}
	t.Cleanup(func() {
		// t.Context() is done by now.
		ctx, cancel := cleanupContext()
		defer cancel()
		if err := client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

// objectName is "Kind ns/name", for messages.
func objectName(kind, ns, name string) string { return fmt.Sprintf("%s %s/%s", kind, ns, name) }
