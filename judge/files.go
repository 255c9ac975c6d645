package judge

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
)

// rawFiles lists, relative to the run directory and in a stable order, the
// files of the run the reports link to: what the run wrote that exists, then
// every report file (whether written yet or not, so that the reports of a
// run are the same however often they are regenerated).
func rawFiles(dir string) []string {
	var out []string
	for _, name := range []string{rundir.FileScenario, rundir.FileTimeScale, rundir.FileEvents, rundir.FileJournal, rundir.FileProbe, rundir.FilePromQL} {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Mode().IsRegular() {
			out = append(out, name)
		}
	}
	for _, sub := range []string{rundir.DirResults, rundir.DirLogs} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			continue // none
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				out = append(out, sub+"/"+e.Name())
			}
		}
	}
	for _, f := range reports.Formats() {
		if !slices.Contains(out, f.File) {
			out = append(out, f.File)
		}
	}
	return out
}
