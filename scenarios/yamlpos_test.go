package scenarios

import (
	"errors"
	"strings"
	"testing"
)

func TestLineStart(t *testing.T) {
	data := []byte("a\nbc\r\nd\re\n")
	for line, want := range map[int]int{0: 0, 1: 0, 2: 2, 3: 6, 4: 8, 5: 10, 6: 10} {
		if got := lineStart(data, line); got != want {
			t.Errorf("lineStart(%q, %d) = %d; want %d", data, line, got, want)
		}
	}
}

func TestUnclosedQuote(t *testing.T) {
	tests := []struct {
		line string
		want int
	}{
		{`a: "b`, 3},
		{`a: "b" c: 'd`, 10},
		{`a: "b\"c`, 3},     // an escaped quote does not close
		{`a: 'it''s`, 3},    // nor does a doubled single quote
		{`a: it's "x`, 8},   // a quote inside a plain scalar opens nothing
		{`- {a: "b"}'`, 10}, // after a flow indicator
		{`a: "b" # "c`, -1}, // in a comment
		{`a: "closed" and 'closed'`, -1},
	}
	for _, tt := range tests {
		if got := unclosedQuote([]byte(tt.line+"\nnext: 1\n"), 0); got != tt.want {
			t.Errorf("unclosedQuote(%q) = %d; want %d", tt.line, got, tt.want)
		}
	}
}

// TestSyntaxPositions: the positions of syntax errors yaml.v3 places on the
// wrong line or on none, checked against the marks of a yaml.v3 patched to
// print them (see yamlpos.go); more are in testdata/syntax-*.bad.yaml.
func TestSyntaxPositions(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"a parser error: yaml.v3 says line 2", "load:\n  - name: a\n    duration: 1s\n   timeout: 1s\n",
			"f.yaml:4:4: invalid YAML: did not find expected '-' indicator"},
		{"on the first line: yaml.v3 gives no line", "kind: Scenario: x\n",
			"f.yaml:1:15: invalid YAML: mapping values are not allowed in this context"},
		{"an extra brace: yaml.v3 says line 1", "metrics: {scrapeInterval: 1s}}\nname: t\n",
			"f.yaml:1:30: invalid YAML: did not find expected key"},
		{"an unclosed flow map at the end", "name: t\nmetrics: {scrapeInterval: 1s\n",
			"f.yaml:3:1: invalid YAML: did not find expected ',' or '}' before the end of the file"},
		{"a missing comma in a flow map", "load:\n  - {name: \"a\" duration: 30s}\n",
			"f.yaml:2:16: invalid YAML: did not find expected ',' or '}'"},
		{"an unknown alias: yaml.v3 gives no line", "name: t\nmetrics: {scrapeInterval: *i}\n",
			"f.yaml:2:27: invalid YAML: unknown alias *i: no anchor &i is defined before it"},
		{"deep nesting", "a: " + strings.Repeat("[", 10001),
			"f.yaml:1:68: invalid YAML: collections nested more than 64 deep"},
		// A fuzzer's find: 3,300 levels cost yaml.v3 240 MB.
		{"nesting yaml.v3 accepts", "#\n" + strings.Repeat("[", 3300),
			"f.yaml:2:65: invalid YAML: collections nested more than 64 deep"},
		{"brackets in quotes and comments do not nest", "a: '" + strings.Repeat("[", 100) + "'\nb: \"" + strings.Repeat("{", 100) + "\" # " + strings.Repeat("[", 100) + "\nc: [",
			"f.yaml:3:5: invalid YAML: did not find expected node content before the end of the file"},
	}
	for _, tt := range tests {
		_, err := Decode("f.yaml", []byte(tt.in))
		var serr *Error
		if !errors.As(err, &serr) || err.Error() != tt.want {
			t.Errorf("%s: Decode = %v;\nwant %s", tt.name, err, tt.want)
		}
	}
}
