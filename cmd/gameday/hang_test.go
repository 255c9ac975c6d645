package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// hangingFront forwards to a real Toxiproxy API until hang is set; then it
// accepts every request and never answers while the test runs. It returns
// its URL and the switch.
func hangingFront(t *testing.T, real string) (string, *atomic.Bool) {
	t.Helper()
	u, err := url.Parse(real)
	if err != nil {
		t.Fatal(err)
	}
	var hang atomic.Bool
	stop := make(chan struct{})
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			<-stop
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	return srv.URL, &hang
}

// With a Toxiproxy that stops answering mid-run, SIGINT still ends gameday
// within the teardown deadline plus a second, with exit 3, naming what it
// could not revert and the command that removes it (acceptance 5 of the
// faults issue).
func TestSIGINTWithAHangingToxiproxyEndsInTime(t *testing.T) {
	l := newExternalLab(t)
	front, hang := hangingFront(t, l.toxiproxy)
	viaFront := *l
	viaFront.toxiproxy = front
	const teardown = 2 * time.Second

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(self, "run", viaFront.scenario(t, "60s", 0, 200*time.Millisecond), "--out", out, "--teardown-timeout", teardown.String())
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	awaitLine(t, lines, "fault slow injected")
	awaitLine(t, lines, "fault cut injected")
	hang.Store(true)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	took := time.Since(start)
	pw.Close()
	var said []string
	for l := range lines {
		said = append(said, l)
	}
	all := strings.Join(said, "\n")
	t.Logf("exit %d %s after SIGINT (teardown deadline %s); gameday said:\n%s", cmd.ProcessState.ExitCode(), took, teardown, all)
	if code := cmd.ProcessState.ExitCode(); code != exitAborted {
		t.Errorf("exit %d; want 3", code)
	}
	if took > teardown+time.Second {
		t.Errorf("gameday took %s to end after SIGINT; want at most the teardown deadline %s plus 1s", took, teardown)
	}
	for _, want := range []string{"could not undo", "gameday cleanup --toxiproxy " + front} {
		if !strings.Contains(all, want) {
			t.Errorf("gameday's output lacks %q", want)
		}
	}

	// Once the server answers again, the guard the run handed over to
	// removes what was left; cleanup then finds nothing.
	hang.Store(false)
	awaitGuardGone(t, runDir(t, out))
	l.awaitClean(t, 5*time.Second)
	if code, stdout, stderr := cli(t, context.Background(), "cleanup", "--toxiproxy", front); code != exitOK {
		t.Fatalf("cleanup = exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// A second SIGINT while the teardown waits on a Toxiproxy that hangs ends
// gameday at once with exit 3 (not 130); the run's guard undoes what was
// left once the server answers again.
func TestSecondSIGINTExits3AndTheGuardCleansUp(t *testing.T) {
	l := newExternalLab(t)
	front, hang := hangingFront(t, l.toxiproxy)
	viaFront := *l
	viaFront.toxiproxy = front
	out := t.TempDir()
	cmd, lines := startGameday(t, "run", viaFront.scenario(t, "60s", 0, 200*time.Millisecond), "--out", out)
	awaitLine(t, lines, "fault slow injected")
	awaitLine(t, lines, "fault cut injected")
	hang.Store(true)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the teardown is under way, stuck on the server: the point of the test
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	t.Logf("exit %d %s after the second SIGINT", cmd.ProcessState.ExitCode(), time.Since(start))
	if code := cmd.ProcessState.ExitCode(); code != exitAborted {
		t.Errorf("exit %d after a second SIGINT; want 3", code)
	}
	hang.Store(false)
	l.awaitClean(t, 15*time.Second) // the guard's calls to the hung server time out first
	awaitGuardGone(t, runDir(t, out))
}
