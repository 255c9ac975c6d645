package scenarios

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

func TestLineCol(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		off       int
		line, col int
	}{
		{"start", "ab\ncd", 0, 1, 1},
		{"same line", "ab\ncd", 1, 1, 2},
		{"after LF", "ab\ncd", 4, 2, 2},
		{"CR LF is one break", "ab\r\ncd", 4, 2, 1},
		{"a lone CR breaks", "ab\rcd", 3, 2, 1},
		{"NEL breaks", "ab\u0085cd", 4, 2, 1},
		{"columns count characters", "é: x", 3, 1, 3},
		{"end of data", "ab\n", 3, 2, 1},
	}
	for _, tt := range tests {
		if line, col := lineCol([]byte(tt.data), tt.off); line != tt.line || col != tt.col {
			t.Errorf("%s: lineCol(%q, %d) = %d:%d; want %d:%d", tt.name, tt.data, tt.off, line, col, tt.line, tt.col)
		}
	}
}

func TestYAML12(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"1.2 read as 1.1", "%YAML 1.2\n---\na: 1\n", "%YAML 1.1\n---\na: 1\n"},
		{"after comments and blank lines", "# x\n\n%YAML 1.2 # c\n---\n", "# x\n\n%YAML 1.1 # c\n---\n"},
		{"after a TAG directive", "%TAG ! tag:x:\n%YAML 1.2\n---\n", "%TAG ! tag:x:\n%YAML 1.1\n---\n"},
		{"1.1 as it is", "%YAML 1.1\n---\n", "%YAML 1.1\n---\n"},
		{"1.3 as it is (refused by yaml.v3)", "%YAML 1.3\n---\n", "%YAML 1.3\n---\n"},
		{"1.20 as it is", "%YAML 1.20\n---\n", "%YAML 1.20\n---\n"},
		{"not in the document", "a: 1\n%YAML 1.2\n", "a: 1\n%YAML 1.2\n"},
	}
	for _, tt := range tests {
		in := []byte(tt.in)
		if got := string(yaml12(in)); got != tt.want {
			t.Errorf("%s: yaml12(%q) = %q; want %q", tt.name, tt.in, got, tt.want)
		}
		if string(in) != tt.in {
			t.Errorf("%s: yaml12 modified its input", tt.name)
		}
	}
}

// utf16LE encodes s as UTF-16 little-endian with a byte-order mark.
func utf16LE(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

// utf16BE encodes s as UTF-16 big-endian with a byte-order mark.
func utf16BE(s string) []byte {
	out := []byte{0xFE, 0xFF}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u>>8), byte(u))
	}
	return out
}

// TestDecodeEncodings: UTF-8 with or without a byte-order mark and UTF-16
// with one decode alike, with the same positions; "%YAML 1.2" is accepted.
func TestDecodeEncodings(t *testing.T) {
	doc := base + "description: \"caf\u00e9 \U0001F600\"\n"
	for name, data := range map[string][]byte{
		"UTF-8":          []byte(doc),
		"UTF-8 with BOM": append([]byte{0xEF, 0xBB, 0xBF}, doc...),
		"UTF-16LE":       utf16LE(doc),
		"UTF-16BE":       utf16BE(doc),
		"YAML 1.2":       []byte("%YAML 1.2\n---\n" + doc),
	} {
		s, err := Decode("f.yaml", data)
		if err != nil {
			t.Errorf("%s: Decode = %v; want no error", name, err)
			continue
		}
		if s.Description != "caf\u00e9 \U0001F600" {
			t.Errorf("%s: Description = %q; want %q", name, s.Description, "caf\u00e9 \U0001F600")
		}
		wantLine := 6
		if name == "YAML 1.2" {
			wantLine = 8
		}
		if got := s.Position("description"); got != (Pos{wantLine, 14}) {
			t.Errorf("%s: Position(description) = %v; want {%d 14}", name, got, wantLine)
		}
	}
}

