package refapp

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gameday/gameday/reference-app/kvstore"
)

func TestRestoreCommand(t *testing.T) {
	ctx := context.Background()
	backups := t.TempDir()
	// An empty store and a backup of it.
	src := t.TempDir()
	n, err := kvstore.Open(src, kvstore.WithBackupDir(backups))
	if err != nil {
		t.Fatal(err)
	}
	m, err := n.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "store-1")
	for _, tt := range []struct {
		name string
		args []string
		code int
		log  string
	}{
		{"no flags", nil, exitUsage, "--data-dir and --backup-dir are required"},
		{"unknown flag", []string{"--nope"}, exitUsage, ""},
		{"bad sentinel", []string{"--data-dir=" + dst, "--backup-dir=" + backups, "--sentinel=ftp://x"}, exitUsage, "base URL"},
		{"no backup", []string{"--data-dir=" + dst, "--backup-dir=" + t.TempDir()}, exitError, "no such backup"},
		{"restored", []string{"--data-dir=" + dst, "--backup-dir=" + backups, "--min-epoch=4"}, exitOK, `"msg":"restored"`},
		{"not over data", []string{"--data-dir=" + dst, "--backup-dir=" + backups}, exitError, "already holds a store"},
	} {
		var stderr bytes.Buffer
		code := Run(ctx, append([]string{"restore"}, tt.args...), &stderr)
		if code != tt.code || !strings.Contains(stderr.String(), tt.log) {
			t.Errorf("%s: refapp restore %q = exit %d, log %s; want exit %d with %q", tt.name, tt.args, code, stderr.String(), tt.code, tt.log)
		}
		if tt.name == "restored" {
			var line struct {
				Backup string `json:"backup"`
				Epoch  uint64 `json:"epoch"`
			}
			_ = json.Unmarshal(stderr.Bytes(), &line)
			if line.Backup != m.ID || line.Epoch != 5 {
				t.Errorf("restored line %s; want backup %s at epoch 5", stderr.String(), m.ID)
			}
			if _, err := os.Stat(filepath.Join(dst, kvstore.DBFile)); err != nil {
				t.Errorf("restored store file: %v", err)
			}
		}
	}
}
