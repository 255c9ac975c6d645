package scenarios

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	var serr *Error
	if !errors.As(err, &serr) || serr.ExitCode() != 2 {
		t.Fatalf("Load(%q) = %v; want *Error with exit code 2", path, err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(%q) = %v; want it to wrap fs.ErrNotExist", path, err)
	}
	if want := path + ": read scenario: no such file or directory"; err.Error() != want {
		t.Errorf("Load(%q) = %q; want %q", path, err, want)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "quickstart")
	data, err := os.ReadFile("testdata/minimal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg      string
		name     string // of the scenario loaded; "" for an error
		file     string
		errMatch string
	}{
		{"quickstart", "quickstart", "bundled:quickstart.yaml", ""},
		{"quickstart.yaml", "quickstart", "quickstart.yaml", ""}, // the test runs beside the file
		{own, "minimal", own, ""},                                // a file wins over a bundled name
		{"testdata/brief.good.yaml", "quickstart", "testdata/brief.good.yaml", ""},
		{"no-such-game-day", "", "", "no-such-game-day: no such file, nor a bundled scenario (bundled: api-replica-loss, "},
		{"../scenarios/quickstart", "", "", "nor a bundled scenario"},
	}
	for _, tt := range tests {
		s, err := Open(tt.arg)
		if tt.errMatch != "" {
			var serr *Error
			if !errors.As(err, &serr) || !strings.Contains(err.Error(), tt.errMatch) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open(%q) = %v; want *Error containing %q, wrapping fs.ErrNotExist", tt.arg, err, tt.errMatch)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q) = %v; want no error", tt.arg, err)
			continue
		}
		if s.Name != tt.name || s.File != tt.file {
			t.Errorf("Open(%q) = scenario %q from %q; want %q from %q", tt.arg, s.Name, s.File, tt.name, tt.file)
		}
	}
}
