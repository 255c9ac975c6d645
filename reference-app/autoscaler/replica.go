package autoscaler

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// replica is one api process the autoscaler started.
type replica struct {
	name   string
	url    string // http://ADDR, once it listens
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited and been reaped
}

// startReplica starts command with args plus --listen on a free loopback
// port and --instance=name, forwards its stderr to out, and returns once
// the process has logged the address it listens on.
func startReplica(ctx context.Context, command string, args []string, name string, out io.Writer, outMu *sync.Mutex) (*replica, error) {
	cmd := exec.Command(command, append(append([]string(nil), args...), "--listen=127.0.0.1:0", "--instance="+name)...)
	setParentDeathSignal(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start replica %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start replica %s: %w", name, err)
	}
	r := &replica{name: name, cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var l struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &l) == nil && l.Msg == "listening" && l.Addr != "" {
				select {
				case addr <- l.Addr:
				default:
				}
			}
			outMu.Lock()
			_, _ = out.Write(append(line, '\n')) // the replica's log: a lost line is not worth failing for
			outMu.Unlock()
		}
		_ = cmd.Wait() // its exit is seen through exited
		close(r.exited)
	}()
	select {
	case a := <-addr:
		r.url = "http://" + a
		return r, nil
	case <-r.exited:
		return nil, fmt.Errorf("start replica %s: exited before listening (%v)", name, cmd.ProcessState)
	case <-ctx.Done():
		r.kill()
		return nil, fmt.Errorf("start replica %s: %w", name, context.Cause(ctx))
	}
}

// awaitReady polls the replica's /readyz until it answers 200.
func (r *replica) awaitReady(ctx context.Context, client *http.Client) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("replica %s ready: %w", r.name, err)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %s ready: %w", r.name, context.Cause(ctx))
		case <-r.exited:
			return fmt.Errorf("replica %s ready: exited", r.name)
		case <-tick.C:
		}
	}
}

// alive reports whether the process still runs.
func (r *replica) alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, so that the replica drains, and waits for it to exit;
// after timeout it kills it.
func (r *replica) stop(timeout time.Duration) error {
	if !r.alive() {
		return nil
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			<-r.exited
			return nil
		}
		r.kill()
		return fmt.Errorf("stop replica %s: %w", r.name, err)
	}
	select {
	case <-r.exited:
		return nil
	case <-time.After(timeout):
		r.kill()
		return fmt.Errorf("stop replica %s: still running %v after SIGTERM: killed", r.name, timeout)
	}
}

// kill kills the process and waits until it is reaped.
func (r *replica) kill() {
	_ = r.cmd.Process.Kill() // it may have exited already
	<-r.exited
}
