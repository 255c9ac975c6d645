package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		args    string
		wantErr string // substring; "" for success
		check   func(config) bool
	}{
		{"--role=api --listen=127.0.0.1:1 --instance=api-1", "", func(c config) bool {
			return c.role == "api" && c.listen == "127.0.0.1:1" && c.instance == "api-1"
		}},
		{"--role=api", "", func(c config) bool { return c.instance == "api" }}, // instance defaults to the role
		{"--role=gateway --upstreams=http://127.0.0.1:1 --upstream-names=api-1 --health-interval=1s --upstream-timeout=3s --unhealthy-threshold=3", "", func(c config) bool {
			return c.role == "gateway" && c.setup != nil
		}},
		{"--role=cache --capacity=5 --default-ttl=1s --max-ttl=1m --max-value-bytes=10", "", func(c config) bool { return c.role == "cache" }},
		{"--role=queue --nats-listen=127.0.0.1:0 --data-dir=/tmp/q", "", func(c config) bool { return c.role == "queue" }},
		{"--role=worker --nats=nats://127.0.0.1:1 --push-url=http://127.0.0.1:2 --data-dir=/tmp/w --ack-wait=1s --push-timeout=100ms", "", func(c config) bool {
			return c.role == "worker"
		}},
		{"--role=pushmock", "", func(c config) bool { return c.role == "pushmock" }},
		{"--role=cache --data-dir=/tmp/x", "-data-dir", nil},        // a queue/worker flag
		{"--role=queue --capacity=1", "-capacity", nil},             // a cache flag
		{"--role=pushmock --nats=nats://127.0.0.1:1", "-nats", nil}, // a worker flag
		{"--role=worker --nats-listen=127.0.0.1:0", "-nats-listen", nil},
		{"--role=gateway --upstreams=http://127.0.0.1:1 --balance=round-robin --eject-consecutive-failures=5 --eject-base=1s --eject-max=10s --retry-budget=0.1 --retry-min-per-second=3 --rate-limit=50 --rate-burst=60", "", func(c config) bool {
			return c.setup != nil
		}},
		{"--role=gateway --upstreams=http://127.0.0.1:1 --balance=random", "balance", nil},
		{"--role=api --rate-limit=5", "-rate-limit", nil}, // a gateway flag
		{"", "--role", nil},
		{"--role=nope", "--role", nil},
		{"--role=nope --upstreams=x", "want one of", nil},
		{"--role=api --upstreams=http://127.0.0.1:1", "-upstreams", nil}, // a gateway flag
		{"--role=api --health-interval=1s", "-health-interval", nil},
		{"--role=api extra", "unexpected argument", nil},
		{"--role=api --drain-timeout=soon", "drain-timeout", nil},
		{"--role=api --drain-timeout=-1s", "drain-timeout", nil},
		{"--role=api --drain-delay=-1s", "drain-delay", nil},
		{"--role=api --drain-delay=3s", "", func(c config) bool { return c.drainDelay == 3*time.Second }},
		{"--role=api --log-level=loud", "log-level", nil},
		{"--role=api --nope", "nope", nil},
	}
	for _, tt := range tests {
		c, err := parse(strings.Fields(tt.args))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("parse(%q) error = %v; want nil", tt.args, err)
		case tt.wantErr == "" && !tt.check(c):
			t.Errorf("parse(%q) = %+v; want the flags' values", tt.args, c)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parse(%q) error = %v; want one mentioning %q", tt.args, err, tt.wantErr)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		args string
		want int
	}{
		{"--role=nope", exitUsage},
		{"--role=gateway", exitUsage},                         // --upstreams is required
		{"--role=gateway --upstreams=127.0.0.1:1", exitError}, // not a URL with a scheme
		{"--role=api --listen=256.0.0.1:80", exitError},       // cannot listen
		{"--role=gateway --upstreams=http://127.0.0.1:1 --health-interval=0s", exitError},
		{"--role=queue", exitUsage},                                                                             // --data-dir is required
		{"--role=worker --push-url=http://127.0.0.1:1 --data-dir=" + t.TempDir(), exitUsage},                    // --nats is required
		{"--role=worker --nats=nats://127.0.0.1:1 --data-dir=" + t.TempDir(), exitUsage},                        // --push-url is required
		{"--role=worker --nats=nats://127.0.0.1:1 --push-url=http://127.0.0.1:1", exitUsage},                    // --data-dir is required
		{"--role=worker --nats=127.0.0.1:1 --push-url=http://127.0.0.1:1 --data-dir=" + t.TempDir(), exitError}, // not a nats:// URL
		{"--role=worker --nats=nats://127.0.0.1:1 --push-url=http://127.0.0.1:1 --ack-wait=1s --push-timeout=1s --data-dir=" + t.TempDir(), exitError},
		{"--role=cache --capacity=0", exitError},
		{"--role=cache --default-ttl=2h --max-ttl=1h", exitError},
		{"--role=queue --nats-listen=nohost --data-dir=" + t.TempDir(), exitError},
		{"--role=gateway --upstreams=http://127.0.0.1:1 --balance=random", exitUsage},
		{"--role=gateway --upstreams=http://127.0.0.1:1 --retry-budget=2", exitError},
		{"--role=gateway --upstreams=http://127.0.0.1:1 --rate-limit=10 --rate-burst=0", exitError},
		{"--role=gateway --upstreams=http://127.0.0.1:1 --eject-base=10s --eject-max=1s", exitError},
		{"-h", exitOK},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		if got := run(context.Background(), strings.Fields(tt.args), &stderr); got != tt.want {
			t.Errorf("run(%q) = %d; want %d (stderr: %s)", tt.args, got, tt.want, stderr.String())
		}
		if tt.want == exitOK {
			continue // usage text
		}
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("run(%q) wrote a non-JSON stderr line %q", tt.args, line)
			}
		}
	}
}
