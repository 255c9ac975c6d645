package externaltest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// startAttempts bounds the retries when another process takes the port
	// picked for a server between the pick and the server's bind.
	startAttempts = 5
	// readyTimeout bounds the wait for one attempt to answer its ready probe.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a server has to exit after SIGTERM before SIGKILL.
	stopGrace = 10 * time.Second
	// pollInterval paces the ready probe.
	pollInterval = 20 * time.Millisecond
)

// errPortTaken says the server could not bind the port picked for it.
var errPortTaken = errors.New("port taken by another process")

// launch says how to run one server and how to tell it is ready.
type launch struct {
	name      string                  // file-name friendly, for logs and messages
	bin       string                  // the binary
	args      func(port int) []string // its arguments to serve on 127.0.0.1:port
	readyPath string                  // answers 200 once the server serves
}

// server is one running server process.
type server struct {
	name    string
	cmd     *exec.Cmd
	logPath string        // the process's stdout and stderr
	exited  chan struct{} // closed once cmd.Wait has returned
	waitErr error         // cmd.Wait's result, set before exited closes
}

// start runs l on a free loopback port and returns its base URL
// (http://127.0.0.1:PORT) once it is ready; it retries on another port when
// the port was taken. Every attempt is stopped in t.Cleanup, and its log is
// printed there if the test failed.
func start(t testing.TB, l launch) string {
	t.Helper()
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("%s: pick a port: %v", l.name, err)
		}
		logPath := filepath.Join(dir, fmt.Sprintf("%s-%d.log", l.name, attempt))
		s, err := spawn(l, port, logPath)
		if err != nil {
			t.Fatalf("%s: %v", l.name, err)
		}
		t.Cleanup(func() {
			if err := s.stop(); err != nil {
				t.Logf("%s: %v", s.name, err)
			}
			if t.Failed() {
				t.Logf("%s output (%s):\n%s", s.name, s.logPath, s.output())
			}
		})
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		err = s.waitReady(port, base+l.readyPath)
		if err == nil {
			return base
		}
		if errors.Is(err, errPortTaken) && attempt < startAttempts {
			t.Logf("%s: port %d: %v; retrying on another port", l.name, port, err)
			if err := s.stop(); err != nil {
				t.Logf("%s: %v", l.name, err)
			}
			continue
		}
		t.Fatalf("%s on port %d (attempt %d): %v", l.name, port, attempt, err)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// spawn starts l's binary for port with its output going to logPath. The
// child has its own process group and gets SIGKILL when the OS thread that
// started it dies, so a test binary that dies takes its servers along. (Go
// ends a thread only when a goroutine that locked it returns still locked;
// this package locks none.)
func spawn(l launch, port int, logPath string) (*server, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	defer func() { _ = logFile.Close() }() // the child holds its own descriptor
	cmd := exec.Command(l.bin, l.args(port)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", l.bin, err)
	}
	s := &server{name: l.name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// waitReady polls until the server owns a listener on port and readyURL
// answers 200. It returns errPortTaken when the server reports the port in
// use, and an error when it exits or readyTimeout passes first.
//
// Both conditions matter: on a clash another process answers on the port,
// and Toxiproxy logs its bind error but keeps running.
func (s *server) waitReady(port int, readyURL string) error {
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-s.exited:
			if s.reportsPortTaken() {
				return errPortTaken
			}
			return fmt.Errorf("exited before it was ready: %v", s.waitErr)
		default:
		}
		if s.reportsPortTaken() {
			return errPortTaken
		}
		owns, err := listens(s.cmd.Process.Pid, port)
		if err != nil {
			return err
		}
		if owns && answers(client, readyURL) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %v", readyURL, readyTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// answers reports whether GET url answers 200.
func answers(client *http.Client, url string) bool {
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// reportsPortTaken reports whether the server's output holds a bind failure.
func (s *server) reportsPortTaken() bool {
	return strings.Contains(s.output(), "address already in use")
}

// output returns what the server has written so far.
func (s *server) output() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", s.logPath, err)
	}
	return string(b)
}

// stop sends SIGTERM to the server's PID and waits for it to exit; after
// stopGrace it sends SIGKILL to its process group and says so. Stopping a
// stopped server does nothing.
func (s *server) stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	pid := s.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGTERM pid %d: %w", pid, err)
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopGrace):
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGKILL process group %d: %w", pid, err)
	}
	<-s.exited
	return fmt.Errorf("pid %d still ran %v after SIGTERM: killed", pid, stopGrace)
}

// listens reports whether process pid holds a TCP socket listening on port,
// on any IPv4 or IPv6 address, as /proc tells.
func listens(pid, port int) (bool, error) {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil // exited: the caller sees it next
		}
		return false, fmt.Errorf("list sockets: %w", err)
	}
	sockets := map[string]bool{} // inode numbers
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); err == nil && ok {
			sockets[strings.TrimSuffix(inode, "]")] = true
		}
	}
	suffix := fmt.Sprintf(":%04X", port) // the port as /proc writes it
	for _, table := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read sockets: %w", err)
		}
		// Lines: sl local_address rem_address st ... inode; st 0A is LISTEN.
		for line := range strings.Lines(string(data)) {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && strings.HasSuffix(f[1], suffix) && sockets[f[9]] {
				return true, nil
			}
		}
	}
	return false, nil
}
