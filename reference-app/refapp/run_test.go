package refapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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
		{"--role=api --store=http://127.0.0.1:1 --jwt-secret-file=SECRET --listen=256.0.0.1:80", exitError}, // cannot listen
		{"--role=api --store=http://127.0.0.1:1 --jwt-secret-file=/nonexistent", exitUsage},
		{"--role=api --jwt-secret-file=SECRET", exitUsage},                                                          // no --store nor --sentinel
		{"--role=api --store=http://127.0.0.1:1 --sentinel=http://127.0.0.1:2 --jwt-secret-file=SECRET", exitUsage}, // both
		{"--role=api --store=127.0.0.1:1 --jwt-secret-file=SECRET", exitUsage},                                      // not a URL
		{"--role=api --store=http://127.0.0.1:1 --cache=ftp://x --jwt-secret-file=SECRET", exitUsage},
		{"--role=api --store=http://127.0.0.1:1 --jwt-secret-file=SHORT", exitUsage},
		{"--role=api --store=http://127.0.0.1:1 --jwt-secret-file=SECRET --token-ttl=0s", exitUsage},
		{"--role=api --store=http://127.0.0.1:1 --jwt-secret-file=SECRET --nats=bad://", exitUsage},
		{"--role=gateway --upstreams=http://127.0.0.1:1 --health-interval=0s", exitError},
		{"--role=queue", exitUsage}, // --data-dir is required
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
		{"--role=gateway --upstreams=http://127.0.0.1:1 --tls-listen=127.0.0.1:0", exitUsage},                                               // no certificate
		{"--role=gateway --upstreams=http://127.0.0.1:1 --tls-cert=a.crt --tls-key=a.key", exitUsage},                                       // no --tls-listen
		{"--role=gateway --upstreams=http://127.0.0.1:1 --tls-listen=127.0.0.1:0 --tls-cert=SECRET --tls-key=SECRET", exitError},            // not PEM
		{"--role=autoscaler --upstreams-file=/tmp/u.json", exitUsage},                                                                       // --gateway is required
		{"--role=autoscaler --gateway=http://127.0.0.1:1", exitUsage},                                                                       // --upstreams-file is required
		{"--role=autoscaler --gateway=http://127.0.0.1:1 --upstreams-file=/tmp/u.json --min-replicas=3 --max-replicas=2", exitUsage},        // min above max
		{"--role=autoscaler --gateway=http://127.0.0.1:1 --upstreams-file=/tmp/u.json --static-upstreams=api-1", exitUsage},                 // not name=URL
		{"--role=autoscaler --gateway=http://127.0.0.1:1 --upstreams-file=/tmp/u.json --static-upstreams=a=http://x,b=http://y", exitUsage}, // min below the static
		{"--role=api --replica-arg=--x", exitUsage},
		{"--role=global --passive-store=http://127.0.0.1:1 --follow-url=http://127.0.0.1:2", exitUsage},                                 // --regions is required
		{"--role=global --regions=a=http://127.0.0.1:1 --passive-store=http://127.0.0.1:1 --follow-url=http://127.0.0.1:2", exitUsage},  // one region
		{"--role=global --regions=a=http://127.0.0.1:1,b=http://127.0.0.1:2 --follow-url=http://127.0.0.1:2", exitUsage},                // no passive store
		{"--role=global --regions=a=http://127.0.0.1:1,a=http://127.0.0.1:2 --passive-store=http://x --follow-url=http://y", exitUsage}, // a region twice                                                                                         // an autoscaler flag
		{"-h", exitOK},
	}
	dir := t.TempDir()
	secret, short := filepath.Join(dir, "secret"), filepath.Join(dir, "short")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte(strings.Repeat("s", 31)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(JWTSecretEnv, "")
	os.Unsetenv(JWTSecretEnv) // t.Setenv restores it after the test
	for _, tt := range tests {
		var stderr bytes.Buffer
		args := strings.ReplaceAll(strings.ReplaceAll(tt.args, "=SECRET", "="+secret), "=SHORT", "="+short)
		if got := Run(context.Background(), strings.Fields(args), &stderr); got != tt.want {
			t.Errorf("Run(%q) = %d; want %d (stderr: %s)", tt.args, got, tt.want, stderr.String())
		}
		if tt.want == exitOK {
			continue // usage text
		}
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("Run(%q) wrote a non-JSON stderr line %q", tt.args, line)
			}
		}
	}
}

func TestJWTSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	fromFile := strings.Repeat("f", 40)
	if err := os.WriteFile(file, []byte("  "+fromFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromEnv := strings.Repeat("e", 32)
	t.Setenv(JWTSecretEnv, fromEnv)
	if got, err := jwtSecret(""); err != nil || string(got) != fromEnv {
		t.Errorf("jwtSecret(\"\") with %s set = %q, %v; want the variable's value", JWTSecretEnv, got, err)
	}
	if got, err := jwtSecret(file); err != nil || string(got) != fromFile {
		t.Errorf("jwtSecret(file) = %q, %v; want the file's content trimmed", got, err)
	}
	t.Setenv(JWTSecretEnv, "too short")
	_, err := jwtSecret("")
	var fe flagError
	if !errors.As(err, &fe) || strings.Contains(err.Error(), "too short") {
		t.Errorf("jwtSecret with a short secret = %v; want a flag error that does not show the secret", err)
	}
	os.Unsetenv(JWTSecretEnv)
	if _, err := jwtSecret(""); !errors.As(err, &fe) || !strings.Contains(err.Error(), JWTSecretEnv) {
		t.Errorf("jwtSecret without file or variable = %v; want a flag error naming %s", err, JWTSecretEnv)
	}
}
