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
func Load(path string, opts ...LoadOption) (*Scenario, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadBytes(path, data, opts...)
}

// LoadOption configures Load, LoadBytes and Open.
type LoadOption func(*loadOptions)

type loadOptions struct {
	env *Environment
}

// WithEnvironment resolves the env and file values of the scenario's
// templates from env while validating (see ValidateIn); Scenario.Values
// returns them. Without it they are checked for form only, as `gameday
// report` does with a stored scenario.
func WithEnvironment(env Environment) LoadOption {
	return func(o *loadOptions) { o.env = &env }
}

// LoadBytes decodes, defaults and validates the scenario in data, read from
// file (which prefixes every problem). Failures are *Error.
func LoadBytes(file string, data []byte, opts ...LoadOption) (*Scenario, error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	s, err := Decode(file, data)
	if err != nil {
		return nil, err
	}
	SetDefaults(s)
	if s.vals, err = validate(s, o.env); err != nil {
		return nil, err
	}
	return s, nil
}

// Open loads nameOrPath as a file when one exists there, and otherwise as a
// bundled scenario by name ("quickstart" or "quickstart.yaml"). A bundled
// scenario's problems cite "bundled:<name>.yaml". Failures are *Error.
func Open(nameOrPath string, opts ...LoadOption) (*Scenario, error) {
	if _, err := os.Stat(nameOrPath); err == nil {
		return Load(nameOrPath, opts...)
	}
	name := strings.TrimSuffix(nameOrPath, ".yaml") + ".yaml"
	if fs.ValidPath(name) && path.Dir(name) == "." {
		if data, err := fs.ReadFile(Bundled, name); err == nil {
			return LoadBytes("bundled:"+name, data, opts...)
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
