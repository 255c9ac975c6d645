package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// yaml.v3 reports a syntax error as "yaml: line N: message" with only a
// line, and not always the right one: for a scanner error N is the line
// where the construct being scanned starts; for a parser error it is that
// line minus one (a 0-based line printed as is); when the construct starts
// on the first line, N is the problem's line, and some errors (an unknown
// alias, a directive of another version) have no line at all. The position
// of a syntax error is therefore found again here, by parsing the input
// anew: once through a reader that hands yaml.v3 one byte at a time, which
// tells how far yaml.v3 read before it failed, then parsing shortened or
// edited copies to find the token it failed at.
//
// Measured on 1,752 broken scenarios made by random one- to three-byte edits
// of the bundled and test scenarios, against the positions yaml.v3 itself
// holds (a copy patched to print its marks; for an unclosed quote and a key
// without ':', the mark of the construct's start): the line is right for
// 97.8% of them (yaml.v3's own line: 49%), line and column for 81%. Most
// misses are "did not find expected ',' or '}'" inside flow maps, placed a
// few columns off on the right line. (22 more, unknown aliases, which the
// patched copy cannot place, all point at the alias.)

// locateBudget bounds the bytes parsed to locate one syntax error: on a file
// of the maximum size this is two parses (about 40 MB and a quarter of a
// second); on a scenario of a few kilobytes, a hundred. A problem that cannot
// be located within it is placed where yaml.v3 stopped reading.
const locateBudget = 2 * MaxFileSize

// probeResult is what one parse of a document prefix or variant gave.
type probeResult struct {
	msg  string // yaml.v3's error, "" when the input parsed
	read int    // bytes read before the error or the end
}

// locator finds the position of a yaml.v3 syntax error in data.
type locator struct {
	data   []byte
	budget int // bytes still allowed to parse
}

// oneByteReader hands out its data one byte per Read, so that the count of
// bytes read is how far yaml.v3's scanner needed to look.
type oneByteReader struct {
	data []byte
	n    int
}

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.n >= len(r.data) {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.data[r.n]
	r.n++
	return 1, nil
}

// probe parses data as Decode does (at most two documents) and returns the
// first error and how far yaml.v3 read. ok is false when the budget is spent.
func (l *locator) probe(data []byte) (res probeResult, ok bool) {
	if l.budget < len(data) {
		return probeResult{}, false
	}
	l.budget -= len(data)
	return parseProbe(data), true
}

func parseProbe(data []byte) (res probeResult) {
	r := &oneByteReader{data: data}
	defer func() {
		if p := recover(); p != nil {
			res = probeResult{msg: fmt.Sprint(p), read: r.n}
		}
	}()
	dec := yaml.NewDecoder(r)
	for range 2 {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return probeResult{msg: err.Error(), read: r.n}
		}
	}
	return probeResult{read: r.n}
}

// yamlLine matches the position yaml.v3 puts in its syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// unknownAnchor matches yaml.v3's error for an alias to no anchor.
var unknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)

// syntaxProblem turns yaml.v3's error err for data into a problem with the
// error's line and column, and yaml.v3's message with a hint where it is
// terse.
func syntaxProblem(file string, data []byte, err error) Problem {
	msg := err.Error()
	l := &locator{data: data, budget: locateBudget}
	off, bare := l.locate(msg)
	line, col := lineCol(data, off)
	return Problem{File: file, Pos: Pos{line, col}, Msg: "invalid YAML: " + bare}
}

