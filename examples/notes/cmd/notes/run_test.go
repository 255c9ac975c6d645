package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	front := []string{"--mode=front", "--backends=http://127.0.0.1:8081"}
	tests := []struct {
		name    string
		args    []string
		wantErr string // a substring of the error; "" for none
	}{
		{"backend defaults", []string{"--mode=backend"}, ""},
		{"front", front, ""},
		{"front, every flag", append(front, "--listen=127.0.0.1:0", "--upstream-timeout=1s", "--eject-for=0", "--drain-timeout=0", "--log-level=debug"), ""},
		{"backend, every flag", []string{"--mode=backend", "--data=x.jsonl", "--listen=:9000", "--log-level=warn"}, ""},
		{"no mode", nil, `flag --mode "": want one of backend, front`},
		{"unknown mode", []string{"--mode=middle"}, `flag --mode "middle": want one of backend, front`},
		{"front without backends", []string{"--mode=front"}, "flag --backends is required with --mode front"},
		{"backend with a front flag", []string{"--mode=backend", "--eject-for=1s"}, "flag --eject-for applies to --mode front only"},
		{"front with a backend flag", append(front, "--data=x"), "flag --data applies to --mode backend only"},
		{"backend not a URL", []string{"--mode=front", "--backends=127.0.0.1:8081"}, `backend "127.0.0.1:8081": want an http:// or https:// URL`},
		{"backend with a path", []string{"--mode=front", "--backends=http://127.0.0.1:8081/v1"}, "want a base URL"},
		{"backend without a host", []string{"--mode=front", "--backends=http://"}, "want a host"},
		{"backend twice", []string{"--mode=front", "--backends=http://127.0.0.1:1,http://127.0.0.1:1"}, "listed twice"},
		{"empty item", []string{"--mode=front", "--backends=http://127.0.0.1:1,"}, `backend "": want an http://`},
		{"zero upstream timeout", append(front, "--upstream-timeout=0"), "flag --upstream-timeout 0s: want > 0"},
		{"negative eject-for", append(front, "--eject-for=-1s"), "flag --eject-for -1s: want >= 0"},
		{"negative drain timeout", []string{"--mode=backend", "--drain-timeout=-1s"}, "flag --drain-timeout -1s: want >= 0"},
		{"bad duration", []string{"--mode=backend", "--drain-timeout=10"}, `invalid value "10" for flag -drain-timeout`},
		{"bad log level", []string{"--mode=backend", "--log-level=loud"}, `invalid value "loud" for flag -log-level`},
		{"unknown flag", []string{"--mode=backend", "--port=1"}, "flag provided but not defined: -port"},
		{"argument", []string{"--mode=backend", "serve"}, `unexpected argument "serve"`},
		// Every problem at once.
		{"two problems", []string{"--mode=front", "--data=x", "--upstream-timeout=0"}, "flag --data applies to --mode backend only\nflag --backends is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.args)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("parse(%q) = %v; want no error", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("parse(%q) = %v; want an error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := parse([]string{"--mode=front", "--backends= http://127.0.0.1:8081/ ,https://b.example:8443"})
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:8080" || c.drainTimeout != 10*time.Second || c.logLevel != slog.LevelInfo ||
		c.upstreamTimeout != 2*time.Second || c.ejectFor != 2*time.Second || c.data != "" ||
		c.backends.String() != "http://127.0.0.1:8081,https://b.example:8443" {
		t.Errorf("parse(front) = %+v (backends %s); want the documented defaults", c, c.backends.String())
	}
}

// logLines decodes stderr as JSON lines, failing on any other output.
func logLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("stderr line %q is not JSON: %v", l, err)
		}
		lines = append(lines, rec)
	}
	return lines
}

