package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Defaults of the clients' options.
const (
	// DefaultStoreTimeout bounds one store call, a retry after a failover
	// included. It is half the gateway's upstream timeout (2 s, a retry
	// on another replica included): a store slower than this yields the
	// api's own answer (a stale feed, a 503 with Retry-After) in time,
	// never the gateway's 504 — timeouts shrink inwards.
	DefaultStoreTimeout = time.Second
	// DefaultCacheTimeout bounds one cache call: the cache is an
	// optimisation, never worth a long wait.
	DefaultCacheTimeout = 500 * time.Millisecond
	// DefaultSentinelTimeout bounds one question to the sentinel.
	DefaultSentinelTimeout = 500 * time.Millisecond
	// DefaultSentinelInterval is the time between two questions to the
	// sentinel.
	DefaultSentinelInterval = 250 * time.Millisecond
	// maxAnswerBytes bounds a dependency's answer.
	maxAnswerBytes = 32 << 20
)

// FencingEpochHeader carries the fencing epoch of a store write.
const FencingEpochHeader = "X-Fencing-Epoch"

type clientOptions struct {
	hc       *http.Client
	timeout  time.Duration
	interval time.Duration
	log      *slog.Logger
}

// ClientOption configures StoreClient, Sentinel and CacheClient.
type ClientOption func(*clientOptions)

// WithHTTPClient sets the HTTP client (default: a keep-alive client of its
// own without a global timeout; each call has its own).
func WithHTTPClient(hc *http.Client) ClientOption { return func(o *clientOptions) { o.hc = hc } }

// WithTimeout bounds one call (defaults DefaultStoreTimeout,
// DefaultCacheTimeout, DefaultSentinelTimeout).
func WithTimeout(d time.Duration) ClientOption { return func(o *clientOptions) { o.timeout = d } }

// WithPollInterval sets the Sentinel's polling interval (default
// DefaultSentinelInterval).
func WithPollInterval(d time.Duration) ClientOption { return func(o *clientOptions) { o.interval = d } }

// WithClientLogger sets the Sentinel's logger (default: discard).
func WithClientLogger(l *slog.Logger) ClientOption { return func(o *clientOptions) { o.log = l } }

func newClientOptions(timeout time.Duration, opts []ClientOption) clientOptions {
	o := clientOptions{timeout: timeout, interval: DefaultSentinelInterval, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.hc == nil {
		o.hc = &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: o.timeout}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		}}
	}
	return o
}

// Primary is where writes go: the store primary's client URL and the
// fencing epoch to send (0: send none).
type Primary struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	Epoch int64  `json:"epoch"`
}

// PrimarySource tells a StoreClient where the primary is.
type PrimarySource interface {
	// Primary returns the primary as last known; false when unknown.
	Primary() (Primary, bool)
	// Refresh learns the primary again now: the one the client used
	// refused a write as not primary or as fenced.
	Refresh(ctx context.Context)
}

// FixedPrimary is a PrimarySource of one store URL, without failover.
type FixedPrimary string

// Primary returns the URL, always known, with no fencing epoch.
func (f FixedPrimary) Primary() (Primary, bool) { return Primary{Name: "store", URL: string(f)}, true }

// Refresh does nothing: the primary is fixed.
func (FixedPrimary) Refresh(context.Context) {}

// StoreClient is a Store over the store's HTTP API (ARCHITECTURE.md,
// "store"), sending every call to the primary its PrimarySource names.
// A write refused with 503 "not primary" or 409 (fencing) refreshes the
// source and is tried once more: neither answer applied it. Errors wrap
// ErrNotFound (404) or ErrUnavailable (no answer, a 5xx, or a refusal that
// outlived the retry).
type StoreClient struct {
	src PrimarySource
	o   clientOptions
}

var _ Store = (*StoreClient)(nil)

// NewStoreClient returns a client of the primary src names.
func NewStoreClient(src PrimarySource, opts ...ClientOption) *StoreClient {
	return &StoreClient{src: src, o: newClientOptions(DefaultStoreTimeout, opts)}
}

// writeRequest and writeAnswer are the bodies of POST /v1/write.
type writeRequest struct {
	Ops []Op `json:"ops"`
}

type writeAnswer struct {
	Seq     int64  `json:"seq"`
	Epoch   int64  `json:"epoch"`
	Applied []bool `json:"applied"`
}

// Write sends ops as one batch with the primary's fencing epoch.
func (c *StoreClient) Write(ctx context.Context, ops []Op) ([]bool, error) {
	var ans writeAnswer
	if err := c.call(ctx, http.MethodPost, "/v1/write", nil, writeRequest{Ops: ops}, true, &ans); err != nil {
		return nil, fmt.Errorf("store write: %w", err)
	}
	if len(ans.Applied) != len(ops) {
		return nil, fmt.Errorf("store write: %d results for %d ops", len(ans.Applied), len(ops))
	}
	return ans.Applied, nil
}

