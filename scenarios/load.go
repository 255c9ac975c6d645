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
	env       *Environment
	timeScale float64 // 0: 1
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
	s, d := decodeAll(file, data)
	if s == nil || d.stopped {
		return nil, errorOf(d.problems)
	}
	SetDefaults(s)
	s.scaleTimeline(o.timeScale)
	vals, err := validate(s, o.env)
	if len(d.problems) == 0 {
		if err != nil {
			return nil, err
		}
		s.vals = vals
		return s, nil
	}
	// Report every problem at once: what the decoder found, and what
	// validation finds in the rest of the file. A field that did not decode
	// is left out of validation's problems: it would only say again that it
	// is wrong, as zero.
	problems := d.problems
	var verr *Error
	if errors.As(err, &verr) {
		for _, p := range verr.Problems {
			if !underAny(p.Path, d.problems) {
				problems = append(problems, p)
			}
		}
	}
	slices.SortStableFunc(problems, func(a, b Problem) int {
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	return nil, errorOf(problems)
}

// underAny reports whether path is at or under (or above) the path of one
// of problems.
func underAny(path string, problems []Problem) bool {
	for _, p := range problems {
		if p.Path == "" || path == p.Path || strings.HasPrefix(path, p.Path+".") || strings.HasPrefix(path, p.Path+"[") ||
			strings.HasPrefix(p.Path, path+".") || strings.HasPrefix(p.Path, path+"[") {
			return true
		}
	}
	return false
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
