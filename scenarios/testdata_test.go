package scenarios

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.bad.err from the current output")

// TestBadFiles loads every testdata/*.bad.yaml and compares the error, byte
// for byte, with the paired .bad.err file.
func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 11 {
		t.Fatalf("found %d testdata/*.bad.yaml files; want at least 11", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%q) = nil error; want the problems in the .err file", file)
			}
			var serr *Error
			if !errors.As(err, &serr) {
				t.Fatalf("Load(%q) error is %T; want *Error", file, err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read %s: %v (run go test -update to create it)", golden, err)
			}
			if got != string(want) {
				t.Errorf("Load(%q) error:\n%s\nwant (%s):\n%s", file, got, golden, want)
			}
		})
	}
}

// TestGoodFiles loads every testdata/*.good.yaml.
func TestGoodFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.good.yaml")
	}
	for _, file := range files {
		if _, err := Load(file); err != nil {
			t.Errorf("Load(%q) = %v; want no error", file, err)
		}
	}
}

// TestBundled loads every bundled scenario by name.
func TestBundled(t *testing.T) {
	names := BundledNames()
	if len(names) == 0 {
		t.Fatal("BundledNames() is empty; want at least quickstart")
	}
	for _, name := range names {
		s, err := Open(name)
		if err != nil {
			t.Errorf("Open(%q) = %v; want no error", name, err)
			continue
		}
		if s.Name == "" || len(s.Load) == 0 {
			t.Errorf("Open(%q) = scenario %q with %d streams; want a named scenario with load", name, s.Name, len(s.Load))
		}
	}
}

// FuzzDecode feeds arbitrary bytes through Decode, SetDefaults and Validate:
// they must never panic, and every failure must be an *Error.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode("fuzz.yaml", data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Decode error is %T; want *Error", err)
			}
			if s != nil {
				t.Fatalf("Decode returned a scenario and an error")
			}
			return
		}
		SetDefaults(s)
		if err := Validate(s); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Validate error is %T; want *Error", err)
			}
		}
	})
}
