package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInputFiles loads testdata/inputs/*.bad.yaml and *.good.yaml with the
// process's environment, so that their data and body files are read, and
// compares the problems with the paired .bad.err file (-update rewrites
// it), as TestBadFiles does.
func TestInputFiles(t *testing.T) {
	bad, _ := filepath.Glob("testdata/inputs/*.bad.yaml")
	good, _ := filepath.Glob("testdata/inputs/*.good.yaml")
	if len(bad) == 0 || len(good) == 0 {
		t.Fatal("no testdata/inputs/*.bad.yaml or *.good.yaml")
	}
	for _, file := range good {
		s, err := Load(file, WithEnvironment(OSEnvironment()))
		if err != nil {
			t.Errorf("Load(%q) = %v; want no error", file, err)
			continue
		}
		if tb := s.Values().Data("users.csv"); tb == nil || len(tb.Rows) != 2 || tb.Rows[1]["password"] != "pw-b" {
			t.Errorf("Values().Data(users.csv) = %+v; want 2 rows, the second's password pw-b", tb)
		}
		if body, ok := s.Values().BodyFile("payload.json"); !ok || !strings.Contains(body, "{{.Row.email}}") {
			t.Errorf("Values().BodyFile(payload.json) = %q, %v; want the template", body, ok)
		}
	}
	for _, file := range bad {
		_, err := Load(file, WithEnvironment(OSEnvironment()))
		var serr *Error
		if !errors.As(err, &serr) {
			t.Fatalf("Load(%q) error = %v; want *Error", file, err)
		}
		got := err.Error() + "\n"
		golden := strings.TrimSuffix(file, ".yaml") + ".err"
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("read %s: %v (run go test -update to create it)", golden, err)
		}
		if got != string(want) {
			t.Errorf("Load(%q) error:\n%s\nwant (%s):\n%s", file, got, golden, want)
		}
	}
}

func TestParseData(t *testing.T) {
	tests := []struct {
		name, content, want string // want: the error, "" for none
	}{
		{"a.csv", "a,b\n1,2\n", ""},
		{"a.CSV", "a\n1\n", ""},
		{"a.json", `[{"a":"x","b":true}]`, ""},
		{"a.csv", "a,a\n1,2\n", `header: column 2 is empty or repeated ("a")`},
		{"a.csv", "a,b\n", "no rows"},
		{"a.json", `[{"a":{"b":1}}]`, `row 0: "a" is not a string, number or boolean`},
		{"a.json", `[{"a":"x"},{"b":"y"}]`, "row 1: keys b differ from the first row's (a)"},
		{"a.yaml", "a: 1", "not a .csv or .json file"},
	}
	for _, tt := range tests {
		_, err := ParseData(tt.name, []byte(tt.content))
		if got := errString(err); got != tt.want {
			t.Errorf("ParseData(%q, %q) error = %q; want %q", tt.name, tt.content, got, tt.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
