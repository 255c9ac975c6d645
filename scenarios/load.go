package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// Bundled holds the game days shipped with gameday, as "<name>.yaml".
//
//go:embed *.yaml
var Bundled embed.FS

// Load reads the scenario file at path (at most MaxFileSize bytes, see
// ReadFile), then decodes, defaults and validates it. Every failure, a failed
// read included, is an *Error (exit code 2); a failed read unwraps to the os
// error.
func Load(path string) (*Scenario, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadBytes(path, data)
}

// LoadBytes decodes, defaults and validates the scenario in data, read from
// file (which prefixes every problem). Failures are *Error.
func LoadBytes(file string, data []byte) (*Scenario, error) {
	s, err := Decode(file, data)
	if err != nil {
		return nil, err
	}
	SetDefaults(s)
	if err := Validate(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Open loads nameOrPath as a file when one exists there, and otherwise as a
// bundled scenario by name ("quickstart" or "quickstart.yaml"). A bundled
// scenario's problems cite "bundled:<name>.yaml". Failures are *Error.
func Open(nameOrPath string) (*Scenario, error) {
	if _, err := os.Stat(nameOrPath); err == nil {
		return Load(nameOrPath)
	}
	name := strings.TrimSuffix(nameOrPath, ".yaml") + ".yaml"
	if fs.ValidPath(name) && path.Dir(name) == "." {
		if data, err := fs.ReadFile(Bundled, name); err == nil {
			return LoadBytes("bundled:"+name, data)
		}
	}
	return nil, &Error{
		Problems: []Problem{{File: nameOrPath, Msg: fmt.Sprintf("no such file, nor a bundled scenario (bundled: %s)", strings.Join(BundledNames(), ", "))}},
		cause:    fmt.Errorf("open scenario %q: %w", nameOrPath, fs.ErrNotExist),
	}
}

// BundledNames lists the names of the bundled scenarios, sorted, without
// ".yaml".
func BundledNames() []string {
	entries, _ := fs.ReadDir(Bundled, ".") // an embed.FS root always reads
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// withoutPath is the message of a file error without the path, which the
// Problem already shows.
func withoutPath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
