package main

import (
	"os/exec"
	"strings"
	"testing"
)

const (
	module       = "github.com/gameday/gameday"
	referenceApp = module + "/reference-app"
)

// TestImportsStayInsideReferenceApp proves that reference-app, tests
// included, depends on no other package of gameday: gameday tests it from
// outside, as it would test a user's service.
func TestImportsStayInsideReferenceApp(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "-f", "{{.ImportPath}}", referenceApp+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if bad := gamedayOutside(deps); len(bad) > 0 {
		t.Errorf("reference-app depends on gameday packages %v; want none outside %s", bad, referenceApp)
	}
	if len(gamedayOutside([]string{module + "/run", referenceApp + "/api"})) != 1 {
		t.Errorf("gamedayOutside misses %s/run", module)
	}
	found := false
	for _, d := range deps {
		found = found || d == referenceApp+"/gateway"
	}
	if !found {
		t.Errorf("go list -deps listed no %s/gateway: the check saw nothing", referenceApp)
	}
}

// gamedayOutside returns the gameday packages in deps that are not part of
// reference-app (test variants like "p [p.test]" included).
func gamedayOutside(deps []string) []string {
	var bad []string
	for _, d := range deps {
		path, _, _ := strings.Cut(d, " ")
		path = strings.TrimSuffix(path, ".test")
		if (path == module || strings.HasPrefix(path, module+"/")) &&
			path != referenceApp && !strings.HasPrefix(path, referenceApp+"/") {
			bad = append(bad, d)
		}
	}
	return bad
}
