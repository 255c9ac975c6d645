package kvstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/reference-app/kvstore"
	"github.com/gameday/gameday/reference-app/kvstore/kvstoretest"
)

// TestBackupAndRestore: N writes, a backup, M more, the data destroyed:
// the restore holds exactly the N, as a primary at a new epoch, and a
// replica that held the M discards them on following it.
func TestBackupAndRestore(t *testing.T) {
	ctx := context.Background()
	backups := t.TempDir()
	p := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"), kvstore.WithBackupDir(backups))...)
	c := kvstore.NewClient(kvstore.FixedPrimary(p.URL), hc)
	const n, m = 12, 7
	for i := range n {
		mustWrite(t, c, kvstore.Put("b", fmt.Sprintf("n%02d", i), raw(fmt.Sprint(i))))
	}
	code, body, _ := call(t, "POST", p.URL+"/v1/admin/backup", "")
	var man kvstore.Manifest
	if code != 200 || json.Unmarshal([]byte(body), &man) != nil {
		t.Fatalf("POST /v1/admin/backup = %d %s; want 200 and a manifest", code, body)
	}
	if man.Seq != n || man.Epoch != 1 || man.Node != "a" || len(man.SHA256) != 64 || man.Size <= 0 {
		t.Errorf("manifest = %+v; want seq %d, epoch 1, node a, a sha256 and a size", man, n)
	}
	for _, name := range []string{man.ID + ".db", man.ID + ".json"} {
		if _, err := os.Stat(filepath.Join(backups, name)); err != nil {
			t.Errorf("backup object %s: %v", name, err)
		}
	}
	if got := p.Metric("refapp_store_backup_last_sequence"); got != n {
		t.Errorf("refapp_store_backup_last_sequence = %v; want %d", got, n)
	}
	if got := p.Metric("refapp_store_backup_last_timestamp_seconds"); got != float64(man.Time.UnixNano())/1e9 {
		t.Errorf("refapp_store_backup_last_timestamp_seconds = %v; want %v", got, float64(man.Time.UnixNano())/1e9)
	}
	if got := p.Metric("refapp_store_backup_last_size_bytes"); got != float64(man.Size) {
		t.Errorf("refapp_store_backup_last_size_bytes = %v; want %d", got, man.Size)
	}
	// A replica that follows the whole log, M more writes included.
	r := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("r"),
		kvstore.WithMode(kvstore.RoleReplica), kvstore.WithPrimary(p.URL))...)
	for i := range m {
		mustWrite(t, c, kvstore.Put("b", fmt.Sprintf("m%02d", i), raw(fmt.Sprint(i))))
	}
	kvstoretest.WaitFor(t, wait, "the replica holds the M writes", func() bool { return r.Node().Status().AppliedSeq == n+m })

	// The primary's data is destroyed.
	p.Stop()
	if err := os.RemoveAll(p.Dir); err != nil {
		t.Fatal(err)
	}
	// Started again on the empty data dir, it would be an empty primary:
	// refused while the backup folder holds its backups; a replica that
	// starts empty is not.
	if n, err := kvstore.Open(p.Dir, kvstore.WithNode("a"), kvstore.WithBackupDir(backups)); !errors.Is(err, kvstore.ErrDataLost) {
		if n != nil {
			_ = n.Close()
		}
		t.Fatalf("Open of the destroyed primary = %v; want ErrDataLost", err)
	}
	if _, err := os.Stat(filepath.Join(p.Dir, kvstore.DBFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused Open left a store file: %v", err)
	}
	fresh := filepath.Join(t.TempDir(), "other")
	if n, err := kvstore.Open(fresh, kvstore.WithNode("b"), kvstore.WithBackupDir(backups)); err != nil {
		t.Errorf("Open of a fresh primary of another node = %v; want it opened", err)
	} else {
		_ = n.Close()
	}
	res, err := kvstore.Restore(ctx, p.Dir, kvstore.RestoreOptions{BackupDir: backups, MinEpoch: 3})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if res.Backup.ID != man.ID || res.Epoch != 4 || res.Duration <= 0 {
		t.Errorf("Restore = %+v; want backup %s at epoch 4 (above the min 3), with its duration", res, man.ID)
	}
	t.Logf("restore of %d bytes took %v", man.Size, res.Duration)
	p.Restart()
	st := p.Node().Status()
	if st.Role != kvstore.RolePrimary || st.Epoch != 4 || st.LastSeq != n {
		t.Fatalf("restored status = %+v; want primary at epoch 4 with seq %d", st, n)
	}
	if got := p.Metric("refapp_store_restored_sequence"); got != n {
		t.Errorf("refapp_store_restored_sequence = %v; want %d", got, n)
	}
	if got := p.Metric("refapp_store_restore_duration_seconds"); got <= 0 {
		t.Errorf("refapp_store_restore_duration_seconds = %v; want > 0", got)
	}
	items, err := c.List(ctx, "b", kvstore.ListOptions{Limit: 1000})
	if err != nil || len(items) != n || items[0].Key != "n00" || items[n-1].Key != fmt.Sprintf("n%02d", n-1) {
		t.Errorf("restored data = %v, %v; want exactly the %d writes of the backup", items, err, n)
	}
	// The replica follows the restored primary at its epoch and discards
	// the M writes after the backup.
	if _, err := r.Node().Follow(p.URL, 4); err != nil {
		t.Fatal(err)
	}
	kvstoretest.WaitFor(t, wait, "the replica discards the writes after the backup", func() bool {
		return r.Metric("refapp_store_discarded_writes_total") == m && r.Node().Status().AppliedSeq == n
	})
	// Writes go on at the new epoch.
	if res := mustWrite(t, c, kvstore.Put("b", "after", raw(`1`))); res.Seq != n+1 || res.Epoch != 4 {
		t.Errorf("write after the restore = %+v; want seq %d at epoch 4", res, n+1)
	}
}

