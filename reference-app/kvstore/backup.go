package kvstore

// Backups and restore drills.
//
//	store ──Backup──▶ one bbolt read transaction: tx.WriteTo → <dir>/<id>.db.tmp (sha256 as it goes)
//	                  fsync, rename → <id>.db; then the manifest <id>.json (written last:
//	                  a listing sees only complete backups, as in an object store)
//	restore ─────────▶ pick the latest (or a named) manifest, check the sha256,
//	                  copy into <data-dir>/store.db, make it a primary at a new epoch
//
// The folder stands for an object store: backups are written once under
// their id and never changed, and nothing but whole files is read back.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Manifest describes one backup: the consistent copy of a store's bbolt
// file, as of sequence Seq.
type Manifest struct {
	// ID names the backup: <id>.db is the copy, <id>.json this manifest.
	ID string `json:"id"`
	// Node is the store node the copy was taken from.
	Node string `json:"node"`
	// Seq is the last sequence applied in the copy: it holds every batch
	// up to Seq and none after.
	Seq uint64 `json:"seq"`
	// Epoch is the node's fencing epoch when the copy was taken.
	Epoch uint64 `json:"epoch"`
	// Time is when the copy was taken (the read transaction began).
	Time time.Time `json:"time"`
	// Size is the copy's length in bytes; SHA256 its checksum (hex).
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// manifestExt and copyExt are the file name endings of a backup's two
// objects.
const (
	manifestExt = ".json"
	copyExt     = ".db"
)

// ErrNoBackup is returned, wrapped, when a backup folder holds no backup
// (or not the one asked for).
var ErrNoBackup = errors.New("no such backup")

// WithBackupDir sets the folder (standing for an object store) that Backup
// writes to; empty (the default) disables backups.
func WithBackupDir(dir string) Option { return func(o *options) { o.backupDir = dir } }

// WithBackupInterval makes RunBackups take a backup every d (0, the
// default: only on request).
func WithBackupInterval(d time.Duration) Option { return func(o *options) { o.backupInterval = d } }

// errNoBackupDir: the node has no backup folder (409 on request).
var errNoBackupDir = errors.New("backups are disabled: the store has no backup folder")

// Backup takes a consistent copy of the node's data (one bbolt read
// transaction: writes go on meanwhile and are not in it) into the backup
// folder, and returns its manifest once both the copy and the manifest are
// durable. It works on a primary and on a replica.
func (n *Node) Backup(ctx context.Context) (Manifest, error) {
	if n.opts.backupDir == "" {
		return Manifest{}, errNoBackupDir
	}
	start := n.opts.now()
	m, err := n.backup(ctx, start)
	if err != nil {
		n.metrics.backups.WithLabelValues(resultError).Inc()
		return Manifest{}, fmt.Errorf("backup: %w", err)
	}
	n.metrics.backups.WithLabelValues(resultOK).Inc()
	n.metrics.backupDuration.Set(n.opts.now().Sub(start).Seconds())
	n.metrics.lastBackup(m)
	n.opts.log.Info("backup taken", "id", m.ID, "seq", m.Seq, "epoch", m.Epoch, "bytes", m.Size)
	return m, nil
}

func (n *Node) backup(ctx context.Context, start time.Time) (Manifest, error) {
	dir := n.opts.backupDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, err
	}
	m := Manifest{Node: n.opts.node, Time: start.UTC()}
	tmp, err := os.CreateTemp(dir, ".backup-*.tmp")
	if err != nil {
		return Manifest{}, err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone after the rename; left only on failure
	h := sha256.New()
	err = n.eng.db.View(func(tx *bolt.Tx) error {
		st, err := readState(tx)
		if err != nil {
			return err
		}
		m.Seq, m.Epoch = st.AppliedSeq, st.Epoch
		m.Size, err = tx.WriteTo(io.MultiWriter(tmp, h, ctxWriter{ctx}))
		return err
	})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("copy the data: %w", err)
	}
	m.SHA256 = hex.EncodeToString(h.Sum(nil))
	m.ID = fmt.Sprintf("%s-%s-seq%d", m.Time.Format("20060102T150405.000000000Z"), n.opts.node, m.Seq)
	if err := os.Rename(tmp.Name(), filepath.Join(dir, m.ID+copyExt)); err != nil {
		return Manifest{}, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	if err := writeFileSync(filepath.Join(dir, m.ID+manifestExt), append(b, '\n')); err != nil {
		return Manifest{}, fmt.Errorf("write the manifest: %w", err)
	}
	return m, syncDir(dir)
}

// ctxWriter fails a copy whose context ended.
type ctxWriter struct{ ctx context.Context }

func (w ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// RunBackups takes a backup every backup interval until ctx is done or the
// node closes; it returns nil then. Without a backup folder or interval it
// only waits. A failed backup is logged and counted, and tried again at the
// next tick.
func (n *Node) RunBackups(ctx context.Context) error {
	if n.opts.backupDir == "" || n.opts.backupInterval <= 0 {
		select {
		case <-ctx.Done():
		case <-n.done:
		}
		return nil
	}
	tick := time.NewTicker(n.opts.backupInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.done:
			return nil
		case <-tick.C:
		}
		if _, err := n.Backup(ctx); err != nil && ctx.Err() == nil {
			n.opts.log.Error("scheduled backup failed", "err", err)
		}
	}
}

// initBackupMetrics sets the last-backup gauges from the newest backup in
// the folder (by time, whichever node took it), so that a restarted
// process does not report a backup age it does not have.
func (n *Node) initBackupMetrics() {
	if n.opts.backupDir == "" {
		return
	}
	all, err := Backups(n.opts.backupDir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			n.opts.log.Warn("list backups", "err", err)
		}
		return
	}
	if len(all) == 0 {
		return
	}
	n.metrics.lastBackup(all[len(all)-1])
}

