// Package kubernetes is the target of a system running in a Kubernetes
// cluster: an external target (base URL, the user's Toxiproxy and
// Prometheus, reached as target/external reaches them) plus a client of the
// cluster's API, through which pod faults act, limited to the namespaces the
// scenario names. It starts nothing in the cluster; Start checks that the
// API answers and that every namespace exists before any load or fault.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/template"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target"
	"github.com/gameday/gameday/target/external"
)

// The client's request rate to the API server. client-go's defaults (5
// per second, bursts of 10) would throttle a fault that deletes and
// watches a few dozen pods; these stay polite to a shared control plane.
const (
	DefaultQPS   = 50
	DefaultBurst = 100
)

// DefaultReachTimeout bounds each check of Start against the API server.
const DefaultReachTimeout = external.DefaultReachTimeout

// RBACManifest is the file of the repository that grants gameday what pod
// faults need, named in permission errors.
const RBACManifest = "reference-app/deploy/gameday-rbac.yaml"

// Config says how Start reaches the system and its cluster.
type Config struct {
	// External reaches the part of the target named by URLs (its Path is
	// set to target.kubernetes).
	External external.Config
	// Funcs are env and file, for a templated kubeconfig path.
	Funcs template.FuncMap
	// Dir is the scenario file's folder, which a relative kubeconfig path
	// is taken from; empty: the working directory.
	Dir string
	// KubeconfigEnv is the value of $KUBECONFIG (a list of paths), read
	// when the scenario names no kubeconfig; empty: ~/.kube/config.
	KubeconfigEnv string
	// Client, when set, is the cluster's client, used as it is instead of
	// one built from the kubeconfig (tests give a fake clientset).
	Client kubernetes.Interface
}

// Target is a kubernetes target.
type Target struct {
	spec *scenarios.KubernetesTarget
	cfg  Config
	ext  *external.Target
}

// New returns the kubernetes target of spec, which Validate accepted.
func New(spec *scenarios.KubernetesTarget, cfg Config) *Target {
	cfg.External.Path = "target.kubernetes"
	return &Target{spec: spec, cfg: cfg, ext: external.New(&spec.ExternalTarget, cfg.External)}
}

// NamespaceError is a namespace of the scenario that the cluster lacks or
// does not let gameday read.
type NamespaceError struct {
	Namespace string
	Err       error
}

func (e *NamespaceError) Error() string {
	switch {
	case apierrors.IsNotFound(e.Err):
		return fmt.Sprintf("namespace %q does not exist in the cluster (target.kubernetes.namespaces lists it)", e.Namespace)
	case apierrors.IsForbidden(e.Err):
		return fmt.Sprintf("namespace %q: %v (grant gameday the role of %s)", e.Namespace, e.Err, RBACManifest)
	}
	return fmt.Sprintf("namespace %q: %v", e.Namespace, e.Err)
}

func (e *NamespaceError) Unwrap() error { return e.Err }

// Start connects to the cluster's API, checks that it answers and that
// every namespace of the scenario exists, then starts the URL part as an
// external target. Running.Kube and Running.Namespaces are the cluster's
// client and those namespaces. An API that does not answer is an
// *external.UnreachableError, as an unreachable base URL is.
func (t *Target) Start(ctx context.Context) (*target.Running, error) {
	client, rc, err := t.client()
	if err != nil {
		return nil, err
	}
	var host string
	disco := client.Discovery()
	if rc != nil {
		host = rc.Host
		// A client of its own, with a timeout, for the check: discovery
		// calls take no context, and the cluster's client has none (it
		// watches).
		bounded := rest.CopyConfig(rc)
		bounded.Timeout = DefaultReachTimeout
		if disco, err = discovery.NewDiscoveryClientForConfig(bounded); err != nil {
			return nil, fmt.Errorf("kubernetes client: %w", err)
		}
	}
	v, err := serverVersion(ctx, disco)
	if err != nil {
		return nil, &external.UnreachableError{What: "kubernetes API", URL: host, Err: err}
	}
	for _, ns := range t.spec.Namespaces {
		if err := checkNamespace(ctx, client, ns); err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, &NamespaceError{Namespace: ns, Err: err}
		}
	}
	r, err := t.ext.Start(ctx)
	if err != nil {
		return nil, err
	}
	r.Kube = client
	r.Namespaces = append([]string(nil), t.spec.Namespaces...)
	if host != "" {
		r.Attrs["kubernetes.host"] = host
	}
	if t.spec.Context != "" {
		r.Attrs["kubernetes.context"] = t.spec.Context
	}
	if v != nil {
		r.Attrs["kubernetes.version"] = v.GitVersion
	}
	r.Attrs["kubernetes.namespaces"] = strings.Join(t.spec.Namespaces, ",")
	return r, nil
}

