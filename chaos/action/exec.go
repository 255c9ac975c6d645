package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gameday/gameday/chaos"
)

// OutputGrace bounds how long a command's output is still read once the
// command and its process group are gone: a process the command detached
// into a group of its own may hold the output open for ever. It is also the
// command's exec.Cmd.WaitDelay.
const OutputGrace = 2 * time.Second

// Command is one command of an exec action fault, run as given (the scenario
// layer fills it complete and valid): no shell is involved unless Argv names
// one.
type Command struct {
	// Argv is the command and its arguments; Argv[0] is the executable, a
	// path or a name looked up in PATH. Only the base name of Argv[0] is
	// recorded: the arguments may carry secrets.
	Argv []string
	// Dir is the working directory; "" means gameday's.
	Dir string
	// Env is added to gameday's environment, as "KEY=value"; a key given
	// here overrides the inherited one. It is never recorded.
	Env []string
	// Timeout bounds the command; when it passes, the command's whole
	// process group is killed and the action fails. 0 means no bound besides
	// ctx.
	Timeout time.Duration
}

// ExecSpec says what an exec action fault runs.
type ExecSpec struct {
	// Inject is the command Inject runs.
	Inject Command
	// Recover is the command Recover runs; nil means none: the fault ends by
	// itself (see ExecFault.EndsByItself).
	Recover *Command
}

// ExecFault is an action fault that runs commands: Inject runs the inject
// command and opens one record when it exits 0; Recover runs the recover
// command, if any, and closes the record when that exits 0.
//
// Each command runs in a process group of its own, with stdin from
// /dev/null and stdout and stderr captured together. When the command exits,
// whatever it left running in its group is killed: a process meant to
// outlive the action must detach into a group of its own, and gameday does
// not track it. On timeout or when ctx ends, the whole group is killed. If
// gameday itself dies, the command gets SIGKILL, but what it started does
// not.
//
// The record's Target is the base name of the inject command's Argv[0]
// ("restore.sh"); its Action adds the result and the duration ("exec
// restore.sh → exit 0 in 1.2s"); its Output is the command's combined stdout
// and stderr, bounded by MaxOutput. The closed record's Output adds the
// recover command's result and output below a RecoverHeader line.
//
// It is safe for use by one Inject or Recover at a time; a call made while
// another runs waits for it, or for ctx to end.
type ExecFault struct {
	core fault
}

var _ chaos.Fault = (*ExecFault)(nil)

// NewExec returns the exec action fault named name that runs what spec says.
// Nothing runs until Inject.
func NewExec(name string, spec ExecSpec) *ExecFault {
	inj := spec.Inject.clone()
	var rcv act
	if spec.Recover != nil {
		rcv = spec.Recover.clone().run
	}
	return &ExecFault{core: newFault(name, inj.base(), inj.run, rcv)}
}

// Name returns the fault's name in the scenario.
func (f *ExecFault) Name() string { return f.core.name }

// EndsByItself reports whether the fault has no recover command: its effect
// is the inject command alone, so the orchestrator calls Recover right after
// Inject, and Recover closes the record at once.
func (f *ExecFault) EndsByItself() bool { return f.core.recover == nil }

// Inject runs the inject command and returns the one record it opened,
// InjectedAt being when the command started. When the command cannot start,
// exits non-zero, is killed by a signal, times out, or ctx ends, it returns
// an *Error, wrapped, with the result and the output, and opens no record.
// It is an error while the record is open.
func (f *ExecFault) Inject(ctx context.Context) ([]chaos.Record, error) {
	return f.core.doInject(ctx)
}

// Recover runs the recover command, if the spec has one, and closes the
// record: RecoveredAt is when the command exited 0, or now when there is no
// recover command. When the recover command fails it returns an *Error,
// wrapped, and the record stays open, so that a later Recover runs it again.
// With no open record (before Inject, after a failed Inject, or a second
// time) it runs nothing and returns no record and no error.
func (f *ExecFault) Recover(ctx context.Context) ([]chaos.Record, error) {
	return f.core.doRecover(ctx)
}

// clone returns a copy of c that shares no slice with it.
func (c Command) clone() Command {
	c.Argv = append([]string(nil), c.Argv...)
	c.Env = append([]string(nil), c.Env...)
	return c
}

// base returns the base name of Argv[0]: what records and errors name.
func (c Command) base() string {
	if len(c.Argv) == 0 {
		return "(no command)"
	}
	return filepath.Base(c.Argv[0])
}

// run runs the command to its end, and kills what it left in its group.
func (c Command) run(ctx context.Context) (result, error) {
	what := "exec " + c.base()
	if len(c.Argv) == 0 {
		return result{}, &Error{Action: what + " → not started", Err: errors.New("no command")}
	}
	rctx := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(rctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	if len(c.Env) > 0 {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = OutputGrace

	// The output goes to a pipe of our own rather than one exec.Cmd copies
	// from: Wait then returns as soon as the command exits, and the group is
	// killed at once, instead of after WaitDelay when a child it left holds
	// the pipe.
	pr, pw, err := os.Pipe()
	if err != nil {
		return result{}, &Error{Action: what + " → not started", Err: fmt.Errorf("output pipe: %w", err)}
	}
	defer func() { _ = pr.Close() }()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	err = cmd.Start()
	_ = pw.Close()
	if err != nil {
		return result{}, &Error{Action: what + " → not started", Err: err}
	}
	out := &headWriter{max: MaxOutput}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, pr)
	}()

	werr := cmd.Wait()
	took := time.Since(start)
	// What the command left in its group dies with it. The group's id
	// cannot go to another process while a member of the group lives.
	_ = killGroup(cmd.Process.Pid)
	grace := time.NewTimer(OutputGrace)
	select {
	case <-copied:
		grace.Stop()
	case <-grace.C:
		_ = pr.Close()
		<-copied
	}
	output := out.String()

	var ee *exec.ExitError
	switch {
	case werr == nil:
		return result{action: fmt.Sprintf("%s → exit 0 in %s", what, roughly(took)), output: output}, nil
	case ctx.Err() == nil && errors.Is(rctx.Err(), context.DeadlineExceeded):
		return result{}, &Error{
			Action: fmt.Sprintf("%s → timed out after %v, process group killed", what, c.Timeout),
			Output: output, Err: rctx.Err(),
		}
	case ctx.Err() != nil:
		return result{}, &Error{
			Action: fmt.Sprintf("%s → stopped after %s, process group killed", what, roughly(took)),
			Output: output, Err: ctx.Err(),
		}
	case errors.As(werr, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return result{}, &Error{
				Action: fmt.Sprintf("%s → signal %d (%v) after %s", what, int(ws.Signal()), ws.Signal(), roughly(took)),
				Output: output,
			}
		}
		return result{}, &Error{Action: fmt.Sprintf("%s → exit %d in %s", what, ee.ExitCode(), roughly(took)), Output: output}
	default:
		return result{}, &Error{Action: fmt.Sprintf("%s → failed after %s", what, roughly(took)), Output: output, Err: werr}
	}
}

// killGroup sends SIGKILL to the process group pgid; a group that is gone
// already is os.ErrProcessDone.
func killGroup(pgid int) error {
	err := syscall.Kill(-pgid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
