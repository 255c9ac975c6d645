package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gameday/gameday/scenarios"
)

func TestErrorText(t *testing.T) {
	bad := func(file string) error {
		_, err := scenarios.LoadBytes(file, []byte("name: [\n"))
		return err
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"scenario problems as they are", bad("a.yaml"),
			"a.yaml:2:1: invalid YAML: did not find expected node content before the end of the file"},
		{"through a usage error", usageError{bad("a.yaml")},
			"a.yaml:2:1: invalid YAML: did not find expected node content before the end of the file"},
		{"several files joined", usageError{errors.Join(bad("a.yaml"), bad("b.yaml"))},
			"a.yaml:2:1: invalid YAML: did not find expected node content before the end of the file\n" +
				"b.yaml:2:1: invalid YAML: did not find expected node content before the end of the file"},
		{"a scenario and another error joined", errors.Join(bad("a.yaml"), errors.New("disk full")),
			"a.yaml:2:1: invalid YAML: did not find expected node content before the end of the file\ngameday: disk full"},
		{"any other error prefixed", usagef("expected one scenario file"), "gameday: expected one scenario file"},
		{"a scenario error with context is another error", fmt.Errorf("judge x: %w", bad("a.yaml")),
			"gameday: judge x: a.yaml:2:1: invalid YAML: did not find expected node content before the end of the file"},
	}
	for _, tt := range tests {
		if got := errorText(tt.err); got != tt.want {
			t.Errorf("%s: errorText = %q; want %q", tt.name, got, tt.want)
		}
	}
}