// Get reads bucket/key.
func (c *StoreClient) Get(ctx context.Context, bucket, key string) (json.RawMessage, error) {
	var ans struct {
		Value json.RawMessage `json:"value"`
	}
	if err := c.call(ctx, http.MethodGet, "/v1/get", url.Values{"bucket": {bucket}, "key": {key}}, nil, false, &ans); err != nil {
		return nil, fmt.Errorf("store get %s/%s: %w", bucket, key, err)
	}
	return ans.Value, nil
}

// GetPrimary reads bucket/key from the primary itself: it asks its source
// for the primary first (PrimarySource.Refresh), then sends the read with
// that primary's epoch as X-Fencing-Epoch, so that only an unfenced primary
// at that epoch answers it (a replica refuses with 503 "not primary", a
// deposed or fenced primary with 409). A refusal refreshes the source and
// is tried once more; a second one is ErrUnavailable, never ErrNotFound.
func (c *StoreClient) GetPrimary(ctx context.Context, bucket, key string) (json.RawMessage, error) {
	var ans struct {
		Value json.RawMessage `json:"value"`
	}
	c.src.Refresh(ctx)
	if err := c.call(ctx, http.MethodGet, "/v1/get", url.Values{"bucket": {bucket}, "key": {key}}, nil, true, &ans); err != nil {
		return nil, fmt.Errorf("store primary get %s/%s: %w", bucket, key, err)
	}
	return ans.Value, nil
}

// List reads up to limit items of bucket under prefix.
func (c *StoreClient) List(ctx context.Context, bucket, prefix string, limit int, reverse bool) ([]Item, error) {
	q := url.Values{"bucket": {bucket}, "limit": {strconv.Itoa(limit)}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if reverse {
		q.Set("reverse", "true")
	}
	var ans struct {
		Items []Item `json:"items"`
	}
	if err := c.call(ctx, http.MethodGet, "/v1/list", q, nil, false, &ans); err != nil {
		return nil, fmt.Errorf("store list %s: %w", bucket, err)
	}
	return ans.Items, nil
}

// call sends one request to the primary, and once more after a refusal
// that a new primary or epoch may cure. A fenced request carries the
// primary's epoch (a write: when it has one; a primary read: always, 0
// meaning any epoch), and a 409 refuses it; an unfenced read is answered by
// whatever node the source names.
func (c *StoreClient) call(ctx context.Context, method, path string, q url.Values, body any, fenced bool, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	var payload []byte
	if body != nil {
		payload = mustJSON(body)
	}
	for attempt := 0; ; attempt++ {
		p, ok := c.src.Primary()
		if !ok {
			c.src.Refresh(ctx)
			if p, ok = c.src.Primary(); !ok {
				return fmt.Errorf("store primary unknown: %w", ErrUnavailable)
			}
		}
		status, ans, err := c.roundTrip(ctx, p, method, path, q, payload, fenced)
		if err != nil {
			return fmt.Errorf("%s %s: %w: %w", method, p.URL, ErrUnavailable, err)
		}
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(ans, &e)
		refused := (status == http.StatusServiceUnavailable && e.Error == "not primary") ||
			(status == http.StatusConflict && fenced)
		switch {
		case status == http.StatusOK:
			if err := json.Unmarshal(ans, out); err != nil {
				return fmt.Errorf("%s %s: decode answer: %w", method, p.URL, err)
			}
			return nil
		case status == http.StatusNotFound:
			return ErrNotFound
		case refused && attempt == 0:
			c.src.Refresh(ctx)
			continue
		case refused, status >= 500, status == http.StatusTooManyRequests:
			return fmt.Errorf("%s %s: %d %s: %w", method, p.URL, status, e.Error, ErrUnavailable)
		default:
			return fmt.Errorf("%s %s: %d %s", method, p.URL, status, e.Error)
		}
	}
}

func (c *StoreClient) roundTrip(ctx context.Context, p Primary, method, path string, q url.Values, payload []byte, fenced bool) (int, []byte, error) {
	u := p.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// A write carries the epoch when there is one; a primary read always
	// does (0 asks for the primary at any epoch).
	if fenced && (p.Epoch > 0 || method != http.MethodPost) {
		req.Header.Set(FencingEpochHeader, strconv.FormatInt(p.Epoch, 10))
	}
	return send(c.o.hc, req)
}

// send does req and reads the whole answer.
func send(hc *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := hc.Do(req) //nolint:gosec // G704: requests go to the configured store, not to request input
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, b, nil
}

// Ping asks the primary for its status (GET /v1/status): nil when it
// answers.
func (c *StoreClient) Ping(ctx context.Context) error {
	var st map[string]any
	if err := c.call(ctx, http.MethodGet, "/v1/status", nil, nil, false, &st); err != nil {
		return fmt.Errorf("store ping: %w", err)
	}
	return nil
}