func TestRunExitCodes(t *testing.T) {
	corrupt := filepath.Join(t.TempDir(), "notes.jsonl")
	if err := os.WriteFile(corrupt, []byte("{oops\n{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantLog  string // a substring of the last log line
	}{
		{"bad flag", []string{"--mode=middle"}, exitUsage, `"msg":"bad command line; notes -h lists the flags","err":"flag --mode \"middle\": want one of backend, front"`},
		{"corrupt data file", []string{"--mode=backend", "--data=" + corrupt, "--listen=127.0.0.1:0"}, exitError, `notes.jsonl:1: invalid character 'o'`},
		{"address in use", []string{"--mode=backend", "--listen=" + busy.Addr().String()}, exitError, "address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(t.Context(), tt.args, &stderr); code != tt.wantCode {
				t.Errorf("run(%q) = %d; want %d", tt.args, code, tt.wantCode)
			}
			lines := logLines(t, stderr.String())
			if last := strings.TrimSpace(stderr.String()); !strings.Contains(last[strings.LastIndex(last, "\n")+1:], tt.wantLog) {
				t.Errorf("run(%q) logged %s; want a last line containing %s", tt.args, stderr.String(), tt.wantLog)
			}
			if lvl := lines[len(lines)-1]["level"]; lvl != "ERROR" {
				t.Errorf("run(%q) last log level %v; want ERROR", tt.args, lvl)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"-h"}, &stderr); code != exitOK {
		t.Errorf("run(-h) = %d; want 0", code)
	}
	for _, want := range []string{"usage: notes --mode=MODE", "backend ", "front ", "-backends", "-data", "-drain-timeout", "-eject-for", "-listen", "-log-level", "-mode", "-upstream-timeout"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("run(-h) printed no %q:\n%s", want, stderr.String())
		}
	}
}

// TestRunServesUntilCancelled runs a backend in-process on a free port and
// stops it the way a signal does.
func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	stderr := &lockedBuffer{}
	done := make(chan int)
	go func() { done <- run(ctx, []string{"--mode=backend", "--listen=127.0.0.1:0"}, stderr) }()
	var addr string
	waitFor(t, "the listening log line", func() bool {
		for _, l := range strings.Split(stderr.String(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "listening" {
				addr = rec.Addr
			}
		}
		return addr != ""
	})
	if code, body, _ := send(t, "PUT", "http://"+addr+"/v1/notes/a", `{"text":"x"}`); code != 201 {
		t.Errorf("PUT = %d %s; want 201", code, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("run after cancel = %d; want 0\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("run still serving 10s after cancel")
	}
	lines := logLines(t, stderr.String())
	if last := lines[len(lines)-1]; last["msg"] != "stopped" || last["mode"] != "backend" {
		t.Errorf("last log line %v; want msg stopped, mode backend", last)
	}
}

// TestServeHTTPDrains checks the graceful stop: once ctx is done, new
// connections are refused while a request in flight finishes and is
// answered.
func TestServeHTTPDrains(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		w.Write([]byte("finished"))
	})
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- serveHTTP(ctx, ln, h, 10*time.Second, discardLog) }()

	answered := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		b := new(bytes.Buffer)
		b.ReadFrom(resp.Body)
		answered <- resp.Status + " " + b.String()
	}()
	<-entered
	cancel()
	waitFor(t, "new connections refused", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-served:
		t.Fatalf("serveHTTP returned %v with a request in flight", err)
	default:
	}
	close(release)
	if got := <-answered; got != "200 OK finished" {
		t.Errorf("request in flight got %q; want 200 OK finished", got)
	}
	if err := <-served; err != nil {
		t.Errorf("serveHTTP after a full drain = %v; want nil", err)
	}
}

func TestServeHTTPDrainTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-release:
		case <-r.Context().Done(): // the connection is cut
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- serveHTTP(ctx, ln, h, 50*time.Millisecond, discardLog) }()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	select {
	case err := <-served:
		if !errors.Is(err, errDrainTimeout) {
			t.Errorf("serveHTTP with a stuck request = %v; want errDrainTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("serveHTTP still draining 10s after a 50ms drain timeout")
	}
}