// checkNamespace checks that namespace ns exists. Namespaces are
// cluster-scoped: a user granted only a namespaced Role may not get one;
// then listing pods in it (which the Role must allow) stands in for the
// check, and a namespace that does not exist is found at the first fault.
func checkNamespace(ctx context.Context, client kubernetes.Interface, ns string) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultReachTimeout)
	defer cancel()
	_, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if !apierrors.IsForbidden(err) {
		return err
	}
	if _, lerr := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{Limit: 1}); lerr != nil {
		return lerr
	}
	return nil
}

// Stop stops the URL part (removes the proxies it created); the cluster
// is left as it is. It is idempotent.
func (t *Target) Stop(ctx context.Context) error { return t.ext.Stop(ctx) }

// client returns the cluster's client and its configuration (nil for
// Config.Client).
func (t *Target) client() (kubernetes.Interface, *rest.Config, error) {
	if t.cfg.Client != nil {
		return t.cfg.Client, nil, nil
	}
	rc, err := t.restConfig()
	if err != nil {
		return nil, nil, err
	}
	rc.QPS, rc.Burst = DefaultQPS, DefaultBurst
	rc.UserAgent = "gameday"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, rc, nil
}

// restConfig reads the service account of the pod gameday runs in, or the
// kubeconfig (the scenario's, else $KUBECONFIG, else ~/.kube/config) at
// the scenario's context.
func (t *Target) restConfig() (*rest.Config, error) {
	if t.spec.InCluster {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("target.kubernetes.inCluster: %w", err)
		}
		return rc, nil
	}
	rules := &clientcmd.ClientConfigLoadingRules{}
	switch {
	case t.spec.Kubeconfig != "":
		path, err := t.expand(t.spec.Kubeconfig)
		if err != nil {
			return nil, err
		}
		if !filepath.IsAbs(path) && t.cfg.Dir != "" {
			path = filepath.Join(t.cfg.Dir, path)
		}
		rules.ExplicitPath = path
	case t.cfg.KubeconfigEnv != "":
		rules.Precedence = filepath.SplitList(t.cfg.KubeconfigEnv)
	default:
		rules.Precedence = []string{clientcmd.RecommendedHomeFile}
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: t.spec.Context}
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("target.kubernetes: kubeconfig: %w", err)
	}
	return rc, nil
}

// expand executes the templated kubeconfig path over env and file.
func (t *Target) expand(text string) (string, error) {
	tm, err := template.New("kubeconfig").Option("missingkey=error").Funcs(t.cfg.Funcs).Parse(text)
	if err != nil {
		return "", fmt.Errorf("target.kubernetes.kubeconfig: %w", err)
	}
	var b strings.Builder
	if err := tm.Execute(&b, nil); err != nil {
		return "", fmt.Errorf("target.kubernetes.kubeconfig: %w", err)
	}
	return b.String(), nil
}

// serverVersion asks the API server for its version, bounded by
// DefaultReachTimeout and ctx (discovery calls take no context).
func serverVersion(ctx context.Context, c discovery.ServerVersionInterface) (*version.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultReachTimeout)
	defer cancel()
	type answer struct {
		v   *version.Info
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := c.ServerVersion()
		ch <- answer{v, err}
	}()
	select {
	case a := <-ch:
		return a.v, a.err
	case <-ctx.Done():
		return nil, errors.Join(errors.New("no answer"), context.Cause(ctx))
	}
}
