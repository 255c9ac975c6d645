// Package apitest provides in-process fakes of the api's dependencies that
// speak their wire contracts (ARCHITECTURE.md) over HTTP on 127.0.0.1: a
// store, a sentinel and a cache. Each can be stopped (connections are then
// refused, as from a dead process) and started again on the same address.
// They are for tests, of the api package and of the refapp binary.
package apitest

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// server is an httptest server that can stop and start again on its
// address.
type server struct {
	t    testing.TB
	h    http.Handler
	addr string

	mu  sync.Mutex // guards srv
	srv *httptest.Server
}

func newServer(t testing.TB, h http.Handler) *server {
	t.Helper()
	s := &server{t: t, h: h, srv: httptest.NewServer(h)}
	s.addr = s.srv.Listener.Addr().String()
	t.Cleanup(s.Stop)
	return s
}

// URL returns the base URL, http://127.0.0.1:PORT, the same across restarts.
func (s *server) URL() string { return "http://" + s.addr }

// Stop closes the server: from then on connections are refused. Stopping
// a stopped server does nothing.
func (s *server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
		s.srv = nil
	}
}

// Start serves again on the same address after Stop.
func (s *server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("restart fake on %s: %v", s.addr, err)
	}
	srv := httptest.NewUnstartedServer(s.h)
	_ = srv.Listener.Close() // replaced by ln before it ever served
	srv.Listener = ln
	srv.Start()
	s.srv = srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
