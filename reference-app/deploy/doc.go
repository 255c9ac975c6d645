// Package deploy is refapp on Kubernetes: the manifests in k8s/ (applied
// with kubectl apply -k), the image's Dockerfile and a Grafana dashboard.
// It has no code of its own; its tests decode every manifest strictly with
// client-go's scheme and check them, the Dockerfile and the dashboard
// against refapp's documented contract (ARCHITECTURE.md, README.md).
package deploy
