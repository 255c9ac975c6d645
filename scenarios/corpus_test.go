package scenarios

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

var genCorpus = flag.Bool("gencorpus", false, "rewrite testdata/gen-*.bad.yaml (then run with -update for their .err)")

// corpusBase is the valid scenario the generated cases break: {{.}} marks
// where a case puts its text.
const corpusBase = `apiVersion: gameday/v1
kind: Scenario
name: generated
load:
  - name: a
    duration: 30s
    profile: {constant: {rate: 10/s}}
    requests: [{url: "{{.Base}}/"}]
`

// corpusCheck is a check a case appends when the scenario it breaks has
// none, so that its only problems are the ones it is about.
const corpusCheck = `checks: {slos: [{name: ok, client: {sli: success_ratio}, objective: ">= 0"}]}
`

// generatedCases returns the generated corpus: file name (without
// ".bad.yaml") to content.
func generatedCases() map[string][]byte {
	cases := map[string][]byte{}
	// Every character YAML refuses, in a value: the C0 controls but tab, LF
	// and CR, DEL, the C1 controls but NEL, and the two noncharacters.
	var refused []rune
	for r := rune(0); r < 0x20; r++ {
		if r != '\t' && r != '\n' && r != '\r' {
			refused = append(refused, r)
		}
	}
	refused = append(refused, 0x7F)
	for r := rune(0x80); r < 0xA0; r++ {
		if r != 0x85 {
			refused = append(refused, r)
		}
	}
	refused = append(refused, 0xFFFE, 0xFFFF)
	for _, r := range refused {
		cases[fmt.Sprintf("gen-char-u%04x", r)] = fmt.Appendf(nil, "# U+%04X in a value.\n%sdescription: \"a%cb\"\n", r, corpusBase, r)
	}
	// Bytes that start no UTF-8 character, as a Latin-1 or Windows-1252
	// file holds them, in a key and in a value.
	for _, b := range []byte{0x80, 0x93, 0xA0, 0xA9, 0xC0, 0xC1, 0xE9, 0xF5, 0xF8, 0xFF} {
		cases[fmt.Sprintf("gen-byte-%02x-value", b)] = append([]byte(fmt.Sprintf("# The byte 0x%02X in a value.\n%sdescription: a", b, corpusBase)), b, 'b', '\n')
		cases[fmt.Sprintf("gen-byte-%02x-key", b)] = append(append([]byte(fmt.Sprintf("# The byte 0x%02X in a key.\n%s", b, corpusBase)), 'x', b), ": 1\n"...)
	}
	// A map that merges itself, at every map of the scenario.
	cycles := map[string]string{
		"root":      "&c\napiVersion: gameday/v1\nkind: Scenario\nname: generated\n<<: *c\n",
		"target":    corpusBase + "target: &c {<<: *c}\n",
		"local":     corpusBase + "target: {local: &c {<<: *c}}\n",
		"metrics":   corpusBase + "metrics: &c {<<: *c}\n",
		"stream":    "apiVersion: gameday/v1\nkind: Scenario\nname: generated\nload: [&c {<<: *c, name: a}]\n",
		"profile":   "apiVersion: gameday/v1\nkind: Scenario\nname: generated\nload: [{name: a, profile: &c {<<: *c}}]\n",
		"constant":  "apiVersion: gameday/v1\nkind: Scenario\nname: generated\nload: [{name: a, profile: {constant: &c {<<: *c}}}]\n",
		"request":   "apiVersion: gameday/v1\nkind: Scenario\nname: generated\nload: [{name: a, requests: [&c {<<: *c}]}]\n",
		"header":    "apiVersion: gameday/v1\nkind: Scenario\nname: generated\nload: [{name: a, requests: [{url: x, header: &c {<<: *c}}]}]\n",
		"fault":     corpusBase + "faults: [&c {<<: *c, name: f}]\n",
		"network":   corpusBase + "faults: [{name: f, network: &c {<<: *c}}]\n",
		"process":   corpusBase + "faults: [{name: f, process: &c {<<: *c}}]\n",
		"selector":  corpusBase + "faults: [{name: f, process: {selector: &c {<<: *c}}}]\n",
		"checks":    corpusBase + "checks: &c {<<: *c}\n",
		"slo":       corpusBase + "checks: {slos: [&c {<<: *c, name: s}]}\n",
		"clientsli": corpusBase + "checks: {slos: [{name: s, client: &c {<<: *c}}]}\n",
	}
	for where, doc := range cycles {
		if !strings.Contains(doc, "checks:") {
			doc += corpusCheck // a scenario needs one; beside the point here
		}
		cases["gen-merge-cycle-"+where] = []byte("# A map that merges itself: " + where + ".\n" + doc)
	}
	return cases
}

