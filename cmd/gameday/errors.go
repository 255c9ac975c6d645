package main

import (
	"errors"
	"strings"

	"github.com/gameday/gameday/scenarios"
)

// errorText is how execute prints err: the problems of a scenario as they
// are, one a line starting with "file:line:col:" (the form editors and CI
// problem matchers look for), and every other error prefixed "gameday: ".
// Errors joined with errors.Join are printed one after the other, and
// wrappers that add nothing to the message (usageError) are looked through.
func errorText(err error) string {
	var serr *scenarios.Error
	if errors.As(err, &serr) && serr.Error() == err.Error() {
		return err.Error()
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		for _, e := range joined.Unwrap() {
			parts = append(parts, errorText(e))
		}
		return strings.Join(parts, "\n")
	}
	if inner := errors.Unwrap(err); inner != nil && inner.Error() == err.Error() {
		return errorText(inner)
	}
	return "gameday: " + err.Error()
}
