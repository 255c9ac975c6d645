// Package kubetest gives tests — the reference backend's manifests' and
// gameday's — a real Kubernetes API server (it lives under reference-app,
// which may depend on nothing of gameday's, so that both can use it): the control
// plane that hack/kube-testenv.sh starts on 127.0.0.1 (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, and kwok
// standing in for the kubelets of one fake node).
//
// The control plane is not started by the tests: `make test-k8s` builds it
// once, starts it, sets the environment variables below and runs every test
// with `Kube` in its name; a plain `go test ./...` skips those tests when
// GAMEDAY_KUBECONFIG is unset.
//
// What is real: API validation, admission (Pod Security included),
// defaulting, RBAC, the Deployment, ReplicaSet and StatefulSet controllers,
// the scheduler, watches. What is fake: the pods run no process; kwok marks
// them Running and Ready once they are scheduled, and removes them when they
// are deleted. Probes, images, volumes and networking are not exercised.
//
// A test uses it as:
//
//	client := kubetest.Client(t)             // skips without a control plane
//	ns := kubetest.Namespace(t, client)      // fresh, deleted at the end
//	kubetest.Deployment(t, client, ns, "web", 3, map[string]string{"app": "web"})
package kubetest

// Environment variables read by Config.
const (
	// EnvKubeconfig names the kubeconfig of the control plane to test
	// against (`hack/kube-testenv.sh start DIR` writes DIR/kubeconfig).
	EnvKubeconfig = "GAMEDAY_KUBECONFIG"
	// EnvRequireKube, set to 1, turns a missing control plane from a skipped
	// test into a failed one, so that CI cannot pass by skipping.
	EnvRequireKube = "GAMEDAY_REQUIRE_KUBE"
)

// The fake node the test environment creates, and the label pods select it
// by: pods with nodeSelector FakeNodeLabel=FakeNodeLabelValue land on it and
// nowhere else.
const (
	FakeNode           = "kwok-node-0"
	FakeNodeLabel      = "type"
	FakeNodeLabelValue = "kwok"
)
