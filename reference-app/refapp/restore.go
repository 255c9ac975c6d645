package refapp

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gameday/gameday/reference-app/kvstore"
)

// restoreCommand is the one-shot command that rebuilds a store's data dir
// from a backup (not a role: it serves nothing and exits):
//
//	refapp restore --data-dir=DIR --backup-dir=BACKUPS [--backup=ID] [--sentinel=URL] [--min-epoch=E]
//
// It logs one JSON line "restored" with the backup's id, sequence and the
// new epoch, and the restore's duration (the drill's RTO share of the
// restore itself), then exits 0; 1 when it could not restore, 2 on bad
// flags. Start the store process on DIR afterwards: it comes up as the
// primary at the new epoch, and the sentinel adopts it.
const restoreCommand = "restore"

// restore runs the restore command.
func restore(ctx context.Context, args []string, stderr io.Writer) int {
	log := slog.New(slog.NewJSONHandler(stderr, nil)).With("role", restoreCommand)
	fs := flag.NewFlagSet("refapp restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		dataDir   = fs.String("data-dir", "", "the store's data dir to rebuild; must hold no "+kvstore.DBFile+" (required)")
		backupDir = fs.String("backup-dir", "", "the folder of backups (required)")
		id        = fs.String("backup", "", "id of the backup to restore (default: the latest, by time)")
		sentinel  = fs.String("sentinel", "", "base URL of the sentinel, asked for the cluster's epoch so that the restored store's is above it")
		minEpoch  = fs.Uint64("min-epoch", 0, "an epoch the cluster is known to have reached; the restored store's epoch is above it")
		timeout   = fs.Duration("timeout", time.Minute, "give up after this long")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		log.Error("bad command line", "err", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		return exitUsage
	case *dataDir == "" || *backupDir == "":
		log.Error("bad command line", "err", "flags --data-dir and --backup-dir are required")
		return exitUsage
	case *sentinel != "" && kvstore.CheckBaseURL(*sentinel) != nil:
		log.Error("bad command line", "err", kvstore.CheckBaseURL(*sentinel).Error())
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	epoch := *minEpoch
	if *sentinel != "" {
		e, err := sentinelEpoch(ctx, strings.TrimSuffix(*sentinel, "/"))
		if err != nil {
			log.Error("restore failed", "err", err)
			return exitError
		}
		epoch = max(epoch, e)
	}
	r, err := kvstore.Restore(ctx, *dataDir, kvstore.RestoreOptions{BackupDir: *backupDir, ID: *id, MinEpoch: epoch})
	if err != nil {
		log.Error("restore failed", "err", err)
		return exitError
	}
	log.Info("restored", "backup", r.Backup.ID, "seq", r.Backup.Seq, "backupTime", r.Backup.Time,
		"epoch", r.Epoch, "durationSeconds", r.Duration.Seconds(), "dataDir", *dataDir)
	return exitOK
}

// sentinelEpoch asks the sentinel for the cluster's epoch: GET /v1/primary
// carries it in a 200 and in a 503 (no primary known) answer alike.
func sentinelEpoch(ctx context.Context, base string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/primary", nil)
	if err != nil {
		return 0, fmt.Errorf("ask the sentinel for the epoch: %w", err)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req) //nolint:gosec // G704: the sentinel URL is the operator's flag
	if err != nil {
		return 0, fmt.Errorf("ask the sentinel for the epoch: %w", err)
	}
	defer resp.Body.Close()
	var ans struct {
		Epoch uint64 `json:"epoch"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ans); err != nil {
		return 0, fmt.Errorf("ask the sentinel for the epoch: status %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, fmt.Errorf("ask the sentinel for the epoch: status %d", resp.StatusCode)
	}
	return ans.Epoch, nil
}
