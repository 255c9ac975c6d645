package refapp

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseStoreAndSentinel(t *testing.T) {
	tests := []struct {
		args    string
		wantErr string // substring; "" for success
	}{
		{"--role=store --data-dir=/tmp/x --node=a --mode=replica --primary=http://127.0.0.1:1 --replication=sync --sync-timeout=1s", ""},
		{"--role=store --data-dir=/tmp/x", ""},
		{"--role=store --mode=leader", "mode"},
		{"--role=store --replication=semi", "replication"},
		{"--role=store --sync-timeout=soon", "sync-timeout"},
		{"--role=store --stores=a=http://127.0.0.1:1", "-stores"}, // a sentinel flag
		{"--role=api --data-dir=/tmp/x", "-data-dir"},             // a store flag
		{"--role=sentinel --stores=a=http://127.0.0.1:1,b=http://127.0.0.1:2 --client-urls=a=http://127.0.0.1:3 --repl-urls=b=http://127.0.0.1:4 --check-interval=100ms --failures=2 --check-timeout=1s", ""},
		{"--role=sentinel --failures=many", "failures"},
		{"--role=sentinel --data-dir=/tmp/x", "-data-dir"}, // a store flag
		{"--role=gateway --upstreams=http://127.0.0.1:1 --mode=primary", "-mode"},
	}
	for _, tt := range tests {
		c, err := parse(strings.Fields(tt.args))
		switch {
		case tt.wantErr == "" && (err != nil || c.setup == nil):
			t.Errorf("parse(%q) = %+v, %v; want a role set up", tt.args, c, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parse(%q) error = %v; want one mentioning %q", tt.args, err, tt.wantErr)
		}
	}
}

func TestStoreAndSentinelExitCodes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args string
		want int
	}{
		{"--role=store", exitUsage}, // --data-dir is required
		{"--role=store --data-dir=" + dir + " --primary=127.0.0.1:1 --mode=replica", exitUsage},
		{"--role=store --data-dir=" + dir + " --primary=http://127.0.0.1:1", exitUsage}, // --primary with --mode=primary
		{"--role=store --data-dir=" + dir + " --sync-timeout=0s", exitUsage},
		{"--role=store --data-dir=" + filepath.Join(file, "sub"), exitError}, // cannot create the data dir
		{"--role=store --data-dir=" + dir + " --listen=256.0.0.1:80", exitError},
		{"--role=sentinel", exitUsage}, // --stores is required
		{"--role=sentinel --stores=a", exitUsage},
		{"--role=sentinel --stores=a=http://127.0.0.1:1 --repl-urls=b=http://127.0.0.1:2", exitUsage},
		{"--role=sentinel --stores=a=http://127.0.0.1:1 --failures=0", exitError},
		{"--role=store -h", exitOK},    // usage lists --data-dir
		{"--role=sentinel -h", exitOK}, // usage lists --stores
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		if got := Run(context.Background(), strings.Fields(tt.args), &stderr); got != tt.want {
			t.Errorf("Run(%q) = %d; want %d (stderr: %s)", tt.args, got, tt.want, stderr.String())
		}
		if tt.want == exitOK {
			flag := map[string]string{"store": "-data-dir", "sentinel": "-stores"}[roleOf(strings.Fields(tt.args))]
			if !strings.Contains(stderr.String(), flag) {
				t.Errorf("Run(%q) usage does not list %s:\n%s", tt.args, flag, stderr.String())
			}
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("Run(%q) wrote a non-JSON stderr line %q", tt.args, line)
			}
		}
	}
}
