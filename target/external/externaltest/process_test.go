package externaltest

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestServersPortTaken starts each server on a port another server holds and
// answers 200 on: the server must be found not ready, for the port's sake,
// rather than ready because someone answered.
func TestServersPortTaken(t *testing.T) {
	dir := t.TempDir()
	config, err := prometheusConfig(time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, config, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		l    func(t testing.TB) launch
	}{
		// Toxiproxy logs its bind error and keeps running
		{"toxiproxy", func(t testing.TB) launch { return toxiproxyLaunch(binary(t, EnvToxiproxyServer)) }},
		// Prometheus exits
		{"prometheus", func(t testing.TB) launch { return prometheusLaunch(binary(t, EnvPrometheus), configPath, dir) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.l(t)
			squatter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			defer squatter.Close()
			port := squatter.Listener.Addr().(*net.TCPAddr).Port
			s, err := spawn(l, port, filepath.Join(t.TempDir(), "out.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.stop(); err != nil {
					t.Error(err)
				}
			}()
			if err := s.waitReady(port, squatter.URL+l.readyPath); !errors.Is(err, errPortTaken) {
				t.Errorf("waitReady on a taken port = %v; want %v\n%s", err, errPortTaken, s.output())
			}
		})
	}
}