// TestGeneratedCorpus checks that the generated cases on disk are the ones
// generatedCases makes (rewriting them with -gencorpus).
func TestGeneratedCorpus(t *testing.T) {
	cases := generatedCases()
	if *genCorpus {
		old, _ := filepath.Glob("testdata/gen-*.bad.*")
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		for name, data := range cases {
			if err := os.WriteFile("testdata/"+name+".bad.yaml", data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, _ := filepath.Glob("testdata/gen-*.bad.yaml")
	if len(files) != len(cases) {
		t.Errorf("testdata holds %d generated cases; generatedCases makes %d (run go test -gencorpus -update)", len(files), len(cases))
	}
	for name, want := range cases {
		got, err := os.ReadFile("testdata/" + name + ".bad.yaml")
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("testdata/%s.bad.yaml differs from generatedCases (run go test -gencorpus -update)", name)
		}
	}
}

// maxCaseAlloc is the most a corpus case may allocate: issue 13 allows a bad
// input 100 MB.
const maxCaseAlloc = 100 << 20

// TestBadFilesBounded loads every testdata/*.bad.yaml and checks what issue
// 13 asks of every bad input: an *Error (exit code 2), each problem line
// starting with "file:line:col: " or naming a byte offset, and at most
// maxCaseAlloc bytes allocated. (Time is measured by BenchmarkBadFiles.)
func TestBadFilesBounded(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Load(file)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxCaseAlloc {
			t.Errorf("Load(%s) allocated %d MiB; want at most %d MiB", file, alloc>>20, maxCaseAlloc>>20)
		}
		serr, ok := err.(*Error)
		if !ok || serr.ExitCode() != 2 {
			t.Errorf("Load(%s) = %T %v; want *Error with exit code 2", file, err, err)
			continue
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !placed(file, line) {
				t.Errorf("Load(%s): %q has neither file:line:col nor a byte offset", file, line)
			}
		}
	}
}

// placed reports whether a problem line of file starts with "file:L:C: "
// or names a byte offset; "the scenario is empty" needs neither.
func placed(file, line string) bool {
	rest, ok := strings.CutPrefix(line, file+":")
	if !ok {
		return false
	}
	var l, c int
	if n, _ := fmt.Sscanf(rest, "%d:%d: ", &l, &c); n == 2 && l > 0 && c > 0 {
		return true
	}
	return strings.Contains(rest, "byte offset") || rest == " the scenario is empty"
}

// BenchmarkBadFiles times Load of every testdata/*.bad.yaml; issue 13 wants
// each under a second. Run: go test ./scenarios -run '^$' -bench BadFiles.
func BenchmarkBadFiles(b *testing.B) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, file := range files {
		b.Run(strings.TrimSuffix(filepath.Base(file), ".bad.yaml"), func(b *testing.B) {
			data, err := os.ReadFile(file)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := LoadBytes(file, data); err == nil {
					b.Fatal("no error")
				}
			}
		})
	}
}

// worstCases are inputs of the maximum size, each shaped to cost yaml.v3 or
// the decoder the most per byte.
func worstCases() map[string][]byte {
	fill := func(head, unit, tail string) []byte {
		var b bytes.Buffer
		b.WriteString(head)
		for b.Len()+len(unit)+len(tail) <= MaxFileSize {
			b.WriteString(unit)
		}
		b.WriteString(tail)
		return b.Bytes()
	}
	return map[string][]byte{
		"flow list of scalars":       fill("load: [", "0,", "0]\n"),
		"unclosed flow list":         fill("load: [", "0,", "0\n"),
		"block list of scalars":      fill("load:\n", "- 0\n", ""),
		"block list of nulls":        fill("load:\n", "-\n", ""),
		"flow list of empty maps":    fill("load: [", "{},", "{}]\n"),
		"unknown keys":               fill("metrics:\n", "  k: 1\n", ""),
		"headers":                    fill("load: [{name: a, requests: [{url: x, header: {", "h: v, ", "h: v}}]}]\n"),
		"aliases":                    fill("load: [&a {name: a}", ", *a", "]\n"),
		"anchors":                    fill("load:\n", "- &a 0\n", ""),
		"syntax error at the end":    fill("description: |\n", "  text text text text\n", "x: [\n"),
		"unclosed quote in the file": fill("description: \"", "text ", "\n"),
		"deep nesting":               fill("", "[", ""),
		"long key":                   fill("", "k", ": 1\n"),
	}
}

// TestWorstCasesBounded: no input of at most MaxFileSize bytes makes Decode
// allocate more than maxCaseAlloc. (Validate is left out: on a decoded
// document of 100,000 nodes its problems cost more; see BenchmarkWorstCases.)
func TestWorstCasesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a few hundred MB in all")
	}
	for name, data := range worstCases() {
		if len(data) > MaxFileSize || !utf8.Valid(data) {
			t.Fatalf("%s: %d bytes; want valid UTF-8 of at most %d", name, len(data), MaxFileSize)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Decode("worst.yaml", data)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxCaseAlloc {
			t.Errorf("%s: Decode allocated %d MiB; want at most %d MiB", name, alloc>>20, maxCaseAlloc>>20)
		}
		if _, ok := err.(*Error); !ok && !validDecode[name] {
			t.Errorf("%s: Decode = %T %v; want *Error", name, err, err)
		}
	}
}

// validDecode names the worst cases that decode without a problem (their
// problems are Validate's).
var validDecode = map[string]bool{"flow list of empty maps": true}

// BenchmarkWorstCases times Decode of the inputs of TestWorstCasesBounded,
// and the whole of Decode, SetDefaults and Validate.
func BenchmarkWorstCases(b *testing.B) {
	for name, data := range worstCases() {
		b.Run("decode/"+strings.ReplaceAll(name, " ", "-"), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				_, _ = Decode("worst.yaml", data)
			}
		})
		b.Run("load/"+strings.ReplaceAll(name, " ", "-"), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				_ = decodeDefaultValidate(data)
			}
		})
	}
}
