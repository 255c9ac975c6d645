package run

import (
	"errors"
	"strings"
)

// Redacted replaces a secret wherever a run writes or prints.
const Redacted = "[REDACTED]"

// redactor replaces the scenario's env and file values in everything the
// run writes: events, results, messages and errors.
type redactor struct {
	r *strings.Replacer // nil: no secrets
}

func newRedactor(secrets []string) *redactor {
	if len(secrets) == 0 {
		return &redactor{}
	}
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets { // longest first, as Values.Secrets sorts them
		pairs = append(pairs, s, Redacted)
	}
	return &redactor{r: strings.NewReplacer(pairs...)}
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