// locate returns the byte offset of the syntax error msg and the message
// without yaml.v3's prefix and line, with a hint where yaml.v3's is terse.
func (l *locator) locate(msg string) (off int, bare string) {
	data := l.data
	reported := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		reported, _ = strconv.Atoi(m[1])
	}
	bare = strings.TrimPrefix(yamlLine.ReplaceAllString(msg, "yaml: "), "yaml: ")
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		return l.alias(m[1]), fmt.Sprintf("unknown alias *%s: no anchor &%s is defined before it", m[1], m[1])
	}
	if bare == "found incompatible YAML document" {
		return directive(data), "unsupported %YAML version (want 1.1 or 1.2)"
	}
	full, ok := l.probe(data)
	if !ok || full.msg != msg {
		// A parse that does not fail the same way again (it cannot happen
		// but for a panic that is not reproducible): no better place than
		// the line yaml.v3 gave.
		return lineStart(data, reported), bare
	}
	hi := min(full.read, len(data))
	fallback := max(hi-1, 0)
	if strings.HasPrefix(bare, "exceeded max depth") {
		// Where the nesting got too deep is where yaml.v3 stopped; its
		// prefixes are too costly to parse again and again.
		return fallback, bare + " (lists and maps nested too deep)"
	}
	switch bare {
	case "could not find expected ':'":
		// A key without its ':' is the first thing on its line, which
		// yaml.v3 names, but for a key on the first line: it then names
		// the line it had read on to, the next one.
		line := reported
		if line > 1 && line == lineOf(data, fallback) {
			line--
		}
		s := lineStart(data, line)
		for s < len(data) {
			if data[s] == ' ' || data[s] == '\t' {
				s++
			} else if data[s] == '-' && s+1 < len(data) && (data[s+1] == ' ' || data[s+1] == '\t') {
				s += 2
			} else {
				break
			}
		}
		return s, bare + " after this key (a key is followed by ': ')"
	case "found unexpected end of stream":
		// An unclosed quoted string, which starts on the line yaml.v3
		// names: the last quote there that opens a string and does not
		// close it.
		if q := unclosedQuote(data, lineStart(data, reported)); q >= 0 {
			return q, "a quoted string is not closed before the end of the file"
		}
		return len(data), bare + " (a quoted string on line " + strconv.Itoa(reported) + " is not closed)"
	case "found a tab character that violates indentation":
		bare += " (indent with spaces)"
	}
	switch bare {
	case "did not find expected ',' or '}'", "did not find expected ',' or ']'":
		// An unclosed flow collection fails at the end of the input: then
		// closing it changes the error. Otherwise yaml.v3 failed at a
		// token before the end, after reading on to see whether it was a
		// key, and the closers are not reached.
		closers := strings.Repeat(bare[len(bare)-2:len(bare)-1], 8)
		withTail := append(data[:len(data):len(data)], "\n"+closers...)
		res, ok := l.probe(withTail)
		if !ok {
			return fallback, bare
		}
		if res.msg != msg || res.read >= len(withTail) {
			return len(data), bare + " before the end of the file"
		}
		if q, ok := l.missingComma(msg, hi); ok {
			return q, bare
		}
	case "did not find expected node content":
		// A value missing at the end of the input: the error moves to
		// the new end when a comment is appended.
		const tail = "\n# gameday\n"
		withTail := append(data[:len(data):len(data)], tail...)
		res, ok := l.probe(withTail)
		if !ok {
			return fallback, bare
		}
		if res.read >= len(withTail) {
			return len(data), bare + " before the end of the file"
		}
	}
	// The shortest prefix that fails the same way ends just past the
	// token yaml.v3 failed at: shorten the input from where yaml.v3
	// stopped reading while it fails the same way, not past the line
	// before the one it named nor by more than 64 bytes.
	lo := 0
	if reported > 1 {
		lo = lineStart(data, reported-1)
	}
	// A prefix cut inside the failing token may fail otherwise: look on
	// past up to maxGap such prefixes.
	const maxGap = 12
	best, gap := hi, 0
	for q := hi - 1; q >= max(lo, hi-64) && gap < maxGap; q-- {
		res, ok := l.probe(data[:q])
		if !ok {
			break
		}
		if res.msg == msg {
			best, gap = q, 0
		} else {
			gap++
		}
	}
	return l.adjust(max(best-1, 0), bare)
}

