package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gameday/gameday/judge"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/run"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
)

// Caps on what `gameday report` reads from a run directory besides the
// scenario (scenarios.MaxFileSize). They are far above what a run writes
// (a few kilobytes of events; some 60 bytes of results a request, so a
// gigabyte is about 15 million requests) and keep a directory that is not a
// run's from exhausting memory.
const (
	maxEventsFile  = 64 << 20
	maxResultsFile = 1 << 30
)

// summaryToHelp is the help of --summary-to, on run and report.
const summaryToHelp = "append the short Markdown summary (report.md) to this file, e.g. \"$GITHUB_STEP_SUMMARY\""

// appendSummary appends r's Markdown summary to the file at path, creating
// it; nothing when path is "".
func appendSummary(path string, r *reports.Report) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("--summary-to: %w", err)
	}
	werr := reports.WriteMarkdown(f, r)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("--summary-to %s: %w", path, err)
	}
	return nil
}

func newReportCmd(st *state) *cobra.Command {
	var promQLFrom, formatList, summaryTo string
	cmd := &cobra.Command{
		Use:   "report RUN_DIR",
		Short: "Judge a run directory again and rewrite its reports",
		Long: `Report rebuilds every verdict and report of a run from its run directory alone: the scenario
as run, events.jsonl, the load results and the stored TSDB. It writes report.json,
report.md, junit.xml and report.html into RUN_DIR (--format picks some), the same bytes
each time. It works on a run that was killed,
judging it up to the moment it died. The exit code is that of the run: 0 passed, 1 failed,
3 aborted; 2 when RUN_DIR is not a run directory (missing, a file, empty, an invalid scenario,
events.jsonl that is not a run's events, or a file above its cap: events.jsonl 64 MiB,
each stream's results 1 GiB).`,
		Args: exactArgs(1, "one run directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			stopAtOnce(cmd.Context()) // nothing to revert
			if err := checkRunDir(args[0]); err != nil {
				return err
			}
			formats, err := reports.SelectFormats(formatList)
			if err != nil {
				return usagef("--format: %w", err)
			}
			switch promQLFrom {
			case "", judge.PromQLFromRecord, judge.PromQLFromTarget, judge.PromQLFromRun:
			default:
				return usagef("--promql-from %q: want %s, %s or %s", promQLFrom, judge.PromQLFromRecord, judge.PromQLFromTarget, judge.PromQLFromRun)
			}
			rep, err := judge.JudgeAndWrite(cmd.Context(), args[0], judge.WithPromQLFrom(promQLFrom), judge.WithJudgeEnvironment(st.environment()), judge.WithFormats(formats))
			if err != nil {
				return err
			}
			if err := reports.WriteTable(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
			if err := appendSummary(summaryTo, rep); err != nil {
				return err
			}
			switch rep.Status {
			case reports.StatusPassed:
				return nil
			case reports.StatusFailed:
				return &run.ChecksFailedError{Failed: rep.FailedNames()}
			}
			return &run.AbortedError{Reason: string(rep.Status) + ": " + rep.Reason}
		},
	}
	cmd.Flags().StringVar(&promQLFrom, "promql-from", "",
		"for a target with a Prometheus of its own, where PromQL checks are answered: record (what it answered when the run was judged; the default when recorded), target (ask it again) or run (the run's own TSDB)")
	cmd.Flags().StringVar(&formatList, "format", "all", "the reports to write into RUN_DIR, a comma-separated list of "+reports.FormatNames()+", or all")
	cmd.Flags().StringVar(&summaryTo, "summary-to", "", summaryToHelp)
	return cmd
}

// checkRunDir refuses, as invalid input (exit code 2), what is not a run
// directory the judge can read: a missing path, a file, a directory without
// the scenario or the events, an invalid scenario, an events file that is
// not a run's events, and files above their caps.
func checkRunDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("report: %s does not exist (want a run directory, as gameday run writes under runs/)", dir)
	case err != nil:
		return usagef("report: %w", err)
	case !st.IsDir():
		return usagef("report: %s is a file, not a run directory (want the directory gameday run wrote, with %s and %s)", dir, rundir.FileScenario, rundir.FileEvents)
	}
	scenarioPath := filepath.Join(dir, rundir.FileScenario)
	if _, err := os.Stat(scenarioPath); errors.Is(err, fs.ErrNotExist) {
		return usagef("report: %s is not a run directory: it has no %s", dir, rundir.FileScenario)
	}
	s, err := scenarios.Load(scenarioPath)
	if err != nil {
		return err
	}
	if err := checkEvents(dir, filepath.Join(dir, rundir.FileEvents)); err != nil {
		return err
	}
	for _, stream := range s.Load {
		path := filepath.Join(dir, rundir.DirResults, stream.Name+".gob")
		st, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // the stream never started
		case err != nil:
			return usagef("report: %w", err)
		case !st.Mode().IsRegular():
			return usagef("report: %s is not a regular file", path)
		case st.Size() > maxResultsFile:
			return usagef("report: %s is larger than %d MiB (%d bytes), the most gameday reads of a stream's results", path, maxResultsFile>>20, st.Size())
		}
	}
	return nil
}

// checkEvents checks that path holds a run's events: JSON objects with a
// type, one a line; the last line may be torn (a run killed while writing
// it) but must then be the start of an object.
func checkEvents(dir, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return usagef("report: %s is not a run directory: it has no %s", dir, rundir.FileEvents)
	}
	if err != nil {
		return usagef("report: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only: Close cannot lose data
	if st, err := f.Stat(); err != nil {
		return usagef("report: %w", err)
	} else if !st.Mode().IsRegular() {
		return usagef("report: %s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxEventsFile+1))
	if err != nil {
		return usagef("report: read %s: %w", path, err)
	}
	if len(data) > maxEventsFile {
		return usagef("report: %s is larger than %d MiB, the most gameday reads of a run's events", path, maxEventsFile>>20)
	}
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if !complete {
			if bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
				break // torn by a kill: the judge ignores it
			}
			return usagef("report: %s:%d: not an event (a line of events.jsonl is a JSON object)", path, n)
		}
		var e rundir.Event
		if err := json.Unmarshal(line, &e); err != nil {
			return usagef("report: %s:%d: not an event: %w", path, n, err)
		}
		if e.Type == "" || e.Time.IsZero() {
			return usagef("report: %s:%d: not an event: it has no type or no time", path, n)
		}
	}
	return nil
}
