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
	"sync"
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

// Defaults of a ReplicaClient.
const (
	// DefaultReplicaTimeout bounds the read of one replica: a replica is
	// an optimisation, and a frozen or slow one must cost a feed read
	// little before the primary serves it.
	DefaultReplicaTimeout = 250 * time.Millisecond
	// replicaSkip is how long a replica that failed (no answer, an error:
	// not a refusal of the bound) is left out.
	replicaSkip = 2 * time.Second
)

// ReplicaClient is a ReplicaReader over the store's HTTP API.
type ReplicaClient struct {
	src   ReplicaSource
	bound time.Duration
	o     clientOptions
	next  atomic.Uint64 // round-robin position

	mu        sync.Mutex           // guards skipUntil
	skipUntil map[string]time.Time // replica name → end of its leave-out after a failure
}

var _ ReplicaReader = (*ReplicaClient)(nil)

// NewReplicaClient returns a reader of the replicas src names, asking each
// for data at most bound stale.
// Each read of a replica gets DefaultReplicaTimeout unless WithTimeout says
// otherwise.
func NewReplicaClient(src ReplicaSource, bound time.Duration, opts ...ClientOption) *ReplicaClient {
	return &ReplicaClient{src: src, bound: bound, o: newClientOptions(DefaultReplicaTimeout, opts), skipUntil: map[string]time.Time{}}
}

// ListReplica tries the replicas in turn, starting from the next in a
// round-robin, until one answers within the bound. A replica that failed
// (no answer in time, an error; not a refusal of the bound) is left out
// for a while; with none left to try the error wraps errNoReplica.
func (c *ReplicaClient) ListReplica(ctx context.Context, bucket, prefix string, limit int, reverse bool) ([]Item, string, time.Duration, error) {
	reps := c.usable(c.src.Replicas())
	if len(reps) == 0 {
		return nil, "", 0, fmt.Errorf("read replica: %w: %w", errNoReplica, ErrUnavailable)
	}
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
		items, d, err := c.listOne(ctx, r, q)
		if err == nil {
			return items, r.Name, d, nil
		}
		if ctx.Err() != nil {
			return nil, "", 0, fmt.Errorf("read replica: %w", err)
		}
		if !errors.Is(err, errTooStale) {
			c.skip(r.Name)
		}
		errs = append(errs, err)
	}
	return nil, "", 0, fmt.Errorf("read replica: %w: %w", ErrUnavailable, errors.Join(errs...))
}

// usable returns the replicas not left out now.
func (c *ReplicaClient) usable(reps []Primary) []Primary {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := reps[:0:0]
	for _, r := range reps {
		if now.After(c.skipUntil[r.Name]) {
			out = append(out, r)
		}
	}
	return out
}

// skip leaves replica name out for replicaSkip.
func (c *ReplicaClient) skip(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skipUntil[name] = time.Now().Add(replicaSkip)
}

// listOne reads one replica within the replica timeout.
func (c *ReplicaClient) listOne(ctx context.Context, r Primary, q url.Values) ([]Item, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	return c.list(ctx, r, q)
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