// ErrDataLost is returned, wrapped, by Open for a fresh primary (a data
// dir without DBFile) whose backup folder holds backups of the same node:
// its data was lost, and starting empty would serve an empty store as the
// truth (and the sentinel adopt it). Restore a backup first (Restore,
// `refapp restore`); a supervisor that restarts the store retries until
// the restored file is in place.
var ErrDataLost = errors.New("data lost: the data dir holds no store, but the backup folder holds backups of this node; restore one first (refapp restore)")

// checkNotLost refuses a fresh primary whose data was lost (see
// ErrDataLost). A replica starts empty and copies its primary's data
// again: it is never refused.
func (o options) checkNotLost(dataDir string) error {
	if o.mode != RolePrimary || o.backupDir == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dataDir, DBFile)); !errors.Is(err, os.ErrNotExist) {
		return nil // a store to open, or an error Open reports
	}
	all, err := Backups(o.backupDir)
	if err != nil {
		return nil // no folder yet: a first start
	}
	for _, m := range slices.Backward(all) {
		if m.Node == o.node {
			return fmt.Errorf("%w: node %s, latest backup %s in %s", ErrDataLost, o.node, m.ID, o.backupDir)
		}
	}
	return nil
}

// Backups lists the complete backups in dir (those with a manifest),
// oldest first: by time, then sequence. By time, not sequence: after a
// restore from an older backup, the sequences of the abandoned timeline
// may run higher than those of the newer backups.
func Backups(dir string) ([]Manifest, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list backups in %s: %w", dir, err)
	}
	var out []Manifest
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, manifestExt) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("list backups in %s: %w", dir, err)
		}
		var m Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("list backups in %s: manifest %s: %w", dir, name, err)
		}
		if m.ID+manifestExt != name {
			return nil, fmt.Errorf("list backups in %s: manifest %s names backup %q", dir, name, m.ID)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Manifest) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	return out, nil
}

