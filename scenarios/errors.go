package scenarios

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a scenario: where it is and what is wrong.
type Problem struct {
	// File is the scenario file's name as given to Decode or Load.
	File string
	// Pos is where the problem was written; zero when unknown.
	Pos Pos
	// Path is the field path in yaml key names, "faults[1].network.latency";
	// empty for the document as a whole.
	Path string
	// Msg says what is wrong, with the bad value and what is allowed.
	Msg string
}

// String formats the problem as "file:line:col: path: msg". The line and
// column are left out when unknown, the path when empty, the file when empty.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Pos.Line > 0 {
		if p.File != "" {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%d", p.Pos.Line)
		if p.Pos.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Pos.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is an invalid scenario: every problem found, in document order. Decode,
// Validate, Load, LoadBytes and Open return their failures as *Error.
type Error struct {
	Problems []Problem

	// cause is the underlying error (a failed read), for errors.Is and As.
	cause error
}

// Error returns the problems, one per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// ExitCode is 2: an invalid scenario is invalid input.
func (e *Error) ExitCode() int { return 2 }

// Unwrap returns the error that caused the problem, such as a failed read, or
// nil.
func (e *Error) Unwrap() error { return e.cause }

// errorOf returns problems as an *Error, or nil when there are none. It
// returns a plain error interface so that no typed nil escapes.
func errorOf(problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	return &Error{Problems: problems}
}
