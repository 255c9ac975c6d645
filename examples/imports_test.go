// Package examples_test keeps every example under examples/ a program of a
// user's own: it may import its own packages, the standard library and
// third-party modules, but nothing of gameday's, nor another example's.
package examples_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	module   = "github.com/gameday/gameday"
	examples = module + "/examples"
)

// exampleOf returns the example a package of the module belongs to (the
// folder right under examples/), "." for examples/ itself (this test), or
// "" when it is outside examples/. Test variants ("p [p.test]", "p.test",
// "p_test") belong where p does.
func exampleOf(pkg string) string {
	pkg, _, _ = strings.Cut(pkg, " ")
	pkg = strings.TrimSuffix(strings.TrimSuffix(pkg, ".test"), "_test")
	if pkg == examples {
		return "."
	}
	rest, ok := strings.CutPrefix(pkg, examples+"/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// foreign reports whether package pkg, under examples/, may not depend on
// dep: dep is gameday's (the module's) and not part of pkg's own example.
func foreign(pkg, dep string) bool {
	dep, _, _ = strings.Cut(dep, " ")
	inModule := dep == module || strings.HasPrefix(dep, module+"/")
	return inModule && (exampleOf(dep) == "" || exampleOf(dep) != exampleOf(pkg))
}

func TestForeign(t *testing.T) {
	const notes = examples + "/notes/cmd/notes"
	tests := []struct {
		pkg, dep string
		want     bool
	}{
		{notes, "net/http", false},
		{notes, "github.com/prometheus/client_golang/prometheus", false},
		// Its own packages, test variants included.
		{notes, examples + "/notes/store", false},
		{notes + " [" + notes + ".test]", notes + " [" + notes + ".test]", false},
		{notes + ".test", notes + " [" + notes + ".test]", false},
		{notes + "_test [" + notes + ".test]", notes + " [" + notes + ".test]", false},
		{examples + ".test", examples + "_test [" + examples + ".test]", false},
		// gameday's packages.
		{notes, module, true},
		{notes, module + "/run", true},
		{notes, module + "/reference-app/server", true},
		{notes, examples, true},
		{notes + " [" + notes + ".test]", module + "/scenarios [" + notes + ".test]", true},
		// Another example's.
		{notes, examples + "/shop/api", true},
		// Another module that merely shares the prefix.
		{notes, module + "-tools/x", false},
	}
	for _, tt := range tests {
		if got := foreign(tt.pkg, tt.dep); got != tt.want {
			t.Errorf("foreign(%q, %q) = %v; want %v", tt.pkg, tt.dep, got, tt.want)
		}
	}
}

// TestSourcesImportNothingOfGameday reads the imports of every Go file under
// examples/, tests and files of any build tag included.
func TestSourcesImportNothingOfGameday(t *testing.T) {
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		files = append(files, filepath.ToSlash(p))
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := path.Join(examples, path.Dir(filepath.ToSlash(p)))
		for _, imp := range f.Imports {
			dep, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			if foreign(pkg, dep) {
				t.Errorf("examples/%s imports %s; want nothing of gameday's outside examples/%s", filepath.ToSlash(p), dep, exampleOf(pkg))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, "notes/cmd/notes/main.go") {
		t.Errorf("read %d files, not notes/cmd/notes/main.go: the check saw nothing", len(files))
	}
}

// TestBuildsLinkNothingOfGameday asks the go command what every package
// under examples/, and its tests, depend on, directly or not.
func TestBuildsLinkNothingOfGameday(t *testing.T) {
	out, err := exec.Command("go", "list", "-test", "-f", "{{.ImportPath}}\t{{join .Deps \" \"}}", examples+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		pkg, deps, _ := strings.Cut(strings.TrimSpace(line), "\t")
		for _, dep := range strings.Fields(deps) {
			seen[dep] = true
			if foreign(pkg, dep) {
				t.Errorf("%s depends on %s; want nothing of gameday's outside examples/%s", pkg, dep, exampleOf(pkg))
			}
		}
	}
	if !seen["github.com/prometheus/client_golang/prometheus"] {
		t.Errorf("go list named no dependency on client_golang/prometheus: the check saw nothing\n%s", out)
	}
}