func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	backups := t.TempDir()
	p := kvstoretest.Start(t, "", kvstore.WithBackupDir(backups))
	c := kvstore.NewClient(kvstore.FixedPrimary(p.URL), hc)
	mustWrite(t, c, kvstore.Put("b", "k", raw(`1`)))
	first, err := p.Node().Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, c, kvstore.Put("b", "k2", raw(`2`)))
	second, err := p.Node().Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := kvstore.Backups(backups)
	if err != nil || len(all) != 2 || all[0].ID != first.ID || all[1].ID != second.ID {
		t.Fatalf("Backups = %v, %v; want [%s %s]", all, err, first.ID, second.ID)
	}

	// Into a data dir that holds a store: refused, nothing touched.
	if _, err := kvstore.Restore(ctx, p.Dir, kvstore.RestoreOptions{BackupDir: backups}); err == nil || !strings.Contains(err.Error(), "already holds a store") {
		t.Errorf("Restore into a live data dir error = %v; want 'already holds a store'", err)
	}
	// A chosen backup: the first.
	dir := t.TempDir()
	res, err := kvstore.Restore(ctx, dir, kvstore.RestoreOptions{BackupDir: backups, ID: first.ID})
	if err != nil || res.Backup.Seq != 1 || res.Epoch != 2 {
		t.Errorf("Restore(first) = %+v, %v; want seq 1 at epoch 2", res, err)
	}
	// An unknown id, an empty folder.
	if _, err := kvstore.Restore(ctx, t.TempDir(), kvstore.RestoreOptions{BackupDir: backups, ID: "nope"}); !errors.Is(err, kvstore.ErrNoBackup) {
		t.Errorf("Restore(nope) error = %v; want ErrNoBackup", err)
	}
	if _, err := kvstore.Restore(ctx, t.TempDir(), kvstore.RestoreOptions{BackupDir: t.TempDir()}); !errors.Is(err, kvstore.ErrNoBackup) {
		t.Errorf("Restore from an empty folder error = %v; want ErrNoBackup", err)
	}
	// A corrupt copy: refused by its checksum, the data dir left empty.
	f := filepath.Join(backups, second.ID+".db")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if _, err := kvstore.Restore(ctx, dir, kvstore.RestoreOptions{BackupDir: backups}); err == nil || !strings.Contains(err.Error(), "corrupt backup") {
		t.Errorf("Restore of a corrupt copy error = %v; want 'corrupt backup'", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a refused restore left %v in the data dir", ents)
	}
	// The store restored from the first backup (seq 1) takes a new one:
	// the latest is that one, by time, though the second has seq 2.
	// (A node of another name: a fresh primary over backups of its own
	// would be refused, ErrDataLost.)
	restored := kvstoretest.Start(t, filepath.Join(t.TempDir(), "restored"), kvstore.WithNode("restored"), kvstore.WithBackupDir(backups))
	restored.Stop()
	if err := os.RemoveAll(restored.Dir); err != nil {
		t.Fatal(err)
	}
	if _, err := kvstore.Restore(ctx, restored.Dir, kvstore.RestoreOptions{BackupDir: backups, ID: first.ID}); err != nil {
		t.Fatal(err)
	}
	restored.Restart()
	third, err := restored.Node().Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err = kvstore.Restore(ctx, t.TempDir(), kvstore.RestoreOptions{BackupDir: backups})
	if err != nil || res.Backup.ID != third.ID || third.Seq != 1 {
		t.Errorf("Restore(latest) = %+v, %v; want the newest backup %s (seq 1), not the second's seq 2", res.Backup, err, third.ID)
	}
	// Without a backup folder, a backup on request is 409.
	q := kvstoretest.Start(t, "")
	if code, body, _ := call(t, "POST", q.URL+"/v1/admin/backup", ""); code != 409 {
		t.Errorf("POST /v1/admin/backup without a folder = %d %s; want 409", code, body)
	}
}

