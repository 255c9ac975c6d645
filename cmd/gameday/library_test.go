package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gameday/gameday/scenarios"
)

// TestListNamesEveryBundledScenario: one line per bundled scenario, its
// name first, then what it proves.
func TestListNamesEveryBundledScenario(t *testing.T) {
	code, stdout, stderr := cli(t, context.Background(), "list")
	if code != exitOK {
		t.Fatalf("list: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	names := scenarios.BundledNames()
	if len(lines) != len(names) {
		t.Fatalf("list printed %d lines for %d bundled scenarios:\n%s", len(lines), len(names), stdout)
	}
	for i, n := range names {
		if f := strings.Fields(lines[i]); len(f) < 2 || f[0] != n {
			t.Errorf("line %d = %q; want %s and what it proves", i, lines[i], n)
		}
	}
}

// TestSchemaFileInSync: docs/scenario.schema.json, which the bundled
// scenarios and init's output name for yaml-language-server, is what
// gameday schema prints, and docs/scenario-reference.md what gameday schema
// --markdown generates from it. Regenerate them with bin/gameday schema
// [--markdown].
func TestSchemaFileInSync(t *testing.T) {
	code, stdout, stderr := cli(t, context.Background(), "schema")
	if code != exitOK {
		t.Fatalf("schema: exit %d: %s", code, stderr)
	}
	file, err := os.ReadFile(filepath.Join("..", "..", "docs", "scenario.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, []byte(stdout)) {
		t.Errorf("docs/scenario.schema.json differs from gameday schema: regenerate it (bin/gameday schema > docs/scenario.schema.json)")
	}
	code, stdout, stderr = cli(t, context.Background(), "schema", "--markdown")
	if code != exitOK {
		t.Fatalf("schema --markdown: exit %d: %s", code, stderr)
	}
	ref, err := os.ReadFile(filepath.Join("..", "..", "docs", "scenario-reference.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ref, []byte(stdout)) {
		t.Errorf("docs/scenario-reference.md differs from gameday schema --markdown: regenerate it (bin/gameday schema --markdown > docs/scenario-reference.md)")
	}
	for _, def := range []string{"## Scenario", "## Fault", "## NetworkFault", "## Checks", "## RTO", "## Stream"} {
		if !bytes.Contains(ref, []byte("\n"+def+"\n")) {
			t.Errorf("the scenario reference has no section %q", def)
		}
	}
}

// TestInitWritesAScenarioThatRuns writes a scenario for a service on
// loopback with init, and runs it green.
func TestInitWritesAScenarioThatRuns(t *testing.T) {
	var hits atomic.Int64
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, "ok")
	}))
	defer svc.Close()
	path := filepath.Join(t.TempDir(), "mine.yaml")
	code, _, stderr := cli(t, context.Background(), "init", "--url", svc.URL, "--route", "GET /health", "--route", "feed=GET /v1/feed?limit=2",
		"--rate", "20/s", "--duration", "1s", "-o", path)
	if code != exitOK {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	if code, _, stderr := cli(t, context.Background(), "init", "--url", svc.URL, "-o", path); code != exitUsage || !strings.Contains(stderr, "--force") {
		t.Errorf("init over an existing file: exit %d, %q; want %d naming --force", code, stderr, exitUsage)
	}
	code, stdout, stderr := cli(t, context.Background(), "run", path, "--out", t.TempDir())
	if code != exitOK {
		t.Fatalf("run of init's scenario: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if hits.Load() < 15 {
		t.Errorf("the service saw %d requests; want about 20", hits.Load())
	}
}

// TestInitReportsEveryBadFlag: every bad flag at once, exit 2, nothing
// written.
func TestInitReportsEveryBadFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.yaml")
	code, _, stderr := cli(t, context.Background(), "init", "--url", "ftp://h", "--route", "get /x", "--rate", "fast", "--toxiproxy", "http://127.0.0.1:1", "-o", path)
	if code != exitUsage {
		t.Fatalf("exit %d; want %d", code, exitUsage)
	}
	for _, want := range []string{`--url "ftp://h"`, `--route "get /x"`, "--rate", "--toxiproxy and --proxy go together"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not name %s:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("init wrote %s despite bad flags", path)
	}
}
