package action

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/chaostest"
)

// sh returns the Command that runs script with sh, with args as $1, $2, ...
func sh(script string, args ...string) Command {
	return Command{Argv: append([]string{"sh", "-c", script, "sh"}, args...)}
}

func TestExecConformance(t *testing.T) {
	// The effect is a marker file: the inject command creates it, the
	// recover command removes it.
	var marker string
	chaostest.Run(t, chaostest.Harness{
		New: func(t *testing.T) chaos.Fault {
			marker = filepath.Join(t.TempDir(), "restoring")
			rcv := sh(`rm "$1"`, marker)
			return NewExec("restore", ExecSpec{Inject: sh(`echo restoring > "$1"`, marker), Recover: &rcv})
		},
		Observed: func(t *testing.T) bool {
			_, err := os.Stat(marker)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("stat marker: %v", err)
			}
			return err == nil
		},
	})
}

func TestExecFails(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
		want []string // in Inject's error
	}{
		// A non-zero exit: the status and both streams' output.
		{"exit", sh(`echo restoring; echo "no backup found" >&2; exit 3`),
			[]string{`inject "restore": exec sh → exit 3 in `, "; output:\nrestoring\nno backup found"}},
		// Killed by a signal.
		{"signal", sh(`echo dying; kill -KILL $$`),
			[]string{`inject "restore": exec sh → signal 9 (killed) after `, "; output:\ndying"}},
		// An executable that does not exist.
		{"not found", Command{Argv: []string{"/nonexistent/restore.sh", "--token", "s3cret"}},
			[]string{`inject "restore": exec restore.sh → not started: `, "no such file or directory"}},
		// No command at all.
		{"no command", Command{}, []string{`inject "restore": exec (no command) → not started: no command`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := sh("true")
			f := NewExec("restore", ExecSpec{Inject: tt.cmd, Recover: &rcv})
			recs, err := f.Inject(t.Context())
			if err == nil || len(recs) != 0 {
				t.Fatalf("Inject() = %+v, %v; want no records and an error", recs, err)
			}
			contains(t, "Inject() error", err.Error(), tt.want...)
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Inject() error = %q; want no argument of the command in it", err)
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Errorf("Inject() error = %#v; want an *Error", err)
			}
			if recs, err := f.Recover(t.Context()); err != nil || len(recs) != 0 {
				t.Errorf("Recover() after a failed Inject = %+v, %v; want nothing, no error", recs, err)
			}
		})
	}
}

func TestExecKillsProcessGroup(t *testing.T) {
	// The script starts a child that would outlive it, says both PIDs, and
	// waits for the child: it runs until it is killed.
	const script = `sleep 60 & echo $! > "$1"; echo $$ > "$2"; echo started; wait`
	tests := []struct {
		name    string
		timeout time.Duration
		cancel  bool // end ctx once both PIDs are written
		want    string
		is      error
	}{
		// The command's timeout passes.
		{"timeout", time.Second, false, "exec sh → timed out after 1s, process group killed: context deadline exceeded; output:\nstarted", context.DeadlineExceeded},
		// ctx ends first.
		{"ctx ends", 0, true, "exec sh → stopped after ", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			childFile, scriptFile := filepath.Join(dir, "child"), filepath.Join(dir, "script")
			cmd := sh(script, childFile, scriptFile)
			cmd.Timeout = tt.timeout
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancel {
				go func() {
					if waitUntil(ctx, func() bool { return readPID(childFile) > 0 && readPID(scriptFile) > 0 }) {
						cancel()
					}
				}()
			}
			f := NewExec("slow", ExecSpec{Inject: cmd})
			recs, err := f.Inject(ctx)
			if err == nil || len(recs) != 0 || !errors.Is(err, tt.is) {
				t.Fatalf("Inject() = %+v, %v; want no records and an error that is %v", recs, err, tt.is)
			}
			contains(t, "Inject() error", err.Error(), tt.want)
			for _, file := range []string{scriptFile, childFile} {
				pid := readPID(file)
				if pid <= 0 {
					t.Fatalf("%s: no PID written before the command was killed", filepath.Base(file))
				}
				if !waitUntil(t.Context(), func() bool { return !alive(pid) }) {
					t.Errorf("%s pid %d still alive (state %q) %v after Inject returned; want killed", filepath.Base(file), pid, procState(pid), chaostest.DefaultWait)
				}
			}
		})
	}
}

func TestExecKillsWhatItLeaves(t *testing.T) {
	// The script exits 0 at once but leaves a child holding its output.
	childFile := filepath.Join(t.TempDir(), "child")
	f := NewExec("start", ExecSpec{Inject: sh(`sleep 60 & echo $! > "$1"; echo started`, childFile)})
	recs, err := f.Inject(t.Context())
	if err != nil || len(recs) != 1 {
		t.Fatalf("Inject() = %+v, %v; want one record", recs, err)
	}
	contains(t, "Inject() Action", recs[0].Action, "exec sh → exit 0 in ")
	if recs[0].Output != "started\n" {
		t.Errorf("Inject() Output = %q; want %q", recs[0].Output, "started\n")
	}
	pid := readPID(childFile)
	if pid <= 0 {
		t.Fatalf("child: no PID written")
	}
	if !waitUntil(t.Context(), func() bool { return !alive(pid) }) {
		t.Errorf("child pid %d still alive (state %q) after Inject returned; want killed with the command's group", pid, procState(pid))
	}
}

