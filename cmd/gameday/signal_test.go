package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gameday/gameday/rundir"
)

// TestInterruptStopsAtOnce: validate and report have nothing to revert, so
// the first SIGINT or SIGTERM ends them at once with exit code 3 and without
// the "reverting faults" message of run. Each is stopped while blocked
// reading a FIFO, where no cancellation of a context would reach it.
func TestInterruptStopsAtOnce(t *testing.T) {
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		args func(fifo string) []string
		fifo func(dir string) string
	}{
		{"validate/SIGINT", syscall.SIGINT, func(f string) []string { return []string{"validate", f} }, func(dir string) string { return filepath.Join(dir, "s.yaml") }},
		{"validate/SIGTERM", syscall.SIGTERM, func(f string) []string { return []string{"validate", f} }, func(dir string) string { return filepath.Join(dir, "s.yaml") }},
		{"report/SIGINT", syscall.SIGINT, func(f string) []string { return []string{"report", filepath.Dir(f)} }, func(dir string) string { return filepath.Join(dir, rundir.FileScenario) }},
		{"report/SIGTERM", syscall.SIGTERM, func(f string) []string { return []string{"report", filepath.Dir(f)} }, func(dir string) string { return filepath.Join(dir, rundir.FileScenario) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fifo := tt.fifo(t.TempDir())
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(self, tt.args(fifo)...)
			cmd.Env = append(os.Environ(), mainEnv+"=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			// The FIFO takes a writer once gameday opens it for reading;
			// holding the writer open without writing keeps gameday
			// blocked in its read.
			w := awaitReader(t, fifo)
			defer w.Close()
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != exitAborted {
					t.Errorf("gameday %s after %v = %v; want exit code 3", tt.args(fifo)[0], tt.sig, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("gameday %s still runs 10s after %v", tt.args(fifo)[0], tt.sig)
			}
			if got := stderr.String(); !strings.Contains(got, "received: stopped") || strings.Contains(got, "again to force") {
				t.Errorf("stderr = %q; want \"received: stopped\" and no \"again to force\"", got)
			}
		})
	}
}

// awaitReader opens fifo for writing once a reader has it open.
func awaitReader(t *testing.T, fifo string) *os.File {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		fd, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			return os.NewFile(uintptr(fd), fifo)
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			t.Fatalf("open %s for writing: %v", fifo, err)
		}
		time.Sleep(10 * time.Millisecond) // polling for the reader, bounded by the deadline
	}
}
