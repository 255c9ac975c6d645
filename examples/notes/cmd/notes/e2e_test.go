package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for one writer and many readers.
type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// proc is a notes child process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	addr   string // where it listens
	stderr lockedBuffer
	done   chan struct{} // closed once the process has exited
	err    error         // cmd.Wait's result, set before done closes
}

// startProc starts bin with args plus --listen=127.0.0.1:0 and returns once
// its "listening" log line names the address. The process dies with the
// test: its own process group, a parent-death signal, and a cleanup that
// SIGKILLs the group.
func startProc(t *testing.T, bin, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append(args, "--listen=127.0.0.1:0")...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	addrs := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.stderr.Write([]byte(sc.Text() + "\n"))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addrs <- rec.Addr
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-copied // Wait closes the pipe: read it all first
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, p.stderr.String())
		}
	})
	select {
	case p.addr = <-addrs:
	case <-p.done:
		t.Fatalf("%s exited before listening: %v\n%s", name, p.err, p.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not log its address within 10s\n%s", name, p.stderr.String())
	}
	return p
}

// stop sends sig and returns the exit error, failing after 10 s.
func (p *proc) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", p.name, err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10s after %v", p.name, sig)
		return nil
	}
}

// metricLine returns the value of series in the /metrics text of addr, or
// "absent".
func metricLine(t *testing.T, addr, series string) string {
	t.Helper()
	_, body, _ := send(t, "GET", "http://"+addr+"/metrics", "")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return "absent"
	}
	return m[1]
}

