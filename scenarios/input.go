package scenarios

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxFileSize is the largest scenario gameday reads, in bytes. A scenario is a
// few kilobytes (the bundled ones are under 3 KiB); the cap keeps a hostile or
// mistaken input (a log, /dev/zero) from costing Decode more than about 70 MB
// and a third of a second: yaml.v3 spends up to about 250 bytes of memory per
// byte of input before gameday sees the document, so a cap of a few MB would
// allow a gigabyte (BenchmarkWorstCases; docs/benchmarks.md).
const MaxFileSize = 256 << 10

// ReadFile reads the scenario file at path, refusing a directory and stopping
// after MaxFileSize bytes: a longer input (a device such as /dev/zero, a pipe
// that never ends) is reported without being read to its end. Failures are
// *Error; a failed read unwraps to the os error.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, readError(path, err)
	}
	defer f.Close() //nolint:errcheck // read-only: Close cannot lose data
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &Error{
			Problems: []Problem{{File: path, Msg: "read scenario: is a directory, not a scenario file"}},
			cause:    fmt.Errorf("read scenario %s: is a directory", path),
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, readError(path, err)
	}
	if len(data) > MaxFileSize {
		return nil, errorOf([]Problem{tooLarge(path)})
	}
	return data, nil
}

func readError(path string, err error) error {
	return &Error{
		Problems: []Problem{{File: path, Msg: "read scenario: " + withoutPath(err)}},
		cause:    fmt.Errorf("read scenario: %w", err),
	}
}

func tooLarge(file string) Problem {
	return Problem{File: file, Msg: fmt.Sprintf("the scenario is larger than %d KiB (%d bytes), the most gameday reads: stopped at byte offset %d", MaxFileSize>>10, MaxFileSize, MaxFileSize)}
}

// text checks that data can be read as YAML text and returns it as UTF-8,
// with a "%YAML 1.2" directive read as 1.1 (the version yaml.v3 names; it
// resolves plain scalars the 1.2 way already). UTF-16 with a byte-order
// mark is converted to UTF-8. A problem is reported, with its line, column
// and byte offset, for what yaml.v3 would refuse without a position:
// invalid UTF-8 (a Latin-1 file), UTF-16 without a byte-order mark, and
// control characters (NUL included) that YAML does not allow.
func text(file string, data []byte) ([]byte, *Problem) {
	if len(data) > MaxFileSize {
		p := tooLarge(file)
		return nil, &p
	}
	utf8Data, converted, p := fromUTF16(file, data)
	if p != nil {
		return nil, p
	}
	data = bytes.TrimPrefix(utf8Data, utf8BOM)
	if p := checkChars(file, data, len(utf8Data)-len(data), converted); p != nil {
		return nil, p
	}
	return yaml12(data), nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// fromUTF16 converts UTF-16 with a byte-order mark to UTF-8 (converted is
// then true) and refuses UTF-16 without one, which yaml.v3 would read as
// text full of NUL bytes. Other data is returned as it is.
func fromUTF16(file string, data []byte) (out []byte, converted bool, p *Problem) {
	var order string
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE, 0, 0}), bytes.HasPrefix(data, []byte{0, 0, 0xFE, 0xFF}):
		return nil, false, &Problem{File: file, Pos: Pos{1, 1}, Msg: "the file is UTF-32 (it starts with a UTF-32 byte-order mark): save it as UTF-8"}
	case len(data) >= 4 && data[0] != 0 && data[1] == 0 && data[2] == 0 && data[3] == 0:
		return nil, false, &Problem{File: file, Pos: Pos{1, 1}, Msg: "the file looks like UTF-32 (little-endian) without a byte-order mark (NUL bytes at byte offsets 1 to 3): save it as UTF-8"}
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		order = "little-endian"
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		order = "big-endian"
	case len(data) >= 4 && data[0] != 0 && data[1] == 0 && data[2] != 0 && data[3] == 0:
		return nil, false, &Problem{File: file, Pos: Pos{1, 1}, Msg: "the file looks like UTF-16 (little-endian) without a byte-order mark (a NUL byte at byte offset 1): save it as UTF-8"}
	case len(data) >= 4 && data[0] == 0 && data[1] != 0 && data[2] == 0 && data[3] != 0:
		return nil, false, &Problem{File: file, Pos: Pos{1, 1}, Msg: "the file looks like UTF-16 (big-endian) without a byte-order mark (a NUL byte at byte offset 0): save it as UTF-8"}
	default:
		return data, false, nil
	}
	if len(data)%2 != 0 {
		return nil, false, &Problem{File: file, Msg: fmt.Sprintf("invalid UTF-16 (%s): an odd number of bytes, the last at byte offset %d is half a character", order, len(data)-1)}
	}
	units := make([]uint16, 0, len(data)/2-1)
	for i := 2; i < len(data); i += 2 {
		if order == "little-endian" {
			units = append(units, uint16(data[i])|uint16(data[i+1])<<8)
		} else {
			units = append(units, uint16(data[i])<<8|uint16(data[i+1]))
		}
	}
	out = make([]byte, 0, len(data))
	for i := 0; i < len(units); i++ {
		r := rune(units[i])
		if utf16.IsSurrogate(r) {
			if i+1 < len(units) {
				r = utf16.DecodeRune(r, rune(units[i+1]))
			} else {
				r = utf8.RuneError
			}
			if r == utf8.RuneError {
				line, col := lineCol(out, len(out))
				return nil, false, &Problem{File: file, Pos: Pos{line, col}, Msg: fmt.Sprintf("invalid UTF-16 (%s): an unpaired surrogate 0x%04X at byte offset %d", order, units[i], 2+2*i)}
			}
			i++
		}
		out = utf8.AppendRune(out, r)
	}
	return out, true, nil
}

