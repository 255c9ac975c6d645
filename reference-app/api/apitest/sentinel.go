package apitest

import (
	"net/http"
	"sync"
	"testing"
)

// Sentinel is a fake sentinel: GET /v1/primary answers the primary it was
// told, 503 before.
type Sentinel struct {
	*server

	mu      sync.Mutex // guards the fields below
	name    string
	url     string
	epoch   int64
	asked   int
	unknown bool
}

// NewSentinel starts a fake sentinel on 127.0.0.1:0 that knows no primary
// yet; the test's cleanup stops it.
func NewSentinel(t testing.TB) *Sentinel {
	s := &Sentinel{unknown: true}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/primary", s.primary)
	s.server = newServer(t, mux)
	return s
}

// SetPrimary makes the sentinel name the primary name at url and epoch.
func (s *Sentinel) SetPrimary(name, url string, epoch int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.name, s.url, s.epoch, s.unknown = name, url, epoch, false
}

// Asked returns how many times /v1/primary was asked.
func (s *Sentinel) Asked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked
}

func (s *Sentinel) primary(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked++
	if s.unknown {
		writeError(w, http.StatusServiceUnavailable, "primary unknown")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": s.name, "url": s.url, "epoch": s.epoch})
}
