package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
)

// Redacted replaces a secret wherever a run writes or prints.
const Redacted = "[REDACTED]"

// redactor replaces the scenario's env and file values in everything the
// run writes: events, results, messages and errors.
type redactor struct {
	r *strings.Replacer // nil: no secrets
}

// newRedactor redacts each secret as written and in the forms templates
// and error messages give it: URL query and path escaped, Go-quoted (as
// errors quote URLs), JSON- and JS-escaped, HTML-escaped.
func newRedactor(secrets []string) *redactor {
	var forms []string
	for _, s := range secrets {
		js, _ := json.Marshal(s)
		for _, f := range []string{
			s,
			url.QueryEscape(s),
			url.PathEscape(s),
			strings.Trim(strconv.Quote(s), `"`),
			strings.Trim(string(js), `"`),
			template.JSEscapeString(s),
			template.HTMLEscapeString(s),
		} {
			if f != "" && !slices.Contains(forms, f) {
				forms = append(forms, f)
			}
		}
	}
	if len(forms) == 0 {
		return &redactor{}
	}
	// Longest first, so that a form containing another is replaced whole.
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Redacted)
	}
	return &redactor{r: strings.NewReplacer(pairs...)}
}

// writer returns w with every secret redacted, line by line: a secret is
// never split between two writes of a line. Close writes what is left of
// an unfinished line. It is safe for concurrent use.
func (r *redactor) writer(w io.WriteCloser) io.WriteCloser {
	if r == nil || r.r == nil {
		return w
	}
	return &lineRedactor{r: r.r, w: w}
}

// maxLine bounds what a lineRedactor holds of an unfinished line.
const maxLine = 64 << 10

type lineRedactor struct {
	r   *strings.Replacer
	mu  sync.Mutex // guards w and buf
	w   io.WriteCloser
	buf []byte
}

func (l *lineRedactor) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	i := bytes.LastIndexByte(l.buf, '\n')
	if i < 0 && len(l.buf) < maxLine {
		return len(p), nil
	}
	if i < 0 {
		i = len(l.buf) - 1
	}
	if _, err := io.WriteString(l.w, l.r.Replace(string(l.buf[:i+1]))); err != nil {
		return 0, err
	}
	l.buf = append(l.buf[:0], l.buf[i+1:]...)
	return len(p), nil
}

func (l *lineRedactor) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if len(l.buf) > 0 {
		_, err = io.WriteString(l.w, l.r.Replace(string(l.buf)))
		l.buf = nil
	}
	return errors.Join(err, l.w.Close())
}

// string redacts s.
func (r *redactor) string(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// replacer returns the replacer, nil when there is nothing to redact.
func (r *redactor) replacer() *strings.Replacer {
	if r == nil {
		return nil
	}
	return r.r
}

// err wraps err so that its message is redacted; errors.As and Is still
// see the original.
func (r *redactor) err(err error) error {
	if err == nil || r == nil || r.r == nil {
		return err
	}
	return &redactedError{msg: r.r.Replace(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// ExitCode is the exit code of the wrapped error, 3 when it has none.
func (e *redactedError) ExitCode() int {
	var ec interface{ ExitCode() int }
	if errors.As(e.err, &ec) {
		return ec.ExitCode()
	}
	return ExitAborted
}
