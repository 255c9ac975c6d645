package scenarios

import (
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// templateSeeds are templates that loop, recurse or grow: the classes a
// request template check must stop quickly.
var templateSeeds = []string{
	"{{.Base}}/v1/feed?seq={{.Seq}}",
	`{{.URL "admin"}}/failover`,
	`{{env "TOKEN" | urlquery}}`,
	"{{range 100000000000}}{{end}}",
	"{{range 1000}}{{range 1000}}{{range 1000}}x{{end}}{{end}}{{end}}",
	"{{$n := 1000000000}}{{range $n}}{{end}}",
	`{{define "a"}}{{template "a"}}{{end}}{{template "a"}}`,
	`{{block "b" .}}{{range 1000}}{{template "b" .}}{{end}}{{end}}`,
	"{{range $i, $x := 10}}{{range $i}}{{end}}{{end}}",
	"{{printf \"%0999999999d\" 1}}",
	`{{slice "abc" 1 2}}{{index .Base 0}}{{len .ID}}`,
	"{{with .Base}}{{.}}{{else}}{{end}}{{if .Seq}}{{end}}",
	strings.Repeat("{{.Base}}", 5000),
}

// FuzzTemplate checks request templates as validation does, each within a
// time and memory bound: no template, however written, may hang or bloat
// validation or a run.
func FuzzTemplate(f *testing.F) {
	for _, s := range templateSeeds {
		f.Add(s)
	}
	decl := Declaration{URLs: []string{"admin", "api-1"}}
	f.Fuzz(func(t *testing.T, text string) {
		allocs := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		metrics.Read(allocs)
		before := allocs[0].Value.Uint64()
		done := make(chan error, 1)
		go func() {
			v := &validator{s: &Scenario{File: "fuzz.yaml"}}
			_, _, err := v.checkTemplate("url", text, decl)
			done <- err
		}()
		select {
		case <-done:
		case <-time.After(fuzzInputTime):
			t.Fatalf("checkTemplate(%q) still running after %v", text, fuzzInputTime)
		}
		metrics.Read(allocs)
		if alloc := allocs[0].Value.Uint64() - before; alloc > fuzzInputAlloc {
			t.Fatalf("checkTemplate(%q) allocated %d MiB; want at most %d MiB", text, alloc>>20, fuzzInputAlloc>>20)
		}
	})
}