func TestExecOutputTruncated(t *testing.T) {
	// 10000 bytes on stdout, then one line on stderr that is past the bound.
	f := NewExec("dump", ExecSpec{Inject: sh(`head -c 10000 /dev/zero | tr '\000' a; echo tail >&2`)})
	recs, err := f.Inject(t.Context())
	if err != nil || len(recs) != 1 {
		t.Fatalf("Inject() = %+v, %v; want one record", recs, err)
	}
	want := strings.Repeat("a", MaxOutput) + "\n" + Truncated + " " + strconv.Itoa(10000-MaxOutput+len("tail\n")) + " more bytes"
	if recs[0].Output != want {
		t.Errorf("Inject() Output = %d bytes ending %q; want %d bytes ending %q",
			len(recs[0].Output), tail(recs[0].Output), len(want), tail(want))
	}
}

func TestExecEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	cmd := sh(`echo "$GAMEDAY_TEST_DB in $(pwd)"`)
	cmd.Dir = dir
	cmd.Env = []string{"GAMEDAY_TEST_DB=orders"}
	f := NewExec("env", ExecSpec{Inject: cmd})
	recs, err := f.Inject(t.Context())
	if err != nil || len(recs) != 1 {
		t.Fatalf("Inject() = %+v, %v; want one record", recs, err)
	}
	if want := "orders in " + dir + "\n"; recs[0].Output != want {
		t.Errorf("Inject() Output = %q; want %q", recs[0].Output, want)
	}
	if recs[0].Target != "sh" {
		t.Errorf("Inject() Target = %q; want %q", recs[0].Target, "sh")
	}
}

func TestExecRecover(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		f := NewExec("snapshot", ExecSpec{Inject: sh("echo snap")})
		if !f.EndsByItself() {
			t.Errorf("EndsByItself() = false; want true with no recover command")
		}
		injected, err := f.Inject(t.Context())
		if err != nil {
			t.Fatalf("Inject() = _, %v; want no error", err)
		}
		closed, err := f.Recover(t.Context())
		if err != nil || len(closed) != 1 || !closed[0].Recovered() || closed[0].Output != injected[0].Output {
			t.Fatalf("Recover() = %+v, %v; want Inject's record %+v closed as it is", closed, err, injected[0])
		}
		if again, err := f.Recover(t.Context()); err != nil || len(again) != 0 {
			t.Errorf("second Recover() = %+v, %v; want nothing, no error", again, err)
		}
	})

	t.Run("fails then succeeds", func(t *testing.T) {
		ready := filepath.Join(t.TempDir(), "ready")
		rcv := sh(`test -e "$1" || { echo "replica not caught up" >&2; exit 1; }; echo restored`, ready)
		f := NewExec("restore", ExecSpec{Inject: sh("echo restoring"), Recover: &rcv})
		if f.EndsByItself() {
			t.Errorf("EndsByItself() = true; want false with a recover command")
		}
		if _, err := f.Inject(t.Context()); err != nil {
			t.Fatalf("Inject() = _, %v; want no error", err)
		}
		closed, err := f.Recover(t.Context())
		if err == nil || len(closed) != 0 {
			t.Fatalf("Recover() = %+v, %v; want no records and an error", closed, err)
		}
		contains(t, "Recover() error", err.Error(), `recover "restore": exec sh → exit 1 in `, "; output:\nreplica not caught up")
		if err := os.WriteFile(ready, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		closed, err = f.Recover(t.Context())
		if err != nil || len(closed) != 1 || !closed[0].Recovered() {
			t.Fatalf("Recover() = %+v, %v; want the record closed", closed, err)
		}
		contains(t, "Recover() Output", closed[0].Output, "restoring\n"+RecoverHeader+"exec sh → exit 0 in ", " ---\nrestored\n")
	})
}

// readPID returns the PID written in file, or 0 if there is none yet.
func readPID(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// procState returns the state letter of pid in /proc ('R', 'S', 'Z', ...),
// or 0 if there is no such process.
func procState(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// "pid (comm) S ...": comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// alive reports whether pid is a process that is not a zombie: a zombie is
// dead, only not reaped yet (by whoever adopted it).
func alive(pid int) bool {
	s := procState(pid)
	return s != 0 && s != 'Z' && s != 'X'
}

// waitUntil polls cond until it holds, and reports whether it did before
// chaostest.DefaultWait passed or ctx ended.
func waitUntil(ctx context.Context, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, chaostest.DefaultWait)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}
