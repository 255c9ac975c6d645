// Package local runs a target on loopback: child processes under a
// supervisor that restarts them as a kubelet would, with a Toxiproxy proxy on
// every edge between them. It starts the reference backend (see Start), and
// its Supervisor is the machinery for any user's processes too.
package processes

import (
	"context"
	"errors"
	"fmt"
	"github.com/gameday/gameday/rundir"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gameday/gameday/chaos/process"
	"github.com/gameday/gameday/target"
)

// Defaults of the supervisor.
const (
	// DefaultStopGrace is how long a process has to exit after SIGTERM before
	// its process group is killed.
	DefaultStopGrace = 3 * time.Second
	// DefaultReadyTimeout bounds the wait for a process to become ready.
	DefaultReadyTimeout = 15 * time.Second
	// readyPollEvery is the readiness polling period.
	readyPollEvery = 25 * time.Millisecond
)

// Event types a supervisor reports, as the run directory records them.
const (
	EventStarted       = rundir.EventProcessStarted
	EventReady         = rundir.EventProcessReady
	EventExited        = rundir.EventProcessExited
	EventStartFailed   = rundir.EventProcessStartFailed
	EventStopRequested = rundir.EventProcessStopping
)

// Event is something that happened to a supervised process.
type Event = target.Event

// Spec describes one supervised process.
type Spec struct {
	// Instance names the process uniquely; it is also its "instance" label.
	Instance string
	// Labels select the process for faults; "instance" is set from Instance.
	Labels map[string]string
	Path   string
	Args   []string
	// Env holds extra environment variables, "KEY=value", added to gameday's.
	Env []string
	// Ready is an HTTP URL that answers 200 once the process is ready, or
	// "tcp://host:port", an address that accepts connections once it is;
	// empty: ready once started.
	Ready string
	// Dir is the working directory; empty: gameday's.
	Dir string
	// Output receives the process's stdout and stderr; nil discards them.
	Output io.Writer
	// RestartDelay, when set, overrides the supervisor's restart delay.
	RestartDelay *time.Duration
}

// Supervisor starts processes, restarts them after RestartDelay when they
// exit, and stops them all on Stop. Every child runs in its own process group
// and is killed by the kernel if gameday dies (parent-death signal).
type Supervisor struct {
	restartDelay time.Duration
	stopGrace    time.Duration
	onEvent      func(Event)
	client       *http.Client

	stop chan struct{} // closed by Stop
	wg   sync.WaitGroup

	mu       sync.Mutex // guards procs and stopping
	procs    map[string]*child
	stopping bool
}

// child is the state of one supervised process; guarded by Supervisor.mu.
type child struct {
	spec    Spec
	pid     int       // 0 while not running
	readyAt time.Time // zero until the current incarnation is ready
	exited  chan struct{}
	// changed is closed and replaced at every state change.
	changed chan struct{}
}

// SupervisorOption configures a Supervisor.
type SupervisorOption func(*Supervisor)

// WithRestartDelay sets how long an exited process stays down before restart.
func WithRestartDelay(d time.Duration) SupervisorOption {
	return func(s *Supervisor) { s.restartDelay = d }
}

// WithStopGrace sets the SIGTERM-to-SIGKILL grace period of Stop.
func WithStopGrace(d time.Duration) SupervisorOption {
	return func(s *Supervisor) { s.stopGrace = d }
}

// WithEvents sets the function that receives process events; it is called
// from the supervisor's goroutines and must be safe for concurrent use.
func WithEvents(fn func(Event)) SupervisorOption {
	return func(s *Supervisor) { s.onEvent = fn }
}

