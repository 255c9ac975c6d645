package externaltest

import (
	"strconv"
	"testing"
)

// StartToxiproxy starts the Toxiproxy server named by GAMEDAY_TOXIPROXY_SERVER
// on 127.0.0.1 and returns its API base URL, http://127.0.0.1:PORT, once
// GET /version answers. The server has no proxies; proxies the test creates
// may listen on 127.0.0.1:0 and report their port. It is stopped when the
// test ends.
//
// It skips the test when the variable is unset or names no file, and fails it
// instead under GAMEDAY_REQUIRE_SERVERS=1.
func StartToxiproxy(t testing.TB) string {
	t.Helper()
	return start(t, toxiproxyLaunch(binary(t, EnvToxiproxyServer)))
}

// toxiproxyLaunch runs the toxiproxy-server binary bin.
func toxiproxyLaunch(bin string) launch {
	return launch{
		name: "toxiproxy-server",
		bin:  bin,
		args: func(port int) []string {
			return []string{"-host", "127.0.0.1", "-port", strconv.Itoa(port)}
		},
		readyPath: "/version",
	}
}
