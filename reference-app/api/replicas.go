package api

// Read replicas: feed reads go to a store replica that promises bounded
// staleness, falling back to the primary.
//
//	feed ──List──▶ replica r (round-robin), X-Max-Staleness: bound
//	        200 → served by r (X-Refapp-Read-From: r)
//	        503 too stale / no answer → the next replica, then the primary
//
// Writes, primary reads (GET /v1/sync, GET /v1/kv) and every other read stay
// on the primary.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ReadFromHeader names the store node a feed read from: a replica's name,
// or "primary".
const ReadFromHeader = "X-Refapp-Read-From"

// Store read headers of a bounded-staleness read (the store's contract,
// ARCHITECTURE.md "store").
const (
	maxStalenessHeader = "X-Max-Staleness"
	stalenessHeader    = "X-Store-Staleness"
)

// Results of refapp_api_replica_reads_total{result}.
const (
	replicaServed   = "served"    // a replica answered within the bound
	replicaTooStale = "too_stale" // a replica could not promise the bound
	replicaFailed   = "failed"    // a replica did not answer usably
	replicaNone     = "none"      // no replica known: the primary served
)

// ReplicaSource names the store replicas that follow the primary.
type ReplicaSource interface {
	// Replicas returns the replicas as last known (their client URLs).
	Replicas() []Primary
}

// ReplicaReader reads from a read replica within a staleness bound.
type ReplicaReader interface {
	// ListReplica is Store.List answered by a replica whose data holds
	// every write acknowledged more than the bound ago; it returns the
	// replica's name and its staleness. The error wraps ErrUnavailable
	// when no replica could promise the bound.
	ListReplica(ctx context.Context, bucket, prefix string, limit int, reverse bool) ([]Item, string, time.Duration, error)
}

// ReplicaClient is a ReplicaReader over the store's HTTP API.
type ReplicaClient struct {
	src   ReplicaSource
	bound time.Duration
	o     clientOptions
	next  atomic.Uint64 // round-robin position
}

var _ ReplicaReader = (*ReplicaClient)(nil)

// NewReplicaClient returns a reader of the replicas src names, asking each
// for data at most bound stale.
func NewReplicaClient(src ReplicaSource, bound time.Duration, opts ...ClientOption) *ReplicaClient {
	return &ReplicaClient{src: src, bound: bound, o: newClientOptions(DefaultStoreTimeout, opts)}
}

// ListReplica tries the replicas in turn, starting from the next in a
// round-robin, until one answers within the bound.
func (c *ReplicaClient) ListReplica(ctx context.Context, bucket, prefix string, limit int, reverse bool) ([]Item, string, time.Duration, error) {
	reps := c.src.Replicas()
	if len(reps) == 0 {
		return nil, "", 0, fmt.Errorf("read replica: %w: %w", errNoReplica, ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	q := url.Values{"bucket": {bucket}, "limit": {strconv.Itoa(limit)}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if reverse {
		q.Set("reverse", "true")
	}
	start := c.next.Add(1)
	var errs []error
	for i := range reps {
		r := reps[(start+uint64(i))%uint64(len(reps))]
		items, d, err := c.list(ctx, r, q)
		if err == nil {
			return items, r.Name, d, nil
		}
		errs = append(errs, err)
	}
	return nil, "", 0, fmt.Errorf("read replica: %w: %w", ErrUnavailable, errors.Join(errs...))
}

// errTooStale marks a replica's refusal of the bound; errNoReplica a read
// with no replica to ask.
var (
	errTooStale  = errors.New("too stale")
	errNoReplica = errors.New("no replica known")
)

func (c *ReplicaClient) list(ctx context.Context, r Primary, q url.Values) ([]Item, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/v1/list?"+q.Encode(), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set(maxStalenessHeader, c.bound.String())
	resp, err := c.o.hc.Do(req) //nolint:gosec // G704: replica URLs come from the sentinel, not from request input
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", r.Name, err)
	}
	defer resp.Body.Close()
	var ans struct {
		Items []Item `json:"items"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes)).Decode(&ans); err != nil {
		return nil, 0, fmt.Errorf("%s: status %d: decode answer: %w", r.Name, resp.StatusCode, err)
	}
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable && strings.HasPrefix(ans.Error, errTooStale.Error()):
		return nil, 0, fmt.Errorf("%s: %w: %s", r.Name, errTooStale, ans.Error)
	case resp.StatusCode != http.StatusOK:
		return nil, 0, fmt.Errorf("%s: status %d: %s", r.Name, resp.StatusCode, ans.Error)
	}
	// A 200 without the replica's promise comes from a node that ignored
	// the bound: not usable.
	d, err := time.ParseDuration(resp.Header.Get(stalenessHeader))
	if err != nil || d > c.bound {
		return nil, 0, fmt.Errorf("%s: staleness %q: no promise within %v", r.Name, resp.Header.Get(stalenessHeader), c.bound)
	}
	return ans.Items, d, nil
}
