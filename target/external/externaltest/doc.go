// Package externaltest starts the real Toxiproxy and Prometheus servers on
// loopback for tests that play against a running system, as the external
// target does with the user's own servers.
//
// The binaries are not built by the tests: `make tools` installs them outside
// the repository, and the environment variables below say where they are.
// `make test-servers` sets them and runs every test with `Servers` in its
// name; a plain `go test ./...` skips those tests when the variables are unset.
//
// Every server is a child process of the test binary: on 127.0.0.1 only, on a
// port free when it started, with its output in a file under t.TempDir() that
// is printed when the test fails, stopped when the test ends, and killed by
// the kernel if the test binary dies first.
package externaltest

import (
	"fmt"
	"os"
	"testing"
)

// Environment variables read by the Start functions.
const (
	// EnvToxiproxyServer names the toxiproxy-server binary (v2.12.0) that
	// StartToxiproxy runs.
	EnvToxiproxyServer = "GAMEDAY_TOXIPROXY_SERVER"
	// EnvPrometheus names the prometheus binary (2.x) that StartPrometheus runs.
	EnvPrometheus = "GAMEDAY_PROMETHEUS"
	// EnvRequireServers, set to 1, turns a missing binary from a skipped test
	// into a failed one, so that CI cannot pass by skipping.
	EnvRequireServers = "GAMEDAY_REQUIRE_SERVERS"
)

// binary returns the path held by the environment variable env, or skips the
// test when it is unset or names no file (fails it under EnvRequireServers=1).
func binary(t testing.TB, env string) string {
	t.Helper()
	path := os.Getenv(env)
	var problem string
	if path == "" {
		problem = env + " is not set"
	} else if _, err := os.Stat(path); err != nil { //nolint:gosec // G703: the path of a test server the developer names
		problem = fmt.Sprintf("%s: %v", env, err)
	}
	if problem == "" {
		return path
	}
	msg := fmt.Sprintf("%s: run `make tools`, then set %s to the binary it installed (`make test-servers` does both)", problem, env)
	if os.Getenv(EnvRequireServers) == "1" {
		t.Fatal(msg + " [" + EnvRequireServers + "=1]")
	}
	t.Skip(msg)
	return ""
}
