package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/reference-app/kvstore"
	"github.com/gameday/gameday/rundir"
)

// failoverScale plays the bundled failover game days twice as fast: the
// replication is cut 1.5 s before the primary is killed.
const (
	failoverScale  = "0.5"
	failoverCutFor = 1500 * time.Millisecond
)

// End to end on the reference backend, the bundled game days
// store-failover-sync and store-failover-async in one test run (acceptance
// 4 of the RTO/RPO issue, 2 of the game-day library's): the store primary
// is killed while replication to its replica is cut. In sync mode no
// acknowledged write is lost (RPO 0); in async mode the lost count the
// write probe measures equals the writes the old primary reports it
// discarded when it rejoined (refapp_store_discarded_writes_total), and the
// RPO is the length of the cut. The bundled dr-restore loses exactly the
// writes since its backup (testDRRestoreRPO).
func TestStoreFailoverRPO(t *testing.T) {
	for _, tt := range []struct {
		replication, check string
	}{
		{"sync", "no-loss"},
		{"async", "bounded-loss"},
	} {
		t.Run(tt.replication, func(t *testing.T) {
			out := t.TempDir()
			code, stdout, stderr := cli(t, context.Background(), "run", "store-failover-"+tt.replication, "--time-scale", failoverScale, "--out", out)
			dir := runDir(t, out)
			if code != exitOK {
				t.Fatalf("run = exit %d; want %d\n%s\n%s", code, exitOK, stdout, stderr)
			}
			rep := readReport(t, dir)
			c := findRPO(rep, tt.check)
			if c == nil || c.Loss == nil {
				t.Fatalf("no judged RPO in the report: %+v", rep.RPO)
			}
			l := c.Loss
			t.Logf("%s: %d writes, %d acknowledged, %d found, %d lost (split brain %d), %d unverified, RPO %s, replication lag %v",
				tt.replication, l.Writes, l.Acknowledged, l.Found, l.Lost, l.SplitBrain, l.Unverified, l.RPO, fmtLag(l.ReplicationLag))
			if l.Acknowledged == 0 || l.Unverified != 0 {
				t.Fatalf("%d acknowledged, %d unverified; want writes acknowledged and every one read back", l.Acknowledged, l.Unverified)
			}
			discarded := storeDiscarded(t, dir, rep.End)
			switch tt.replication {
			case "sync":
				if l.Lost != 0 || l.RPO != 0 || !c.Passed {
					t.Errorf("sync replication: lost %d, RPO %s, passed %v; want nothing lost", l.Lost, l.RPO, c.Passed)
				}
				// The old primary may have logged writes it never
				// acknowledged (waiting for the cut replica): discarded,
				// and rightly not lost.
				t.Logf("sync replication: the old primary discarded %v writes it never acknowledged", discarded)
			case "async":
				// A write in flight when the primary was killed may be in its
				// log without having been acknowledged: discarded, rightly
				// not lost. Such writes failed, sent before the kill.
				inFlight := inFlightAt(t, dir, l.Injected)
				if l.Lost == 0 || float64(l.Lost) > discarded || discarded > float64(l.Lost+inFlight) {
					t.Errorf("async replication: lost %d, the old primary discarded %v (%d writes in flight at the kill); want equal and above 0", l.Lost, discarded, inFlight)
				}
				t.Logf("async replication: lost %d, discarded %v, %d writes in flight at the kill", l.Lost, discarded, inFlight)
				if l.RPO <= 0 || l.RPO > failoverCutFor+500*time.Millisecond {
					t.Errorf("async replication: RPO %s; want the time since the cut (about %s)", l.RPO, failoverCutFor)
				}
			}
			sameReportAgain(t, dir)
		})
	}
	t.Run("dr-restore", testDRRestoreRPO)
}