// RestoreOptions say what Restore restores and at which epoch.
type RestoreOptions struct {
	// BackupDir is the folder of backups.
	BackupDir string
	// ID is the backup to restore; empty: the latest (by time).
	ID string
	// MinEpoch is an epoch the cluster is known to have reached (from the
	// sentinel); the restored store's epoch is above it and above the
	// backup's.
	MinEpoch uint64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Restored is what Restore did.
type Restored struct {
	// Backup is the manifest of the backup restored.
	Backup Manifest `json:"backup"`
	// Epoch is the new fencing epoch the store is primary at.
	Epoch uint64 `json:"epoch"`
	// Duration is the time from the start of Restore until the data dir
	// was ready to open.
	Duration time.Duration `json:"duration"`
}

// Restore rebuilds a store's data dir from a backup: it checks the copy
// against its manifest's size and sha256, installs it as dataDir/store.db
// and makes it a primary (unfenced, following no one) at a new epoch, above
// the backup's and opts.MinEpoch, recorded in the epoch history as
// beginning after the backup's sequence. The data dir must hold no store
// file: a restore never overwrites data, and a store process must not be
// running on it. The restored store holds exactly the batches up to the
// backup's sequence; replicas that hold more discard the rest when they
// follow it.
func Restore(ctx context.Context, dataDir string, opts RestoreOptions) (Restored, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	m, err := pickBackup(opts.BackupDir, opts.ID)
	if err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	dst := filepath.Join(dataDir, DBFile)
	if _, err := os.Stat(dst); err == nil {
		return Restored{}, fmt.Errorf("restore into %s: the data dir already holds a store; remove it first", dataDir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return Restored{}, fmt.Errorf("restore into %s: %w", dataDir, err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return Restored{}, fmt.Errorf("restore into %s: %w", dataDir, err)
	}
	tmp := dst + ".restore"
	if err := copyChecked(ctx, filepath.Join(opts.BackupDir, m.ID+copyExt), tmp, m); err != nil {
		_ = os.Remove(tmp)
		return Restored{}, fmt.Errorf("restore %s: %w", m.ID, err)
	}
	epoch := max(m.Epoch, opts.MinEpoch) + 1
	took := now().Sub(start)
	if err := makePrimary(tmp, epoch, m, took); err != nil {
		_ = os.Remove(tmp)
		return Restored{}, fmt.Errorf("restore %s: %w", m.ID, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return Restored{}, fmt.Errorf("restore %s: %w", m.ID, err)
	}
	if err := syncDir(dataDir); err != nil {
		return Restored{}, fmt.Errorf("restore %s: %w", m.ID, err)
	}
	return Restored{Backup: m, Epoch: epoch, Duration: now().Sub(start)}, nil
}

// pickBackup returns the manifest of backup id in dir, or of the latest
// (by time).
func pickBackup(dir, id string) (Manifest, error) {
	all, err := Backups(dir)
	if err != nil {
		return Manifest{}, err
	}
	if id == "" {
		if len(all) == 0 {
			return Manifest{}, fmt.Errorf("%w in %s", ErrNoBackup, dir)
		}
		return all[len(all)-1], nil
	}
	for _, m := range all {
		if m.ID == id {
			return m, nil
		}
	}
	return Manifest{}, fmt.Errorf("%w %q in %s", ErrNoBackup, id, dir)
}

// copyChecked copies src to dst, checks it against m's size and checksum
// and syncs it.
func copyChecked(ctx context.Context, src, dst string, m Manifest) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }() // read only: a close error loses nothing
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h, ctxWriter{ctx}), in)
	if err != nil {
		return err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != m.Size || sum != m.SHA256 {
		return fmt.Errorf("the copy is %d bytes with sha256 %s; the manifest says %d bytes, %s: corrupt backup", n, sum, m.Size, m.SHA256)
	}
	return out.Sync()
}

// Meta keys of a restored store.
var (
	keyRestoredFrom     = []byte("restoredFrom")
	keyRestoreDuration  = []byte("restoreDuration")
	keyRestoredSequence = []byte("restoredSeq")
)

// makePrimary turns the bbolt file at path into a primary at epoch that
// began after m.Seq, and records the restore.
func makePrimary(path string, epoch uint64, m Manifest, took time.Duration) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		st, err := readState(tx)
		if err != nil {
			return err
		}
		if st.AppliedSeq != st.LastSeq || st.LastSeq != m.Seq {
			return fmt.Errorf("the copy's log ends at %d, applied %d; the manifest says %d", st.LastSeq, st.AppliedSeq, m.Seq)
		}
		st.Role, st.Epoch, st.Primary, st.Fenced = RolePrimary, epoch, "", false
		st.History = append(st.History, EpochStart{Epoch: epoch, After: st.LastSeq})
		if err := putState(tx, st); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		for k, v := range map[string]string{
			string(keyRestoredFrom):     m.ID,
			string(keyRestoreDuration):  strconv.FormatInt(took.Nanoseconds(), 10),
			string(keyRestoredSequence): strconv.FormatUint(m.Seq, 10),
		} {
			if err := meta.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	return errors.Join(err, db.Close())
}

// restoreInfo is what a restored store's meta says of its restore; ok is
// false for a store that was never restored.
type restoreInfo struct {
	from     string
	seq      uint64
	duration time.Duration
}

func (e *engine) restoreInfo() (ri restoreInfo, ok bool) {
	_ = e.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		from := m.Get(keyRestoredFrom)
		if from == nil {
			return nil
		}
		ri.from = string(from)
		ri.seq, _ = strconv.ParseUint(string(m.Get(keyRestoredSequence)), 10, 64)
		ns, _ := strconv.ParseInt(string(m.Get(keyRestoreDuration)), 10, 64)
		ri.duration, ok = time.Duration(ns), true
		return nil
	})
	return ri, ok
}

// writeFileSync writes b to path and syncs it.
func writeFileSync(path string, b []byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.Sync()
}

// syncDir makes the entries of dir durable (a rename, a new file).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