// adjust moves off, the last byte of the shortest prefix that fails with
// the scanner error bare, to where yaml.v3 places that error.
func (l *locator) adjust(off int, bare string) (int, string) {
	data := l.data
	switch bare {
	case "did not find expected alphabetic or numeric character":
		// After the & or * that starts an anchor or alias name.
		return off + 1, bare + " (a name after & or *)"
	case "did not find the expected '>'":
		// At the end of the verbatim tag "!<...".
		for off < len(data) && data[off] != '>' && strings.IndexByte(" \t\r\n", data[off]) < 0 {
			off++
		}
	case "found duplicate %YAML directive", "found duplicate %TAG directive":
		// At the start of the second directive.
		off = lineStart(data, lineOf(data, off))
	case "mapping values are not allowed in this context":
		// At the ':' that is a value indicator: one before a blank.
		for off < len(data) && data[off] == ':' && off+1 < len(data) && !isBlank(data[off+1]) {
			next := bytes.IndexByte(data[off+1:], ':')
			if next < 0 || bytes.IndexByte(data[off+1:off+1+next], '\n') >= 0 {
				break
			}
			off += 1 + next
		}
	case "did not find expected key", "did not find expected '-' indicator":
		// The parser failed at a key that yaml.v3 only recognised as
		// one at its ':': the key starts after the indentation, a flow
		// collection's end or a "- " on its line.
		if off < len(data) && data[off] == ':' {
			start := off
			for start > 0 && strings.IndexByte("\n{}[]", data[start-1]) < 0 && !afterEntry(data, start) {
				start--
			}
			for start < off && isBlank(data[start]) {
				start++
			}
			off = start
		}
	}
	return off, bare
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// afterEntry reports whether off follows the "- " of a sequence entry that
// only blanks and other entries precede on its line.
func afterEntry(data []byte, off int) bool {
	return off > 1 && data[off-2] == '-' && isBlank(data[off-1]) && onlyBlanksBefore(data, off-2)
}

// onlyBlanksBefore reports whether only spaces and "- " sequence entries
// come before off on its line.
func onlyBlanksBefore(data []byte, off int) bool {
	for i := off - 1; i >= 0 && data[i] != '\n'; i-- {
		if data[i] != ' ' && data[i] != '\t' && data[i] != '-' {
			return false
		}
	}
	return true
}

// unclosedQuote returns the offset of the last quote on the line that starts
// at start that opens a quoted scalar left open at the end of the line, or
// -1. A quote opens a scalar where a token may start: at the start of the
// line's content, or after a blank or one of ":,[]{}-?".
func unclosedQuote(data []byte, start int) int {
	open := -1
	var quote byte // the quote of the scalar being read, 0 outside one
	for i := start; i < len(data) && data[i] != '\n' && data[i] != '\r'; i++ {
		c := data[i]
		switch {
		case quote == '"' && c == '\\':
			i++ // an escaped character
		case quote == '\'' && c == '\'' && i+1 < len(data) && data[i+1] == '\'':
			i++ // '' is a quote inside single quotes
		case quote != 0 && c == quote:
			quote, open = 0, -1
		case quote != 0:
		case c == '#' && (i == start || isBlank(data[i-1])):
			return open // a comment ends the line
		case (c == '"' || c == '\'') && (i == start || strings.IndexByte(" \t:,[]{}-?", data[i-1]) >= 0):
			quote, open = c, i
		}
	}
	return open
}

// missingComma finds the token a flow collection lacks a ',' before: the
// last place before hi where inserting one gets the parse past hi. yaml.v3
// read up to hi to decide whether the token was a key.
func (l *locator) missingComma(msg string, hi int) (int, bool) {
	data := l.data
	lo := lineStart(data, lineOf(data, max(hi-1, 0))-1)
	buf := make([]byte, 0, len(data)+1)
	for q := hi; q >= lo; q-- {
		if !flowTokenStart(data, q) {
			continue
		}
		buf = append(append(append(buf[:0], data[:q]...), ','), data[q:]...)
		res, ok := l.probe(buf)
		if !ok {
			return 0, false
		}
		if res.msg == "" || res.msg != msg || res.read > hi+3 {
			return q, true
		}
	}
	return 0, false
}

// flowTokenStart reports whether a token may start at q in a flow
// collection: after a blank or a flow indicator, or a ':' before a blank.
func flowTokenStart(data []byte, q int) bool {
	if q >= len(data) {
		return false
	}
	const blanks, indicators = " \t\r\n", ",[]{}"
	c := data[q]
	if c == ':' && (q+1 == len(data) || strings.IndexByte(blanks+indicators, data[q+1]) >= 0) {
		return true
	}
	if strings.IndexByte(blanks, c) >= 0 {
		return false
	}
	return q == 0 || strings.IndexByte(blanks+indicators, data[q-1]) >= 0
}

// alias returns the offset of the alias *name that yaml.v3 found no anchor
// for: the last "*name" that ends where yaml.v3 stopped reading.
func (l *locator) alias(name string) int {
	res, ok := l.probe(l.data)
	hi := len(l.data)
	if ok {
		hi = min(res.read, hi)
	}
	token := []byte("*" + name)
	for end := hi; end >= 0; end-- {
		i := bytes.LastIndex(l.data[:end], token)
		if i < 0 {
			break
		}
		if after := i + len(token); after == len(l.data) || !anchorChar(l.data[after]) {
			return i
		}
		end = i
	}
	return 0
}

// anchorChar reports whether c may continue an anchor name for yaml.v3:
// an ASCII letter or digit, '_' or '-'.
func anchorChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// directive returns the offset of the version of the first %YAML directive.
func directive(data []byte) int {
	for off := 0; off < len(data); {
		line := data[off:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		}
		if bytes.HasPrefix(line, []byte("%YAML")) {
			v := len("%YAML")
			for v < len(line) && (line[v] == ' ' || line[v] == '\t') {
				v++
			}
			return off + v
		}
		off += len(line)
	}
	return 0
}

// lineStart is the offset of the first byte of 1-based line in data (0 for
// line 1 or less, the end of data past its last line), with line breaks
// counted as lineCol counts them.
func lineStart(data []byte, line int) int {
	l := 1
	for i := 0; i < len(data); {
		if l >= line {
			return i
		}
		r, w := utf8.DecodeRune(data[i:])
		switch r {
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				w = 2
			}
			l++
		case '\n', 0x85, 0x2028, 0x2029:
			l++
		}
		i += w
	}
	return len(data)
}

// lineOf is the 1-based line of byte offset off in data.
func lineOf(data []byte, off int) int {
	line, _ := lineCol(data, off)
	return line
}