// testDRRestoreRPO plays the bundled game day dr-restore (acceptance 2 of
// the game-day library's issue): a backup, the lone store's data destroyed
// and the store killed, the backup restored by an exec action. The write
// probe loses exactly the writes acknowledged after the backup, by the
// backend's own figures: the backup the drill took (its manifest, the
// backup action's answer) is the one the restore logged it restored, the
// restored store reports that sequence; every probe write acknowledged
// before the backup is found, every one sent after it and acknowledged
// before the disaster lost, every one sent after the disaster found
// (only writes in flight at the backup or the disaster may fall either
// way); the report says what the game day proves.
func testDRRestoreRPO(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := cli(t, context.Background(), "run", "dr-restore", "--time-scale", libraryScale, "--out", out)
	dir := runDir(t, out)
	if code != exitOK {
		t.Fatalf("run = exit %d; want %d\n%s\n%s", code, exitOK, stdout, stderr)
	}
	rep := readReport(t, dir)
	if md, err := os.ReadFile(filepath.Join(dir, rundir.FileMarkdown)); err != nil || rep.Proves == "" || !strings.Contains(string(md), "**What it proves:** "+rep.Proves) {
		t.Errorf("the report does not say what the game day proves (proves %q, %v)", rep.Proves, err)
	}
	c := findRPO(rep, "writes-since-backup")
	if c == nil || c.Loss == nil {
		t.Fatalf("no judged RPO in the report: %+v", rep.RPO)
	}
	l := c.Loss
	var man kvstore.Manifest
	var restored struct {
		Msg    string  `json:"msg"`
		Backup string  `json:"backup"`
		Seq    uint64  `json:"seq"`
		Epoch  uint64  `json:"epoch"`
		Took   float64 `json:"durationSeconds"`
	}
	for _, f := range rep.Faults {
		switch f.Name {
		case "backup":
			if err := json.Unmarshal([]byte(f.Output), &man); err != nil {
				t.Fatalf("the backup action's answer %q: %v", f.Output, err)
			}
		case "restore":
			for line := range strings.Lines(f.Output) {
				if json.Unmarshal([]byte(line), &restored) == nil && restored.Msg == "restored" {
					break
				}
			}
		}
	}
	if man.ID == "" || man.Seq == 0 || restored.Msg != "restored" || restored.Backup != man.ID || restored.Seq != man.Seq {
		t.Fatalf("backup %+v, restore logged %+v; want the backup the drill took restored", man, restored)
	}
	if got := lastMax(t, dir, "max(max_over_time(refapp_store_restored_sequence[1h]))", rep.End); got != float64(man.Seq) {
		t.Errorf("refapp_store_restored_sequence = %v; want the backup's %d", got, man.Seq)
	}

	// The probe's writes against the backup's instant (its read
	// transaction began at man.Time) and the disaster's (l.Injected): a
	// write in flight at either may fall on both sides.
	results, err := rundir.ReadProbe(dir)
	if err != nil {
		t.Fatal(err)
	}
	var before, since, inFlight, lateLost int
	for _, r := range results {
		w := r.Write
		if w.Outcome != load.WriteAcked {
			continue
		}
		lost := r.Read != nil && r.Read.Outcome == load.ReadNotFound
		switch {
		case w.Ack.Before(man.Time):
			before++
			if lost {
				t.Errorf("write %s, acknowledged %s before the backup, was lost", w.ID, man.Time.Sub(w.Ack))
			}
		case !w.Sent.Before(l.Injected):
			if lost {
				t.Errorf("write %s, sent %s after the disaster, was lost", w.ID, w.Sent.Sub(l.Injected))
			}
		case w.Sent.Before(man.Time) || !w.Ack.Before(l.Injected):
			inFlight++ // at the backup or at the disaster
			if lost && !w.Ack.Before(l.Injected) {
				lateLost++
			}
		default:
			since++
			if !lost {
				t.Errorf("write %s, sent %s after the backup and acknowledged before the disaster, was found after the restore", w.ID, w.Sent.Sub(man.Time))
			}
		}
	}
	t.Logf("dr-restore: backup %s (seq %d) %s before the disaster; restore %.0f ms, epoch %d; probe: %d writes acknowledged before the backup, %d since (%d in flight at the backup or the disaster); lost %d, RPO %s, split brain %d, unverified %d",
		man.ID, man.Seq, l.Injected.Sub(man.Time).Round(time.Millisecond), restored.Took*1000, restored.Epoch, before, since, inFlight, l.Lost, l.RPO, l.SplitBrain, l.Unverified)
	if r := findRTO(rep, "restored"); r != nil {
		t.Logf("dr-restore: RTO %s (objective %s, passed %v)", r.Measured, r.Objective, r.Passed)
	}
	if since == 0 || l.Lost < since || l.Lost > since+inFlight {
		t.Errorf("lost %d; want the %d writes acknowledged since the backup (and up to %d in flight at it or at the disaster), more than 0", l.Lost, since, inFlight)
	}
	if uint64(before) > man.Seq {
		t.Errorf("%d probe writes acknowledged before the backup; its sequence %d holds fewer", before, man.Seq)
	}
	// A write the old store committed just before the kill may be
	// acknowledged just after it: lost, and counted as split brain.
	if l.SplitBrain != lateLost || l.Unverified != 0 || !c.Passed {
		t.Errorf("split brain %d (%d in flight at the disaster lost), unverified %d, passed %v; want no other split brain, none unverified and the objective met", l.SplitBrain, lateLost, l.Unverified, c.Passed)
	}
	if l.RPO <= 0 || l.RPO > l.Injected.Sub(man.Time) {
		t.Errorf("RPO %s; want above 0 and at most the time from the backup to the disaster, %s", l.RPO, l.Injected.Sub(man.Time))
	}
	sameReportAgain(t, dir)
}

// inFlightAt counts the probe's writes sent before t that were never
// acknowledged: in flight when the fault struck.
func inFlightAt(t *testing.T, dir string, at time.Time) int {
	t.Helper()
	results, err := rundir.ReadProbe(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range results {
		if r.Write.Outcome == load.WriteFailed && r.Write.Sent.Before(at) && r.Write.Sent.After(at.Add(-time.Second)) {
			n++
		}
	}
	return n
}

func fmtLag(v *float64) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprintf("%gs", *v)
}

// storeDiscarded reads, from the run's TSDB, the writes the store
// processes report they discarded when they rejoined as a replica, as
// last scraped before end.
func storeDiscarded(t *testing.T, dir string, end time.Time) float64 {
	t.Helper()
	return lastMax(t, dir, "sum(max_over_time(refapp_store_discarded_writes_total[1h]))", end)
}

// lastMax is the highest value expr takes in the run's TSDB over the last
// second before end; 0 when it has none.
func lastMax(t *testing.T, dir, expr string, end time.Time) float64 {
	t.Helper()
	stored, err := metrics.OpenStored(filepath.Join(dir, rundir.DirTSDB))
	if err != nil {
		t.Fatal(err)
	}
	defer stored.Close()
	series, err := stored.QueryRange(context.Background(), expr, end.Add(-time.Second), end, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, s := range series {
		for _, p := range s.Points {
			if !math.IsNaN(p.V) {
				v = math.Max(v, p.V)
			}
		}
	}
	return v
}
