package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperArg makes the test binary a child that runs until it is signalled or
// its stdin closes (the test ended).
const helperArg = "chaos-process-helper-child"

func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == helperArg {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	if len(os.Args) == 2 && os.Args[1] == httpHelperArg {
		os.Exit(serveHTTPChild())
	}
	os.Exit(m.Run())
}

// testSupervisor runs real child processes (this test binary in helper
// mode) and, like gameday's local supervisor, restarts one that exits; it
// restarts only once gate is closed, so a test can see a killed instance
// down before its replacement is up. Every child dies with the test.
type testSupervisor struct {
	exe  string
	gate <-chan struct{}
	done chan struct{} // closed when the test ends
	wg   sync.WaitGroup

	mu      sync.Mutex // guards procs and changed
	procs   map[string]*child
	changed chan struct{} // closed and replaced at every change of procs
}

// child is one instance of the supervisor.
type child struct {
	labels  map[string]string
	pid     int       // 0 while not running
	readyAt time.Time // when pid started
	stdin   io.Closer // closing it ends the child
}

var _ Supervisor = (*testSupervisor)(nil)

// newTestSupervisor starts one child per instance of labels (each must hold
// "instance"), which restart once gate is closed.
func newTestSupervisor(t *testing.T, gate <-chan struct{}, labels ...map[string]string) *testSupervisor {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	s := &testSupervisor{
		exe: exe, gate: gate, done: make(chan struct{}),
		procs: map[string]*child{}, changed: make(chan struct{}),
	}
	t.Cleanup(s.stop)
	for _, l := range labels {
		c := &child{labels: l}
		cmd, err := s.spawn(c)
		if err != nil {
			t.Fatalf("start %s: %v", l["instance"], err)
		}
		s.procs[l["instance"]] = c
		s.wg.Go(func() { s.supervise(c, cmd) })
	}
	return s
}

// spawn starts a process for c and records it.
func (s *testSupervisor) spawn(c *child) (*exec.Cmd, error) {
	cmd := exec.Command(s.exe, helperArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	c.pid, c.readyAt, c.stdin = cmd.Process.Pid, time.Now(), stdin
	s.changedLocked()
	s.mu.Unlock()
	return cmd, nil
}

// supervise waits for c's process to exit and restarts it once the gate
// opens, until the test ends.
func (s *testSupervisor) supervise(c *child, cmd *exec.Cmd) {
	for {
		_ = cmd.Wait()
		s.mu.Lock()
		c.pid = 0
		s.changedLocked()
		s.mu.Unlock()
		select {
		case <-s.done:
			return
		case <-s.gate:
		}
		select {
		case <-s.done:
			return
		default:
		}
		var err error
		if cmd, err = s.spawn(c); err != nil {
			return // AwaitRestart then waits until its context ends
		}
	}
}

func (s *testSupervisor) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// stop kills every child and waits for the supervising goroutines.
func (s *testSupervisor) stop() {
	close(s.done)
	s.mu.Lock()
	for _, c := range s.procs {
		if c.pid != 0 {
			_ = syscall.Kill(c.pid, syscall.SIGKILL)
			_ = c.stdin.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// pid returns the PID instance runs as, 0 if it is not running.
func (s *testSupervisor) pid(instance string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.procs[instance].pid
}

func (s *testSupervisor) Select(selector map[string]string) []Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Proc
	for _, name := range slices.Sorted(maps.Keys(s.procs)) {
		c := s.procs[name]
		match := c.pid != 0
		for k, v := range selector {
			match = match && c.labels[k] == v
		}
		if match {
			out = append(out, Proc{PID: c.pid, Labels: maps.Clone(c.labels)})
		}
	}
	return out
}

func (s *testSupervisor) AwaitRestart(ctx context.Context, instance string, pid int) (time.Time, error) {
	for {
		s.mu.Lock()
		c, ok := s.procs[instance]
		if !ok {
			s.mu.Unlock()
			return time.Time{}, fmt.Errorf("no instance %q", instance)
		}
		if c.pid != 0 && c.pid != pid {
			at := c.readyAt
			s.mu.Unlock()
			return at, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-changed:
		}
	}
}

// procState returns the state letter of pid from /proc/PID/stat ('R', 'S',
// 'T', 'Z'...), or 0 if there is no such process.
func procState(t *testing.T, pid int) byte {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if os.IsNotExist(err) || errors.Is(err, syscall.ESRCH) {
		return 0
	}
	if err != nil {
		t.Fatalf("read stat of pid %d: %v", pid, err)
	}
	// "PID (comm) S ...": comm may hold spaces and parentheses.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	fields := strings.Fields(rest)
	if len(fields) == 0 || len(fields[0]) != 1 {
		t.Fatalf("stat of pid %d = %q; want a state after the command", pid, b)
	}
	return fields[0][0]
}
