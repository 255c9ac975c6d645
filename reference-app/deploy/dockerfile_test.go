package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// The image cannot be built here (no container engine); these tests parse
// the Dockerfile with BuildKit's own parser and check its structure.

const (
	dockerfile       = "Dockerfile"
	dockerignore     = "Dockerfile.dockerignore"
	repoRoot         = "../.." // the Dockerfile's build context
	refappMain       = "./reference-app/cmd/refapp"
	builderImage     = "golang:1.26"
	entrypointBinary = "/refapp"
)

// finalImages are the acceptable bases of the final stage: no shell, no
// package manager, nothing but the static binary.
var finalImages = []string{"gcr.io/distroless/static-debian12:nonroot", "scratch"}

// instruction is one Dockerfile instruction with its arguments.
type instruction struct {
	cmd   string // upper case: "FROM"
	flags []string
	args  []string
	json  bool // exec form: ["a", "b"]
	line  int
}

// stage is a FROM and the instructions up to the next FROM.
type stage struct {
	image, name string
	body        []instruction
}

// parseDockerfile parses src with BuildKit's parser into stages; parser
// warnings are errors.
func parseDockerfile(src []byte) ([]stage, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	if len(res.Warnings) > 0 {
		var ws []string
		for _, w := range res.Warnings {
			ws = append(ws, w.Short)
		}
		return nil, fmt.Errorf("parser warnings: %s", strings.Join(ws, "; "))
	}
	var stages []stage
	for _, n := range res.AST.Children {
		in := instruction{cmd: strings.ToUpper(n.Value), flags: n.Flags, json: n.Attributes["json"], line: n.StartLine}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		if in.cmd == "FROM" {
			s := stage{}
			if len(in.args) > 0 {
				s.image = in.args[0]
			}
			if len(in.args) == 3 && strings.EqualFold(in.args[1], "AS") {
				s.name = in.args[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				return nil, fmt.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	return stages, nil
}

// checkDockerfile returns what is wrong with src as refapp's Dockerfile:
// a golang builder stage that builds refapp statically (CGO_ENABLED=0,
// -trimpath), a final stage on a distroless or scratch base that copies only
// the binary from the builder, runs as a non-root USER and starts
// ENTRYPOINT ["/refapp"]; every COPY source of the builder exists under
// root.
func checkDockerfile(src []byte, root string) []string {
	stages, err := parseDockerfile(src)
	if err != nil {
		return []string{err.Error()}
	}
	var p problems
	if len(stages) < 2 {
		return []string{fmt.Sprintf("%d stages; want a builder and a final stage", len(stages))}
	}
	build, final := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(build.image, builderImage) || build.name == "" {
		p.add("first stage FROM %s AS %q; want FROM %s AS NAME", build.image, build.name, builderImage)
	}
	built := false
	for _, in := range build.body {
		switch in.cmd {
		case "RUN":
			cmd := strings.Join(in.args, " ")
			if !strings.Contains(cmd, "go build") {
				continue
			}
			built = true
			fields := strings.Fields(cmd)
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", refappMain} {
				if !slices.Contains(fields, want) {
					p.add("line %d: go build lacks %s", in.line, want)
				}
			}
		case "COPY", "ADD":
			if in.cmd == "ADD" {
				p.add("line %d: ADD; want COPY", in.line)
			}
			for _, src := range in.args[:max(len(in.args)-1, 0)] {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					p.add("line %d: COPY source %s: %v", in.line, src, err)
				}
			}
		}
	}
	if !built {
		p.add("stage %s runs no go build", build.name)
	}
	if !slices.Contains(finalImages, final.image) {
		p.add("final stage FROM %s; want one of %v", final.image, finalImages)
	}
	var user, entrypoint *instruction
	for i, in := range final.body {
		switch in.cmd {
		case "USER":
			user = &final.body[i]
		case "ENTRYPOINT":
			entrypoint = &final.body[i]
		case "RUN":
			p.add("line %d: RUN in the final stage: it has no shell", in.line)
		case "COPY", "ADD":
			if !slices.Contains(in.flags, "--from="+build.name) {
				p.add("line %d: %s in the final stage not --from=%s: only the binary belongs there", in.line, in.cmd, build.name)
			}
		}
	}
	switch {
	case user == nil:
		p.add("final stage has no USER: it would run as root")
	case len(user.args) != 1 || isRootUser(user.args[0]):
		p.add("line %d: USER %v; want a non-root user such as 65532:65532", user.line, user.args)
	}
	switch {
	case entrypoint == nil:
		p.add("final stage has no ENTRYPOINT")
	case !entrypoint.json || !slices.Equal(entrypoint.args, []string{entrypointBinary}):
		p.add("line %d: ENTRYPOINT %v (exec form %v); want [%q]", entrypoint.line, entrypoint.args, entrypoint.json, entrypointBinary)
	}
	return p
}

// isRootUser reports whether a USER value names root: "root", "0", "0:0",
// "root:x", or the empty user.
func isRootUser(u string) bool {
	name, _, _ := strings.Cut(u, ":")
	return name == "" || name == "root" || name == "0"
}

func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkDockerfile(src, repoRoot) {
		t.Error(p)
	}
}

// TestDockerfileChecksCatch breaks the Dockerfile one way at a time.
func TestDockerfileChecksCatch(t *testing.T) {
	orig, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new string
		want           string
	}{
		{"root user", "USER 65532:65532", "USER root", "USER [root]; want a non-root user"},
		{"uid 0", "USER 65532:65532", "USER 0:0", "USER [0:0]; want a non-root user"},
		{"no user", "USER 65532:65532\n", "", "final stage has no USER"},
		{"cgo", "CGO_ENABLED=0 ", "", "go build lacks CGO_ENABLED=0"},
		{"trimpath", "-trimpath ", "", "go build lacks -trimpath"},
		{"shell entrypoint", `ENTRYPOINT ["/refapp"]`, `ENTRYPOINT /refapp`, "(exec form false)"},
		{"fat final image", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM debian:12", "final stage FROM debian:12"},
		{"context copy in final stage", "COPY --from=build /out/refapp /refapp", "COPY . /", "not --from=build"},
		{"missing source", "COPY reference-app/ reference-app/", "COPY refapp/ refapp/", "COPY source refapp/"},
		{"unnamed builder", " AS build\n", "\n", "want FROM golang:1.26 AS NAME"},
		{"single stage", "FROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=build /out/refapp /refapp\n", "", "1 stages"},
		{"parse warning", "WORKDIR /src\n", "WORKDIR /src \\\n\n  \n", "parser warnings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := strings.Replace(string(orig), tt.old, tt.new, 1)
			if broken == string(orig) {
				t.Fatalf("Dockerfile has no %q to replace", tt.old)
			}
			got := checkDockerfile([]byte(broken), repoRoot)
			for _, p := range got {
				if strings.Contains(p, tt.want) {
					return
				}
			}
			t.Errorf("checkDockerfile found %q; want a problem containing %q", got, tt.want)
		})
	}
}

// TestDockerignoreKeepsSources: the context filter next to the Dockerfile
// must let through every COPY source of the builder.
func TestDockerignoreKeepsSources(t *testing.T) {
	src, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	stages, err := parseDockerfile(src)
	if err != nil {
		t.Fatal(err)
	}
	ignore, err := os.ReadFile(dockerignore)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(ignore))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 || lines[0] != "*" {
		t.Fatalf("%s starts with %q; want \"*\" (exclude all, then re-include)", dockerignore, lines)
	}
	copied := 0
	for _, in := range stages[0].body {
		if in.cmd != "COPY" {
			continue
		}
		for _, src := range in.args[:len(in.args)-1] {
			copied++
			if want := "!" + strings.TrimSuffix(src, "/"); !slices.Contains(lines, want) {
				t.Errorf("%s lacks %q: COPY %s would find nothing", dockerignore, want, src)
			}
		}
	}
	if copied == 0 {
		t.Error("the builder stage copies nothing")
	}
}
