package run

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/network"
	"github.com/gameday/gameday/rundir"
)

// The guard is a process that outlives a run killed with SIGKILL and undoes
// what the run's journal says is still applied on an external system. The
// run starts it in a session of its own (a Ctrl-C to the run's process
// group does not reach it, and the kernel does not kill it with the run),
// holds the write end of its stdin, and tells it "done" once its teardown
// is over. End of file without "done" means the run died: the guard undoes
// every pending effect at once, records each in the journal and an event,
// and exits.

// Guard messages on the guard's stdin and stdout.
const (
	guardReady = "ready"
	guardDone  = "done"
)

// DefaultGuardStartTimeout bounds the wait for the guard to be ready.
const DefaultGuardStartTimeout = 10 * time.Second

// guard is a started guard process, seen from the run.
type guard struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startGuard starts command + [dir, runID] and waits until it says it is
// ready.
func startGuard(command []string, dir, runID string) (*guard, error) {
	logf, err := os.OpenFile(filepath.Join(dir, rundir.DirLogs, "guard.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logf.Close() }() // the child has its own descriptor
	cmd := exec.Command(command[0], append(command[1:], dir, runID)...)
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &guard{cmd: cmd, stdin: stdin}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != guardReady {
			err = fmt.Errorf("guard said %q", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-time.After(DefaultGuardStartTimeout):
		err = errors.New("no answer")
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("guard not ready: %w", err)
	}
	return g, nil
}

// release tells the guard the run is over and waits for it to exit.
func (g *guard) release() error {
	_, werr := io.WriteString(g.stdin, guardDone+"\n")
	cerr := g.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- g.cmd.Wait() }()
	select {
	case err := <-done:
		return errors.Join(werr, cerr, err)
	case <-time.After(5 * time.Second):
		_ = g.cmd.Process.Kill()
		return errors.Join(werr, cerr, errors.New("guard did not exit"))
	}
}

// handOver closes the guard's stdin without "done": the guard undoes what
// is still pending, as after the run's death, while the run goes on to end.
func (g *guard) handOver() error {
	err := g.stdin.Close()
	go func() { _ = g.cmd.Wait() }() // reap it if it ends while gameday lives
	return err
}

// Guard is the guard process of the run in dir with run id runID: it holds
// the run's lease, says it is ready on ready, then waits on in. "done"
// ends it quietly; end of file (the run died) makes it undo every effect
// the journal holds as pending and record what it did. log receives its
// diagnostics.
func Guard(ctx context.Context, dir, runID string, in io.Reader, ready, log io.Writer) error {
	lease, err := rundir.TakeLease(runID)
	if err != nil {
		return err
	}
	defer func() { _ = lease.Release() }()
	if _, err := io.WriteString(ready, guardReady+"\n"); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == guardDone {
			return nil
		}
	}
	// The run died without saying it was done.
	start := time.Now()
	fmt.Fprintf(log, "%s: the run ended without finishing: undoing what it left applied\n", start.Format(time.RFC3339Nano))
	return UndoPending(context.WithoutCancel(ctx), dir, runID, log)
}

// sweepAfter is how long UndoPending waits before it sweeps the servers for
// what a call the dead run had already sent may have applied after the undo.
const sweepAfter = 300 * time.Millisecond

// UndoPending undoes every effect the journal of run runID in dir holds as
// pending, records each as undone in the journal and as an event; then,
// since a call the dead run had sent may land after that, it sweeps every
// server the journal names for resources of runID and removes them too. It
// returns every failure joined. It is what a guard does; `gameday cleanup
// RUN_DIR` does it too.
func UndoPending(ctx context.Context, dir, runID string, log io.Writer) error {
	pending, err := rundir.Pending(dir)
	if err != nil {
		return err
	}
	if len(pending) == 0 {
		return nil
	}
	defer sweep(ctx, dir, runID, log)
	j, err := rundir.CreateJournal(dir)
	if err != nil {
		return err
	}
	defer func() { _ = j.Close() }() // every entry was synced as written
	// A proxy gameday created takes its toxics with it when deleted: undo
	// only the rest, each proxy's effects in parallel with the others', so
	// that one slow call does not hold everything back.
	deleted := map[string]bool{}
	for _, e := range pending {
		if e.Kind == chaos.EffectProxy {
			deleted[e.Server+" "+e.Proxy] = true
		}
	}
	var mu sync.Mutex // guards errs, done and j's calls order (j is safe anyway)
	var errs, done []string
	var wg sync.WaitGroup
	byProxy := map[string][]chaos.Effect{}
	for i := len(pending) - 1; i >= 0; i-- { // newest first: toxics before their proxy
		e := pending[i]
		key := e.Server + " " + e.Proxy
		byProxy[key] = append(byProxy[key], e)
	}
	for key, effects := range byProxy {
		wg.Go(func() {
			for _, e := range effects {
				var what string
				var err error
				if e.Kind == chaos.EffectToxic && deleted[key] {
					what = fmt.Sprintf("toxic %s goes with proxy %s", e.Toxic, e.Proxy)
				} else {
					what, err = network.Undo(ctx, network.NewClient(e.Server), e)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err.Error())
					fmt.Fprintf(log, "undo %+v: %v\n", e, err)
				} else {
					_ = j.Undone(e)
					done = append(done, what)
					fmt.Fprintln(log, what)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(done)
	appendEvent(dir, rundir.Event{Type: rundir.EventGuardReverted, Message: strings.Join(done, "; ")})
	if len(errs) > 0 {
		return fmt.Errorf("undo: %s", strings.Join(errs, "; "))
	}
	return nil
}

// appendEvent appends one event to a run's events.jsonl, from outside the
// run (which is over).
func appendEvent(dir string, e rundir.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	f, err := rundir.OpenAppend(filepath.Join(dir, rundir.FileEvents))
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }()
	_, _ = f.Write(append(line, '\n'))
}

// sweep removes, from every server the journal of dir names, what carries
// run id runID.
func sweep(ctx context.Context, dir, runID string, log io.Writer) {
	if runID == "" {
		return
	}
	servers, err := rundir.Servers(dir)
	if err != nil {
		fmt.Fprintf(log, "sweep: %v\n", err)
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(sweepAfter):
	}
	for _, srv := range servers {
		done, err := network.Cleanup(ctx, network.NewClient(srv), func(id string) bool { return id == runID })
		for _, d := range done {
			fmt.Fprintf(log, "sweep: %s\n", d)
		}
		if err != nil {
			fmt.Fprintf(log, "sweep %s: %v\n", srv, err)
		}
	}
}

// RunID returns the run id of the run in dir, from its events; "" when
// they name none.
func RunID(dir string) string {
	f, err := os.Open(filepath.Join(dir, rundir.FileEvents))
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }() // read only
	events, _ := rundir.ReadEvents(io.LimitReader(f, 64<<20))
	for _, e := range events {
		if e.Type == rundir.EventRunStarted {
			return e.Attrs["runID"]
		}
	}
	return ""
}
