package deploy

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"
)

// TestKustomizeBuild renders the kustomization with kubectl (when it is
// installed; kubectl kustomize needs no cluster) and checks that the
// rendered set decodes strictly, has every document, and passes the same
// checks as the sources.
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, "kustomize", manifestDir)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("kubectl kustomize %s: %v\n%s", manifestDir, err, stderr)
	}
	rendered, err := decodeDocs("kubectl kustomize", out)
	if err != nil {
		t.Fatal(err)
	}
	sources, err := decodeDir(manifestDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rendered) != len(sources) {
		t.Errorf("kubectl kustomize rendered %d documents; the sources hold %d", len(rendered), len(sources))
	}
	for _, p := range check(index(rendered), refappContract(t)) {
		t.Errorf("rendered: %s", p)
	}
}