func TestScheduledBackups(t *testing.T) {
	backups := t.TempDir()
	p := kvstoretest.Start(t, "", kvstore.WithBackupDir(backups), kvstore.WithBackupInterval(20*time.Millisecond))
	go func() { _ = p.Node().RunBackups(t.Context()) }()
	kvstoretest.WaitFor(t, wait, "two scheduled backups", func() bool {
		all, err := kvstore.Backups(backups)
		return err == nil && len(all) >= 2
	})
	// A restarted process reports the newest backup of the folder.
	p.Restart(kvstore.WithBackupInterval(0))
	all, err := kvstore.Backups(backups)
	if err != nil {
		t.Fatal(err)
	}
	newest := all[len(all)-1]
	if got, want := p.Metric("refapp_store_backup_last_timestamp_seconds"), float64(newest.Time.UnixNano())/1e9; got != want {
		t.Errorf("after a restart, refapp_store_backup_last_timestamp_seconds = %v; want the newest backup's %v", got, want)
	}
	if got := p.Metric("refapp_store_backup_last_sequence"); got != float64(newest.Seq) {
		t.Errorf("after a restart, refapp_store_backup_last_sequence = %v; want %d", got, newest.Seq)
	}
}

// TestBoundedStalenessReads: a replica answers a read with a staleness
// bound only while it can promise it; the primary always can.
func TestBoundedStalenessReads(t *testing.T) {
	p := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"))...)
	c := kvstore.NewClient(kvstore.FixedPrimary(p.URL), hc)
	mustWrite(t, c, kvstore.Put("b", "k", raw(`1`)))
	r := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("r"),
		kvstore.WithMode(kvstore.RoleReplica), kvstore.WithPrimary(p.URL))...)
	list := func(url string, h ...string) (int, string, time.Duration) {
		code, body, hdr := call(t, "GET", url+"/v1/list?bucket=b", "", h...)
		d, _ := time.ParseDuration(hdr.Get(kvstore.StalenessHeader))
		return code, body, d
	}
	kvstoretest.WaitFor(t, wait, "the replica answers within 1s of staleness", func() bool {
		code, _, _ := list(r.URL, kvstore.MaxStalenessHeader, "1s")
		return code == 200
	})
	code, body, d := list(r.URL, kvstore.MaxStalenessHeader, "1s")
	if code != 200 || !strings.Contains(body, `"k"`) || d > time.Second {
		t.Errorf("replica bounded read = %d %s staleness %v; want 200 with k within 1s", code, body, d)
	}
	if code, _, d := list(p.URL, kvstore.MaxStalenessHeader, "0s"); code != 200 || d != 0 {
		t.Errorf("primary bounded read with bound 0 = %d staleness %v; want 200, 0s", code, d)
	}
	if code, body, _ := list(r.URL, kvstore.MinSeqHeader, "2"); code != 503 || !strings.Contains(body, kvstore.MsgTooStale) {
		t.Errorf("replica read with min seq 2 (it has 1) = %d %s; want 503 too stale", code, body)
	}
	// Cut off from its primary, the replica's promise ages past the bound.
	r.StopPull()
	kvstoretest.WaitFor(t, wait, "the cut-off replica refuses a 300ms bound", func() bool {
		code, body, _ := list(r.URL, kvstore.MaxStalenessHeader, "300ms")
		return code == 503 && strings.Contains(body, kvstore.MsgTooStale)
	})
	if code, _, _ := list(r.URL); code != 200 {
		t.Errorf("replica read without a bound = %d; want 200 (any node answers)", code)
	}
	for _, h := range [][]string{{kvstore.MaxStalenessHeader, "soon"}, {kvstore.MinSeqHeader, "-1"}} {
		if code, _, _ := list(r.URL, h...); code != 400 {
			t.Errorf("read with %s %q = %d; want 400", h[0], h[1], code)
		}
	}
}