func TestDecodeText(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"Latin-1", []byte(base + "description: caf\xe9\n"),
			fmt.Sprintf("f.yaml:6:17: invalid UTF-8: byte 0xE9 at byte offset %d is not part of a UTF-8 character (is the file Latin-1? save it as UTF-8)", len(base)+16)},
		{"Latin-1 after a UTF-8 byte-order mark", []byte("\xef\xbb\xbf" + base + "description: caf\xe9\n"),
			fmt.Sprintf("f.yaml:6:17: invalid UTF-8: byte 0xE9 at byte offset %d is not part of a UTF-8 character (is the file Latin-1? save it as UTF-8)", 3+len(base)+16)},
		{"truncated UTF-8", []byte("name: \xe2\x82"),
			"f.yaml:1:7: invalid UTF-8: byte 0xE2 at byte offset 6 is not part of a UTF-8 character (is the file Latin-1? save it as UTF-8)"},
		{"NUL", []byte("name: a\x00b\n"),
			"f.yaml:1:8: a NUL byte at byte offset 7: YAML allows only tab, line breaks and printable characters"},
		{"escape", []byte("a: 1\r\nname: \x1b[31m\n"),
			"f.yaml:2:7: the control character U+001B at byte offset 12: YAML allows only tab, line breaks and printable characters"},
		{"DEL", []byte("name: \x7f\n"),
			"f.yaml:1:7: the control character U+007F at byte offset 6: YAML allows only tab, line breaks and printable characters"},
		{"C1 control", []byte("name: \u0080\n"),
			"f.yaml:1:7: the control character U+0080 at byte offset 6: YAML allows only tab, line breaks and printable characters"},
		{"U+FFFE", []byte("name: \uFFFE\n"),
			"f.yaml:1:7: the control character U+FFFE at byte offset 6: YAML allows only tab, line breaks and printable characters"},
		{"UTF-16LE without BOM", []byte("n\x00a\x00m\x00e\x00"),
			"f.yaml:1:1: the file looks like UTF-16 (little-endian) without a byte-order mark (a NUL byte at byte offset 1): save it as UTF-8"},
		{"UTF-16BE without BOM", []byte("\x00n\x00a\x00m\x00e"),
			"f.yaml:1:1: the file looks like UTF-16 (big-endian) without a byte-order mark (a NUL byte at byte offset 0): save it as UTF-8"},
		{"UTF-16 of an odd length", append(utf16LE("name: t\n"), 'x'),
			"f.yaml: invalid UTF-16 (little-endian): an odd number of bytes, the last at byte offset 18 is half a character"},
		{"UTF-16 unpaired surrogate", append(utf16LE("a: 1\nname: "), 0x00, 0xD8, 'x', 0),
			"f.yaml:2:7: invalid UTF-16 (little-endian): an unpaired surrogate 0xD800 at byte offset 24"},
		{"UTF-16 with a control character", utf16BE("a: 1\nname: \x01\n"),
			"f.yaml:2:7: the control character U+0001: YAML allows only tab, line breaks and printable characters"},
		{"too large", []byte(strings.Repeat("#", MaxFileSize+1)),
			"f.yaml: the scenario is larger than 256 KiB (262144 bytes), the most gameday reads: stopped at byte offset 262144"},
	}
	for _, tt := range tests {
		_, err := Decode("f.yaml", tt.data)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: Decode = %v;\nwant %s", tt.name, err, tt.want)
		}
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(small, []byte("name: t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadFile(small); err != nil || string(data) != "name: t\n" {
		t.Errorf("ReadFile(small) = %q, %v; want its content", data, err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, want string
	}{
		{big, big + ": the scenario is larger than 256 KiB (262144 bytes), the most gameday reads: stopped at byte offset 262144"},
		{"/dev/zero", "/dev/zero: the scenario is larger than 256 KiB (262144 bytes), the most gameday reads: stopped at byte offset 262144"},
		{dir, dir + ": read scenario: is a directory, not a scenario file"},
		{filepath.Join(dir, "none.yaml"), filepath.Join(dir, "none.yaml") + ": read scenario: no such file or directory"},
	} {
		_, err := ReadFile(tt.path)
		var serr *Error
		if !errors.As(err, &serr) || err.Error() != tt.want {
			t.Errorf("ReadFile(%s) = %v; want *Error %s", tt.path, err, tt.want)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "none.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v; want an error that is fs.ErrNotExist", err)
	}
}