// NewSupervisor returns a supervisor with no processes.
func NewSupervisor(opts ...SupervisorOption) *Supervisor {
	s := &Supervisor{
		restartDelay: time.Second,
		stopGrace:    DefaultStopGrace,
		onEvent:      func(Event) {},
		client:       &http.Client{Timeout: 500 * time.Millisecond},
		stop:         make(chan struct{}),
		procs:        map[string]*child{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Start starts the process of spec and supervises it until Stop. It returns
// once the process was started; use AwaitReady to wait for readiness.
func (s *Supervisor) Start(spec Spec) error {
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels["instance"] = spec.Instance
	spec.Labels = labels

	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return errors.New("start process: supervisor is stopping")
	}
	if _, dup := s.procs[spec.Instance]; dup {
		s.mu.Unlock()
		return fmt.Errorf("start process %q: already supervised", spec.Instance)
	}
	c := &child{spec: spec, changed: make(chan struct{})}
	s.procs[spec.Instance] = c
	s.mu.Unlock()

	cmd, err := s.spawn(c)
	if err != nil {
		s.mu.Lock()
		delete(s.procs, spec.Instance)
		s.mu.Unlock()
		return err
	}
	s.wg.Add(1)
	go s.supervise(c, cmd)
	return nil
}

// errStopping is returned by spawn once Stop has begun.
var errStopping = errors.New("supervisor is stopping")

// spawn starts one incarnation of c and records its PID. It starts nothing
// once Stop has begun, so that Stop sees every process it must end.
func (s *Supervisor) spawn(c *child) (*exec.Cmd, error) {
	cmd := exec.Command(c.spec.Path, c.spec.Args...)
	cmd.Stdout, cmd.Stderr = c.spec.Output, c.spec.Output
	cmd.Dir = c.spec.Dir
	if len(c.spec.Env) > 0 {
		cmd.Env = append(os.Environ(), c.spec.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return nil, errStopping
	}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("start process %q (%s): %w", c.spec.Instance, c.spec.Path, err)
	}
	c.pid = cmd.Process.Pid
	c.readyAt = time.Time{}
	c.exited = make(chan struct{})
	s.changedLocked(c)
	s.mu.Unlock()
	s.onEvent(Event{Time: time.Now(), Type: EventStarted, Instance: c.spec.Instance, PID: cmd.Process.Pid})
	go s.watchReady(c, cmd.Process.Pid, c.exited)
	return cmd, nil
}

// changedLocked wakes every waiter on c. s.mu must be held.
func (s *Supervisor) changedLocked(c *child) {
	close(c.changed)
	c.changed = make(chan struct{})
}

// supervise waits for cmd to exit and restarts it after the restart delay,
// until Stop.
func (s *Supervisor) supervise(c *child, cmd *exec.Cmd) {
	defer s.wg.Done()
	for {
		err := cmd.Wait()
		s.mu.Lock()
		pid := c.pid
		c.pid = 0
		c.readyAt = time.Time{}
		close(c.exited)
		s.changedLocked(c)
		stopping := s.stopping
		s.mu.Unlock()
		s.onEvent(Event{Time: time.Now(), Type: EventExited, Instance: c.spec.Instance, PID: pid, Detail: exitDetail(cmd, err)})

		for {
			if stopping {
				return
			}
			delay := s.restartDelay
			if c.spec.RestartDelay != nil {
				delay = *c.spec.RestartDelay
			}
			select {
			case <-s.stop:
				return
			case <-time.After(delay):
			}
			next, err := s.spawn(c)
			if errors.Is(err, errStopping) {
				return
			}
			if err == nil {
				cmd = next
				break
			}
			s.onEvent(Event{Time: time.Now(), Type: EventStartFailed, Instance: c.spec.Instance, Detail: err.Error()})
		}
	}
}

// exitDetail describes how a process ended: "exit status 1", "signal: killed".
func exitDetail(cmd *exec.Cmd, err error) string {
	if cmd.ProcessState != nil {
		return cmd.ProcessState.String()
	}
	if err != nil {
		return err.Error()
	}
	return "exited"
}

// watchReady polls the readiness URL of one incarnation until it answers 200
// or the incarnation exits.
func (s *Supervisor) watchReady(c *child, pid int, exited <-chan struct{}) {
	if c.spec.Ready == "" {
		s.markReady(c, pid)
		return
	}
	tick := time.NewTicker(readyPollEvery)
	defer tick.Stop()
	for {
		if s.probe(c.spec.Ready) {
			s.markReady(c, pid)
			return
		}
		select {
		case <-exited:
			return
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

// probe reports whether the readiness check ready passes now.
func (s *Supervisor) probe(ready string) bool {
	if addr, ok := strings.CutPrefix(ready, "tcp://"); ok {
		conn, err := net.DialTimeout("tcp", addr, s.client.Timeout)
		if err != nil {
			return false
		}
		_ = conn.Close()
		return true
	}
	resp, err := s.client.Get(ready)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (s *Supervisor) markReady(c *child, pid int) {
	now := time.Now()
	s.mu.Lock()
	if c.pid != pid {
		s.mu.Unlock()
		return
	}
	c.readyAt = now
	s.changedLocked(c)
	s.mu.Unlock()
	s.onEvent(Event{Time: now, Type: EventReady, Instance: c.spec.Instance, PID: pid})
}

// AwaitReady blocks until every supervised process is running and ready,
// or ctx ends.
func (s *Supervisor) AwaitReady(ctx context.Context) error {
	for {
		s.mu.Lock()
		var waitOn chan struct{}
		var notReady []string
		for _, name := range slices.Sorted(maps.Keys(s.procs)) {
			c := s.procs[name]
			if c.pid == 0 || c.readyAt.IsZero() {
				notReady = append(notReady, name)
				if waitOn == nil {
					waitOn = c.changed
				}
			}
		}
		s.mu.Unlock()
		if waitOn == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for processes %v to be ready: %w", notReady, context.Cause(ctx))
		case <-waitOn:
		}
	}
}

// Select returns the running processes whose labels include every pair of
// selector, ordered by instance.
func (s *Supervisor) Select(selector map[string]string) []process.Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []process.Proc
	for _, name := range slices.Sorted(maps.Keys(s.procs)) {
		c := s.procs[name]
		if c.pid == 0 || !matches(c.spec.Labels, selector) {
			continue
		}
		out = append(out, process.Proc{PID: c.pid, Labels: maps.Clone(c.spec.Labels)})
	}
	return out
}

func matches(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// AwaitRestart blocks until instance runs with a PID other than pid and is
// ready, and returns when it became ready.
func (s *Supervisor) AwaitRestart(ctx context.Context, instance string, pid int) (time.Time, error) {
	for {
		s.mu.Lock()
		c, ok := s.procs[instance]
		if !ok {
			s.mu.Unlock()
			return time.Time{}, fmt.Errorf("await restart of %q: no such process", instance)
		}
		if c.pid != 0 && c.pid != pid && !c.readyAt.IsZero() {
			at := c.readyAt
			s.mu.Unlock()
			return at, nil
		}
		changed := c.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("await restart of %q: %w", instance, context.Cause(ctx))
		case <-changed:
		}
	}
}

// PIDs returns the PID of every running process by instance.
func (s *Supervisor) PIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for name, c := range s.procs {
		if c.pid != 0 {
			out[name] = c.pid
		}
	}
	return out
}

// Stop stops restarting, sends SIGTERM to every process group, kills the
// groups still alive after the grace period or when ctx ends, and waits for
// every supervising goroutine. It is idempotent.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.stopping {
		s.stopping = true
		close(s.stop)
	}
	type victim struct {
		name   string
		pid    int
		exited chan struct{}
	}
	var victims []victim
	for name, c := range s.procs {
		if c.pid != 0 {
			victims = append(victims, victim{name, c.pid, c.exited})
		}
	}
	s.mu.Unlock()

	for _, v := range victims {
		s.onEvent(Event{Time: time.Now(), Type: EventStopRequested, Instance: v.name, PID: v.pid})
		_ = syscall.Kill(-v.pid, syscall.SIGTERM)
	}
	grace := time.NewTimer(s.stopGrace)
	defer grace.Stop()
	expired := false
	var errs []error
	for _, v := range victims {
		if !expired {
			select {
			case <-v.exited:
				continue
			case <-grace.C:
				expired = true
			case <-ctx.Done():
				expired = true
			}
		}
		if err := syscall.Kill(-v.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill process group of %q: %w", v.name, err))
		}
		<-v.exited
	}
	s.wg.Wait()
	return errors.Join(errs...)
}
