package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
)

// libraryScale is the time scale make test plays the bundled game days at
// (GAMEDAY_LIBRARY_SCALE overrides it; make gameday plays them at 1).
const libraryScale = "0.25"

// libraryElsewhere are the bundled game days another test plays, with
// stricter checks of their own (TestStoreFailoverRPO).
var libraryElsewhere = []string{"store-failover-sync", "store-failover-async", "dr-restore"}

// TestBundledScenariosPass plays every bundled game day against the
// reference backend at libraryScale, one at a time (two local targets at
// once on a busy 2-core machine miss latency objectives), and wants each green:
// the library proves what it says about the backend. A game day on a
// kubernetes target needs a cluster: it is skipped here and played by
// TestKubeBundledPodLoss on the control plane of make test-k8s.
func TestBundledScenariosPass(t *testing.T) {
	if testing.Short() {
		t.Skip("plays every bundled game day")
	}
	scale := libraryScale
	if s := os.Getenv("GAMEDAY_LIBRARY_SCALE"); s != "" {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			t.Fatalf("GAMEDAY_LIBRARY_SCALE=%q: %v", s, err)
		}
		scale = s
	}
	slots := make(chan struct{}, 1)
	for _, name := range scenarios.BundledNames() {
		if slices.Contains(libraryElsewhere, name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			s, err := scenarios.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			if s.Target.Kind() == scenarios.TargetKubernetes {
				t.Skipf("%s plays a kubernetes target: no cluster here; make test-k8s plays it on a real control plane (TestKubeBundledPodLoss)", name)
			}
			t.Parallel()
			slots <- struct{}{}
			defer func() { <-slots }()
			out := t.TempDir()
			code, stdout, stderr := cli(t, context.Background(), "run", "-q", name, "--time-scale", scale, "--out", out)
			if code != exitOK {
				t.Fatalf("%s at time scale %s: exit %d; want %d\n%s\n%s", name, scale, code, exitOK, stdout, stderr)
			}
			rep := provingReport(t, name, runDir(t, out))
			passed, total := rep.Counts()
			t.Logf("%s at time scale %s: %d of %d checks passed", name, scale, passed, total)
		})
	}
}

// provingReport reads the report of the run in dir, of the game day name,
// and fails t unless its Markdown summary says what the game day proves.
func provingReport(t *testing.T, name, dir string) *reports.Report {
	t.Helper()
	rep := readReport(t, dir)
	md, err := os.ReadFile(filepath.Join(dir, rundir.FileMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Proves == "" || !strings.Contains(string(md), "**What it proves:** "+rep.Proves) {
		t.Errorf("%s: the report does not say what the game day proves (proves %q)", name, rep.Proves)
	}
	return rep
}
