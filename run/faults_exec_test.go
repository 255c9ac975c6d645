package run

import (
	"slices"
	"strings"
	"testing"

	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target"
)

// TestExecCommandTemplates: an exec command's elements are rendered over
// the running target (URLs, folders), and a first element naming a target
// command runs it with its leading arguments.
func TestExecCommandTemplates(t *testing.T) {
	running := &target.Running{
		Base:     "http://127.0.0.1:8080",
		URLs:     map[string]string{"sentinel": "http://127.0.0.1:9000"},
		Dirs:     map[string]string{"store-1": "/data/store-1", "shared": "/data"},
		Commands: map[string][]string{"refapp": {"/bin/gameday", "refapp"}},
	}
	env := faultEnv{running: running, s: &scenarios.Scenario{}, vals: &scenarios.Values{}}
	for _, tc := range []struct {
		name    string
		command []string
		want    []string
		wantErr string
	}{
		{"target command and folders", []string{"refapp", "restore", `--data-dir={{.Dir "store-1"}}`, `--backup-dir={{.Dir "shared"}}/backups`, `--sentinel={{.URL "sentinel"}}`},
			[]string{"/bin/gameday", "refapp", "restore", "--data-dir=/data/store-1", "--backup-dir=/data/backups", "--sentinel=http://127.0.0.1:9000"}, ""},
		{"plain elements left alone", []string{"sh", "-c", "echo {not a template}"}, []string{"sh", "-c", "echo {not a template}"}, ""},
		{"bad template", []string{"sh", "-c", "{{"}, nil, "command[2]"},
		{"no target command", []string{"rm", "-rf", `{{.Dir "store-1"}}`}, []string{"rm", "-rf", "/data/store-1"}, ""},
		{"unknown folder", []string{"rm", `{{.Dir "store-2"}}`}, nil, `unknown folder "store-2" (want one of shared, store-1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := execCommand(&scenarios.ExecCommand{Command: tc.command}, env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("execCommand(%q) = %v, %v; want an error saying %q", tc.command, got.Argv, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got.Argv, tc.want) {
				t.Errorf("execCommand(%q) = %q, %v; want %q", tc.command, got.Argv, err, tc.want)
			}
		})
	}
	// The running target's command is not changed by a run of it.
	if _, err := execCommand(&scenarios.ExecCommand{Command: []string{"refapp", "x"}}, env); err != nil || !slices.Equal(running.Commands["refapp"], []string{"/bin/gameday", "refapp"}) {
		t.Errorf("the target's refapp command after a run = %q, %v", running.Commands["refapp"], err)
	}
}
