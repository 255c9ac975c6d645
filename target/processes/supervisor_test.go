package processes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary act as a supervised child: an HTTP server
// on the address in the variable that answers /readyz until SIGTERM.
const childEnv = "GAMEDAY_LOCAL_TEST_CHILD"

func TestMain(m *testing.M) {
	if addr := os.Getenv(childEnv); addr != "" {
		os.Exit(childMain(addr))
	}
	os.Exit(m.Run())
}

func childMain(addr string) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pid %d", os.Getpid())
	})}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() { <-sigs; srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return 1
	}
	return 0
}

// events collects supervisor events for assertions.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }

func (e *events) count(typ, instance string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Type == typ && ev.Instance == instance {
			n++
		}
	}
	return n
}

func childSpec(t *testing.T, instance string) Spec {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Spec{
		Instance: instance,
		Labels:   map[string]string{"role": "api"},
		Path:     self,
		Env:      []string{childEnv + "=" + addr},
		Ready:    "http://" + addr + "/readyz",
	}
}

func alive(pid int) bool {
	// A zombie is not alive: read its state.
	b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "stat"))
	if err != nil {
		return false
	}
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] != 'Z'
		}
	}
	return true
}

func TestSupervisorRestartsAKilledProcess(t *testing.T) {
	var ev events
	s := NewSupervisor(WithRestartDelay(10*time.Millisecond), WithEvents(ev.add))
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	for _, name := range []string{"api-1", "api-2"} {
		if err := s.Start(childSpec(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.AwaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	procs := s.Select(map[string]string{"role": "api"})
	if len(procs) != 2 || procs[0].Labels["instance"] != "api-1" || procs[1].Labels["instance"] != "api-2" {
		t.Fatalf("Select(role=api) = %v; want api-1 and api-2 in order", procs)
	}
	if got := s.Select(map[string]string{"instance": "api-2"}); len(got) != 1 || got[0].PID != procs[1].PID {
		t.Fatalf("Select(instance=api-2) = %v; want pid %d", got, procs[1].PID)
	}
	victim := procs[1].PID
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	readyAt, err := s.AwaitRestart(ctx, "api-2", victim)
	if err != nil {
		t.Fatal(err)
	}
	now := s.PIDs()["api-2"]
	if now == victim || now == 0 || readyAt.IsZero() {
		t.Fatalf("after kill: pid %d (was %d), ready at %v; want a new ready process", now, victim, readyAt)
	}
	if alive(victim) {
		t.Errorf("killed pid %d still alive", victim)
	}
	if n := ev.count(EventExited, "api-2"); n != 1 {
		t.Errorf("%d exit events for api-2; want 1", n)
	}
	if n := ev.count(EventStarted, "api-2"); n != 2 {
		t.Errorf("%d start events for api-2; want 2", n)
	}

	pids := s.PIDs()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for name, pid := range pids {
		if alive(pid) {
			t.Errorf("after Stop, %s (pid %d) is still alive", name, pid)
		}
	}
	if got := s.Select(nil); len(got) != 0 {
		t.Errorf("after Stop, Select(nil) = %v; want none", got)
	}
	// Stop is idempotent.
	if err := s.Stop(ctx); err != nil {
		t.Errorf("second Stop = %v; want nil", err)
	}
}

func TestSupervisorKillsAGroupThatIgnoresTERM(t *testing.T) {
	s := NewSupervisor(WithStopGrace(50 * time.Millisecond))
	// sh ignores TERM and waits on a sleep: only SIGKILL of the group ends both.
	if err := s.Start(Spec{Instance: "stubborn", Path: "/bin/sh", Args: []string{"-c", "trap '' TERM; sleep 300 & wait"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.AwaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	pid := s.PIDs()["stubborn"]
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("pid %d survived Stop", pid)
	}
	// The group is gone too: no live process is left in it. Its killed
	// members may linger as zombies until init reaps them, which is not ours
	// to wait for.
	if live := liveGroupMembers(t, pid); len(live) > 0 {
		t.Errorf("process group %d still has live members %v", pid, live)
	}
}

// liveGroupMembers lists the processes of group pgid that are not zombies,
// from /proc.
func liveGroupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var live []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ')'.
		rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(rest) < 3 {
			continue
		}
		if g, _ := strconv.Atoi(rest[2]); g == pgid && rest[0] != "Z" && rest[0] != "X" {
			live = append(live, pid)
		}
	}
	return live
}

func TestSupervisorStartFailure(t *testing.T) {
	s := NewSupervisor()
	err := s.Start(Spec{Instance: "x", Path: filepath.Join(t.TempDir(), "missing")})
	if err == nil {
		t.Fatal("Start(missing binary) = nil; want an error")
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAwaitRestartHonoursContext(t *testing.T) {
	s := NewSupervisor(WithRestartDelay(time.Hour))
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	if err := s.Start(childSpec(t, "api-1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.AwaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	pid := s.PIDs()["api-1"]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if _, err := s.AwaitRestart(short, "api-1", pid); !errors.Is(err, context.Canceled) {
		t.Errorf("AwaitRestart(cancelled ctx) = %v; want context.Canceled", err)
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}
