package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// httpHelperArg makes the test binary a child HTTP server: it listens on a
// free loopback port, prints its address on stdout, and answers "ok" until
// its stdin closes (the test ended).
const httpHelperArg = "chaos-process-http-child"

// serveHTTPChild is the child of httpHelperArg; it returns the exit code.
func serveHTTPChild() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}))
	}()
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// startHTTPChild starts an HTTP server child that dies with the test, and
// returns its PID and base URL.
func startHTTPChild(t *testing.T) (int, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	cmd := exec.Command(exe, httpHelperArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the HTTP child: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // a stopped process dies of SIGKILL too
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read the HTTP child's address: %v", err)
	}
	return cmd.Process.Pid, "http://" + strings.TrimSpace(addr)
}

// oneProcess is a Supervisor of one process that is never restarted: enough
// for a pause, which Recover ends with SIGCONT.
type oneProcess struct{ proc Proc }

var _ Supervisor = oneProcess{}

func (s oneProcess) Select(selector map[string]string) []Proc {
	for k, v := range selector {
		if s.proc.Labels[k] != v {
			return nil
		}
	}
	return []Proc{s.proc}
}

func (s oneProcess) AwaitRestart(context.Context, string, int) (time.Time, error) {
	return time.Time{}, errors.New("oneProcess never restarts a process")
}

// ask sends one GET to url on a fresh connection within timeout.
func ask(url string, timeout time.Duration) error {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && (resp.StatusCode != http.StatusOK || string(body) != "ok") {
		err = fmt.Errorf("GET %s = %d %q; want 200 \"ok\"", url, resp.StatusCode, body)
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A pause (SIGSTOP) really freezes a real HTTP server for its duration:
// requests with a short timeout get no response during it; a request sent
// during it is answered only after Recover (SIGCONT); responses come again
// after. The figures are printed with -v.
func TestEffectPauseFreezesTheProcess(t *testing.T) {
	const (
		pause = time.Second
		short = 100 * time.Millisecond // timeout of the requests during the pause
	)
	pid, url := startHTTPChild(t)
	if err := ask(url, 5*time.Second); err != nil {
		t.Fatalf("before the pause: %v; want an answer", err)
	}
	sup := oneProcess{Proc{PID: pid, Labels: map[string]string{"instance": "web"}}}
	f := New("freeze-web", sup, Spec{Selector: map[string]string{"instance": "web"}, Signal: syscall.SIGSTOP})
	recs, err := f.Inject(t.Context())
	if err != nil || len(recs) != 1 {
		t.Fatalf("Inject() = %+v, %v; want one record", recs, err)
	}
	t.Cleanup(func() { _, _ = f.Recover(context.Background()) }) // SIGCONT if the test stops early
	injected := recs[0].InjectedAt

	// The kernel delivers SIGSTOP asynchronously: wait until the child is stopped.
	deadline := time.Now().Add(5 * time.Second)
	for procState(t, pid) != 'T' {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d is in state %q 5s after SIGSTOP; want T (stopped)", pid, procState(t, pid))
		}
		time.Sleep(time.Millisecond)
	}
	stopped := time.Now()

	// A request sent now, with a long timeout, is held until the resume.
	type answer struct {
		at  time.Time
		err error
	}
	held := make(chan answer, 1)
	go func() {
		err := ask(url, 10*time.Second)
		held <- answer{time.Now(), err}
	}()

	// Requests with a short timeout (the last one cut to the pause's end)
	// for the rest of the pause: none is answered.
	var tries, answered int
	for left := pause - time.Since(injected); left > 0; left = pause - time.Since(injected) {
		err := ask(url, min(short, left))
		tries++
		switch {
		case err == nil:
			answered++
		case !isTimeout(err):
			t.Errorf("GET during the pause = %v; want a timeout (the process holds the connection)", err)
		}
	}

	beforeRecover := time.Now()
	recs, err = f.Recover(t.Context())
	if err != nil || len(recs) != 1 {
		t.Fatalf("Recover() = %+v, %v; want one closed record", recs, err)
	}
	recovered := recs[0].RecoveredAt
	afterStart := time.Now()
	afterErr := ask(url, 5*time.Second)
	afterTook := time.Since(afterStart)
	h := <-held

	t.Logf("SIGSTOP for %v (inject → recover: %v); stopped (state T) %v after inject; "+
		"%d requests with a %v timeout during the pause, %d answered; "+
		"a request sent when it stopped was answered %v later (%v after SIGCONT): observed pause %v; "+
		"after recover a fresh request was answered in %v",
		pause, recovered.Sub(injected).Round(time.Millisecond), stopped.Sub(injected).Round(time.Microsecond),
		tries, short, answered,
		h.at.Sub(stopped).Round(time.Millisecond), h.at.Sub(recovered).Round(time.Microsecond), h.at.Sub(injected).Round(time.Millisecond),
		afterTook.Round(time.Microsecond))

	if answered > 0 || tries < 3 {
		t.Errorf("during the pause %d of %d requests were answered; want none of at least 3", answered, tries)
	}
	if h.err != nil {
		t.Errorf("the request sent during the pause = %v; want an answer after the resume", h.err)
	} else if h.at.Before(beforeRecover) {
		t.Errorf("the request sent during the pause was answered %v before Recover; want only after it", beforeRecover.Sub(h.at))
	}
	if afterErr != nil {
		t.Errorf("after Recover: %v; want an answer", afterErr)
	}
	if st := procState(t, pid); st == 'T' || st == 0 {
		t.Errorf("pid %d after Recover is in state %q; want running", pid, st)
	}
}