// checkChars reports the first byte of data that is not valid UTF-8 or is a
// character YAML does not allow (the C0 controls but tab, line feed and
// carriage return; DEL; the C1 controls but NEL; surrogates; U+FFFE and
// U+FFFF), as yaml.v3's reader would refuse it. base is the offset of data
// in the file; converted says data was converted from UTF-16, so that its
// offsets are not the file's.
func checkChars(file string, data []byte, base int, converted bool) *Problem {
	for i := 0; i < len(data); {
		r, w := utf8.DecodeRune(data[i:])
		var msg string
		switch {
		case r == utf8.RuneError && w <= 1:
			msg = fmt.Sprintf("invalid UTF-8: byte 0x%02X at byte offset %d is not part of a UTF-8 character (is the file Latin-1? save it as UTF-8)", data[i], base+i)
		case !yamlPrintable(r):
			what := fmt.Sprintf("the control character U+%04X", r)
			if r == 0 {
				what = "a NUL byte"
			}
			msg = fmt.Sprintf("%s at byte offset %d: YAML allows only tab, line breaks and printable characters", what, base+i)
			if converted {
				msg = fmt.Sprintf("%s: YAML allows only tab, line breaks and printable characters", what)
			}
		default:
			i += w
			continue
		}
		line, col := lineCol(data, i)
		return &Problem{File: file, Pos: Pos{line, col}, Msg: msg}
	}
	return nil
}

// yamlPrintable reports whether YAML 1.1 and 1.2 allow r in a stream.
func yamlPrintable(r rune) bool {
	switch {
	case r == 0x09, r == 0x0A, r == 0x0D, r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7E:
		return true
	case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// lineCol is the 1-based line and column of byte offset off in data, counting
// columns in characters and line breaks as YAML does (LF, CR LF, CR, NEL,
// U+2028, U+2029), as yaml.v3's node positions do.
func lineCol(data []byte, off int) (line, col int) {
	line, col = 1, 1
	for i := 0; i < off && i < len(data); {
		r, w := utf8.DecodeRune(data[i:])
		switch r {
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				w = 2 // one line break
			}
			line, col = line+1, 1
		case '\n', 0x85, 0x2028, 0x2029:
			line, col = line+1, 1
		default:
			col++
		}
		i += w
	}
	return line, col
}

// yaml12 returns data with a leading "%YAML 1.2" directive rewritten to
// "%YAML 1.1" (the same length, so positions do not move): yaml.v3 refuses
// any version but 1.1, and a 1.2 document means the same to it. Only the
// directives before the first document are looked at; data is not modified.
func yaml12(data []byte) []byte {
	rest := data
	off := 0
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		switch {
		case len(bytes.TrimSpace(trimmed)) == 0, trimmed[0] == '#':
		case bytes.HasPrefix(trimmed, []byte("%YAML")):
			if v, ok := versionAt(trimmed); ok && string(trimmed[v:v+3]) == "1.2" {
				out := bytes.Clone(data)
				out[off+v+2] = '1'
				return out
			}
			return data
		case trimmed[0] == '%':
		default:
			return data
		}
		off += len(line)
		rest = rest[len(line):]
	}
	return data
}

// versionAt returns where the version of a "%YAML x.y" directive line starts
// when it is exactly three characters followed by a blank, a comment or the
// end of the line.
func versionAt(line []byte) (int, bool) {
	i := len("%YAML")
	if i >= len(line) || (line[i] != ' ' && line[i] != '\t') {
		return 0, false
	}
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i+3 > len(line) || (i+3 < len(line) && line[i+3] != ' ' && line[i+3] != '\t') {
		return 0, false
	}
	return i, true
}
