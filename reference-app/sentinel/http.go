package sentinel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gameday/gameday/reference-app/kvstore"
)

// ErrNoPrimary is returned, wrapped, by Lookup when the sentinel knows no
// primary (503).
var ErrNoPrimary = errors.New("sentinel: no primary known")

// Register adds GET /v1/primary and GET /v1/replicas to mux.
func (s *Sentinel) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/primary", s.handlePrimary)
	mux.HandleFunc("GET /v1/replicas", s.handleReplicas)
}

// handleReplicas answers the replicas that read replicas may use: 200
// {"epoch","replicas":[{"name","url"}]} (client URLs), empty while no
// primary is known.
func (s *Sentinel) handleReplicas(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.Replicas())
}

func (s *Sentinel) handlePrimary(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	p, ok := s.Primary()
	if !ok {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(kvstore.ErrorBody{Error: "no primary known", Epoch: s.Epoch()})
		return
	}
	_ = json.NewEncoder(w).Encode(p)
}

// Lookup asks the sentinel at baseURL for the primary with hc; a sentinel
// that knows none gives an error wrapping ErrNoPrimary.
func Lookup(ctx context.Context, hc *http.Client, baseURL string) (Primary, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(baseURL, "/")+"/v1/primary", nil)
	if err != nil {
		return Primary{}, fmt.Errorf("look up primary: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Primary{}, fmt.Errorf("look up primary: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusServiceUnavailable:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return Primary{}, fmt.Errorf("look up primary at %s: %w", baseURL, ErrNoPrimary)
	default:
		return Primary{}, fmt.Errorf("look up primary at %s: status %d", baseURL, resp.StatusCode)
	}
	var p Primary
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return Primary{}, fmt.Errorf("look up primary at %s: decode answer: %w", baseURL, err)
	}
	return p, nil
}

// PrimaryFunc returns a kvstore.PrimaryFunc that looks the primary up at
// the sentinel at baseURL on every call, with its epoch as the fencing
// epoch. Callers that write often should cache in front of it.
func PrimaryFunc(hc *http.Client, baseURL string) kvstore.PrimaryFunc {
	return func(ctx context.Context) (kvstore.Target, error) {
		p, err := Lookup(ctx, hc, baseURL)
		if err != nil {
			return kvstore.Target{}, err
		}
		return kvstore.Target{URL: p.URL, Epoch: p.Epoch}, nil
	}
}
