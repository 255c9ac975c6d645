package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// TestDockerfile checks gameday's image without a container engine (none
// here): the repository's Dockerfile, parsed by BuildKit's own parser,
// builds gameday and refapp statically and installs them side by side
// (gameday finds refapp beside itself), and its final stage has no shell
// (distroless static) and runs as a non-root user, with gameday as its
// entry point.
func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("parser warnings: %v", res.Warnings)
	}
	type instr struct{ cmd, args string }
	var stages [][]instr
	for _, n := range res.AST.Children {
		var args []string
		for a := n.Next; a != nil; a = a.Next {
			args = append(args, a.Value)
		}
		in := instr{strings.ToUpper(n.Value), strings.Join(args, " ")}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("%s before the first FROM", in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages; want a build stage and a final one", len(stages))
	}
	var build string
	for _, in := range stages[0] {
		if in.cmd == "RUN" {
			build += in.args + "\n"
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-o /out/gameday ./cmd/gameday", "-o /out/refapp ./reference-app/cmd/refapp", "-trimpath"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build stage does not run %q", want)
		}
	}
	final := stages[1]
	if img := final[0].args; !slices.Contains([]string{"gcr.io/distroless/static-debian12:nonroot", "scratch"}, img) {
		t.Errorf("final image %q; want distroless static (no shell) or scratch", img)
	}
	has := func(cmd, args string) bool { return slices.Contains(final, instr{cmd, args}) }
	if !slices.ContainsFunc(final, func(in instr) bool {
		return in.cmd == "COPY" && strings.Contains(in.args, "/out/gameday") && strings.Contains(in.args, "/out/refapp")
	}) {
		t.Errorf("the final stage does not install gameday and refapp side by side: %v", final)
	}
	if !has("USER", "65532:65532") {
		t.Errorf("the final stage does not run as the non-root user 65532: %v", final)
	}
	if !has("ENTRYPOINT", "/usr/local/bin/gameday") {
		t.Errorf("the entry point is not gameday: %v", final)
	}
}
