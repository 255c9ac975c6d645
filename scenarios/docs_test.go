package scenarios

import (
	"bytes"
	"os"
	"testing"

	"github.com/gameday/gameday/scenarios/internal/docgen"
)

// TestFieldDocsInSync keeps docs_gen.go, the doc comments the JSON Schema
// shows, in sync with the comments of the scenario types; -update rewrites
// it.
func TestFieldDocsInSync(t *testing.T) {
	docs, err := docgen.Read(".")
	if err != nil {
		t.Fatal(err)
	}
	src, err := docgen.Source("scenarios", docs)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("docs_gen.go", src, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile("docs_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, src) {
		t.Errorf("docs_gen.go is not the doc comments of the scenario types: run go test ./scenarios -run TestFieldDocsInSync -update")
	}
	for _, k := range []string{"Scenario.Proves", "Fault.At", "LocalTarget.GatewayRateLimit", "NetworkFault"} {
		if docs[k] == "" {
			t.Errorf("no doc comment read for %s", k)
		}
	}
}