// TestEndToEnd builds the notes binary and plays it as child processes on
// free loopback ports.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts processes")
	}
	bin := filepath.Join(t.TempDir(), "notes")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// One front, two backends; one backend is SIGKILLed, and every request
	// of the burst after that still succeeds.
	t.Run("front survives a SIGKILLed backend", func(t *testing.T) {
		b1 := startProc(t, bin, "backend-1", "--mode=backend")
		b2 := startProc(t, bin, "backend-2", "--mode=backend")
		url1, url2 := "http://"+b1.addr, "http://"+b2.addr
		// A long ejection: the checks below do not race its end.
		front := startProc(t, bin, "front", "--mode=front", "--backends="+url1+","+url2, "--eject-for=1m")
		base := "http://" + front.addr

		answeredBy := map[string]int{}
		for range 4 {
			code, body, h := send(t, "GET", base+"/v1/notes", "")
			if code != 200 {
				t.Fatalf("GET /v1/notes before the kill = %d %s; want 200", code, body)
			}
			answeredBy[h.Get(upstreamHeader)]++
		}
		if answeredBy[url1] != 2 || answeredBy[url2] != 2 {
			t.Fatalf("4 GETs before the kill answered by %v; want 2 each by %s and %s", answeredBy, url1, url2)
		}

		if err := b1.stop(t, syscall.SIGKILL); err == nil {
			t.Fatalf("backend-1 exited cleanly after SIGKILL; want killed")
		}

		// The burst: 4 clients, each writing and reading back 10 notes.
		var wg sync.WaitGroup
		var mu sync.Mutex // guards failures
		var failures []string
		for w := range 4 {
			wg.Go(func() {
				for i := range 10 {
					path := fmt.Sprintf("/v1/notes/burst-%d-%d", w, i)
					text := fmt.Sprintf("note %d of client %d", i, w)
					put, _, ph := sendNoFatal("PUT", base+path, `{"text":"`+text+`"}`)
					get, body, gh := sendNoFatal("GET", base+path, "")
					if put.code != 201 || get.code != 200 || !strings.Contains(body, text) || ph != url2 || gh != url2 {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("PUT %s = %s from %q, GET = %s %q from %q", path, put, ph, get, body, gh))
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		for _, f := range failures {
			t.Errorf("after the kill: %s; want 201, then 200 with the text, both from %s", f, url2)
		}
		if got := metricLine(t, front.addr, "notes_front_retries_total"); got == "absent" || got == "0" {
			t.Errorf("notes_front_retries_total = %s; want >= 1", got)
		}
		if got := metricLine(t, front.addr, `notes_front_upstream_up{backend="`+url1+`"}`); got != "0" {
			t.Errorf("notes_front_upstream_up of the killed backend = %s; want 0", got)
		}
		if got := metricLine(t, front.addr, `notes_front_requests_total{code="201"}`); got != "40" {
			t.Errorf(`notes_front_requests_total{code="201"} = %s; want 40`, got)
		}
		if code, body, _ := send(t, "GET", base+"/healthz", ""); code != 200 {
			t.Errorf("front GET /healthz with one backend left = %d %s; want 200", code, body)
		}
	})

	// What a backend acknowledged with --data is there after a SIGKILL and
	// a restart.
	t.Run("notes survive a SIGKILL with --data", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "notes.jsonl")
		b := startProc(t, bin, "backend", "--mode=backend", "--data="+data)
		for i, id := range []string{"a", "b", "a"} {
			if code, body, _ := send(t, "PUT", "http://"+b.addr+"/v1/notes/"+id, `{"text":"v`+strconv.Itoa(i)+`"}`); code/100 != 2 {
				t.Fatalf("PUT %s = %d %s; want 2xx", id, code, body)
			}
		}
		b.stop(t, syscall.SIGKILL)

		b = startProc(t, bin, "backend restarted", "--mode=backend", "--data="+data)
		if code, body, _ := send(t, "GET", "http://"+b.addr+"/v1/notes", ""); code != 200 ||
			!regexp.MustCompile(`^\{"notes":\[\{"id":"a","text":"v2",.*\},\{"id":"b","text":"v1",.*\}\]\}$`).MatchString(strings.TrimSpace(body)) {
			t.Errorf("after restart GET /v1/notes = %d %s; want a (v2) then b (v1)", code, body)
		}
		if !strings.Contains(b.stderr.String(), `"msg":"notes loaded","mode":"backend","storage":"file","file":"`+data+`","notes":2`) {
			t.Errorf("restarted backend logged %s; want notes loaded with 2 notes", b.stderr.String())
		}
	})

	// SIGTERM: both modes stop, exit 0, and write nothing but JSON logs.
	t.Run("SIGTERM stops cleanly", func(t *testing.T) {
		b := startProc(t, bin, "backend", "--mode=backend")
		f := startProc(t, bin, "front", "--mode=front", "--backends=http://"+b.addr)
		if code, _, _ := send(t, "PUT", "http://"+f.addr+"/v1/notes/x", `{"text":"x"}`); code != 201 {
			t.Fatalf("PUT through the front = %d; want 201", code)
		}
		for _, p := range []*proc{f, b} {
			if err := p.stop(t, syscall.SIGTERM); err != nil {
				t.Errorf("%s after SIGTERM exited with %v; want 0", p.name, err)
			}
			lines := logLines(t, p.stderr.String())
			if last := lines[len(lines)-1]; last["msg"] != "stopped" {
				t.Errorf("%s last log line %v; want stopped", p.name, last)
			}
		}
	})

	t.Run("bad flags exit 2", func(t *testing.T) {
		cmd := exec.Command(bin, "--mode=front")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
			t.Errorf("notes --mode=front exited with %v; want exit status 2", err)
		}
		if !strings.Contains(stderr.String(), "flag --backends is required with --mode front") {
			t.Errorf("notes --mode=front wrote %q; want it to name the missing flag", stderr.String())
		}
	})
}

// result is a status code for messages.
type result struct {
	code int
	err  error
}

func (r result) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return strconv.Itoa(r.code)
}

// sendNoFatal is send for goroutines: it returns the error instead of
// failing, and the upstreamHeader of the answer.
func sendNoFatal(method, url, body string) (result, string, string) {
	req, err := newRequest(method, url, body)
	if err != nil {
		return result{err: err}, "", ""
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{err: err}, "", ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{code: resp.StatusCode, err: err}, string(b), resp.Header.Get(upstreamHeader)
}
