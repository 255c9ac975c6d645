package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Sentinel is a PrimarySource that asks the sentinel (GET /v1/primary) for
// the store primary every poll interval while Run runs, and at once when
// Refresh is called. The last primary it learnt stays known while the
// sentinel does not answer or says it does not know.
type Sentinel struct {
	url string
	o   clientOptions

	mu       sync.Mutex // guards primary, known, replicas
	primary  Primary
	known    bool
	replicas []Primary // read replicas, from GET /v1/replicas

	pollMu   sync.Mutex // one question at a time; guards lastPoll
	lastPoll time.Time  // when the last question ended
}

var (
	_ PrimarySource = (*Sentinel)(nil)
	_ ReplicaSource = (*Sentinel)(nil)
)

// Replicas returns the read replicas as last learnt (GET /v1/replicas,
// asked by Run every poll interval); none before the first answer.
func (s *Sentinel) Replicas() []Primary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Primary(nil), s.replicas...)
}

// refreshReplicas asks the sentinel for the replicas that follow the
// primary. An unanswered question keeps the last list: a replica gone
// since refuses reads, and the feed falls back to the primary.
func (s *Sentinel) refreshReplicas(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/v1/replicas", nil) //nolint:gosec // G704: the sentinel's URL is the api's configuration
	if err != nil {
		return
	}
	status, b, err := send(s.o.hc, req)
	if err != nil || status != http.StatusOK {
		s.o.log.Debug("ask the sentinel for replicas", "status", status, "err", err)
		return
	}
	var ans struct {
		Epoch    int64     `json:"epoch"`
		Replicas []Primary `json:"replicas"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		s.o.log.Debug("ask the sentinel for replicas: decode answer", "err", err)
		return
	}
	for i := range ans.Replicas {
		ans.Replicas[i].Epoch = ans.Epoch
	}
	s.mu.Lock()
	s.replicas = ans.Replicas
	s.mu.Unlock()
}

// NewSentinel returns a source that asks the sentinel at baseURL.
func NewSentinel(baseURL string, opts ...ClientOption) *Sentinel {
	return &Sentinel{url: baseURL, o: newClientOptions(DefaultSentinelTimeout, opts)}
}

// Primary returns the primary as last learnt; false before the sentinel
// first named one.
func (s *Sentinel) Primary() (Primary, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.primary, s.known
}

// Ready is nil once a primary is known: the readiness of the api.
func (s *Sentinel) Ready(context.Context) error {
	if _, ok := s.Primary(); !ok {
		return errors.New("store primary unknown: the sentinel has not named one yet")
	}
	return nil
}

// Run asks the sentinel for the primary and the read replicas now and then
// every poll interval until ctx is done; it returns nil then.
func (s *Sentinel) Run(ctx context.Context) error {
	t := time.NewTicker(s.o.interval)
	defer t.Stop()
	for {
		s.Refresh(ctx)
		s.refreshReplicas(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Refresh asks the sentinel now, unless a question that ended after this
// call began already did: concurrent callers share one answer.
func (s *Sentinel) Refresh(ctx context.Context) {
	start := time.Now()
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	if s.lastPoll.After(start) {
		return
	}
	p, err := s.ask(ctx)
	s.lastPoll = time.Now()
	if err != nil {
		s.o.log.Debug("ask the sentinel", "err", err)
		return
	}
	s.mu.Lock()
	changed := !s.known || p != s.primary
	s.primary, s.known = p, true
	s.mu.Unlock()
	if changed {
		s.o.log.Info("store primary", "name", p.Name, "url", p.URL, "epoch", p.Epoch)
	}
}

// ask does one GET /v1/primary.
func (s *Sentinel) ask(ctx context.Context) (Primary, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/v1/primary", nil) //nolint:gosec // G704: the sentinel's URL is the api's configuration, not request input
	if err != nil {
		return Primary{}, fmt.Errorf("ask sentinel: %w", err)
	}
	status, b, err := send(s.o.hc, req)
	if err != nil {
		return Primary{}, fmt.Errorf("ask sentinel: %w", err)
	}
	if status != http.StatusOK {
		return Primary{}, fmt.Errorf("ask sentinel: status %d: %s", status, b)
	}
	var p Primary
	if err := json.Unmarshal(b, &p); err != nil {
		return Primary{}, fmt.Errorf("ask sentinel: decode answer: %w", err)
	}
	if p.URL == "" {
		return Primary{}, errors.New("ask sentinel: answer names no url")
	}
	return p, nil
}
