package kvstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultClientTimeout bounds one request of a Client made without an
// http.Client of its own; it is above DefaultSyncTimeout, so that a
// sync-mode write gets the store's answer.
const DefaultClientTimeout = 5 * time.Second

// Errors a Client's calls return, wrapped in a *StatusError; test with
// errors.Is.
var (
	// ErrNotFound: the key is absent (404).
	ErrNotFound = errors.New("kvstore: not found")
	// ErrNotPrimary: the store is not the primary (503 "not primary");
	// find the primary again and retry.
	ErrNotPrimary = errors.New("kvstore: not primary")
	// ErrEpochConflict: the write's fencing epoch differs from the store's
	// (409): the client's is stale, or the store's (it is fenced). Find the
	// primary again.
	ErrEpochConflict = errors.New("kvstore: fencing epoch conflict")
	// ErrNotReplicated: sync mode, no replica applied the write in time
	// (503). The write is not acknowledged: it may or may not survive.
	ErrNotReplicated = errors.New("kvstore: write not replicated in time")
)

// StatusError is a store's error answer.
type StatusError struct {
	// Op is the call: write, get, list or status.
	Op string
	// URL is the store's base URL.
	URL string
	// Code is the HTTP status; Message the answer's error.
	Code    int
	Message string
	// Primary is the primary URL a replica named in a not-primary answer.
	Primary string
	// StoreEpoch (the store's, from a 409) and RequestEpoch (the fencing
	// epoch sent, 0 for none).
	StoreEpoch, RequestEpoch uint64
	// RetryAfter is the answer's Retry-After, 0 when absent.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("kvstore %s at %s: status %d: %s", e.Op, e.URL, e.Code, e.Message)
}

// Is makes errors.Is match the error's kind: ErrNotFound, ErrNotPrimary,
// ErrEpochConflict or ErrNotReplicated.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == http.StatusNotFound
	case ErrNotPrimary:
		return e.Code == http.StatusServiceUnavailable && e.Message == MsgNotPrimary
	case ErrEpochConflict:
		return e.Code == http.StatusConflict
	case ErrNotReplicated:
		return e.Code == http.StatusServiceUnavailable && strings.HasPrefix(e.Message, MsgNotReplicated)
	}
	return false
}

// Target is where a Client sends a request.
type Target struct {
	// URL is the primary's base URL, http://host:port.
	URL string
	// Epoch is sent with writes as X-Fencing-Epoch; 0 sends no header.
	Epoch uint64
}

// PrimaryFunc returns the current primary. A Client calls it before every
// request, so it may follow a sentinel; it should answer from a cache.
type PrimaryFunc func(ctx context.Context) (Target, error)

// FixedPrimary returns a PrimaryFunc that always names baseURL, with no
// fencing epoch.
func FixedPrimary(baseURL string) PrimaryFunc {
	return func(context.Context) (Target, error) { return Target{URL: baseURL}, nil }
}

// Client calls a store's client API on the primary its PrimaryFunc names.
// It neither retries nor follows a replica's hint: on ErrNotPrimary or
// ErrEpochConflict, the caller refreshes its view of the primary.
type Client struct {
	primary PrimaryFunc
	hc      *http.Client
}

// NewClient returns a client of the primary that primary names. hc nil
// means a client with DefaultClientTimeout.
func NewClient(primary PrimaryFunc, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultClientTimeout}
	}
	return &Client{primary: primary, hc: hc}
}

// Write sends ops as one atomic batch, with the target's fencing epoch.
func (c *Client) Write(ctx context.Context, ops ...Op) (WriteResult, error) {
	body, err := json.Marshal(WriteRequest{Ops: ops})
	if err != nil {
		return WriteResult{}, fmt.Errorf("kvstore write: %w", err)
	}
	var res WriteResult
	err = c.do(ctx, "write", http.MethodPost, "/v1/write", nil, body, true, &res)
	return res, err
}

// Get returns bucket/key; an absent key is ErrNotFound.
func (c *Client) Get(ctx context.Context, bucket, key string) (Item, error) {
	var item Item
	err := c.do(ctx, "get", http.MethodGet, "/v1/get", url.Values{"bucket": {bucket}, "key": {key}}, nil, false, &item)
	return item, err
}

// ListOptions select a list's items.
type ListOptions struct {
	// Prefix keeps the keys that start with it.
	Prefix string
	// Limit is the most items (0: the store's default, DefaultListLimit).
	Limit int
	// Reverse orders by key descending.
	Reverse bool
}

// List returns the items of bucket that opts select, ordered by key.
func (c *Client) List(ctx context.Context, bucket string, opts ListOptions) ([]KV, error) {
	q := url.Values{"bucket": {bucket}}
	if opts.Prefix != "" {
		q.Set("prefix", opts.Prefix)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Reverse {
		q.Set("reverse", "true")
	}
	var res ListResult
	err := c.do(ctx, "list", http.MethodGet, "/v1/list", q, nil, false, &res)
	return res.Items, err
}

// Status returns the status of the store the PrimaryFunc names.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, "status", http.MethodGet, "/v1/status", nil, nil, false, &st)
	return st, err
}

// do sends one request to the current primary and decodes a 200 answer
// into out.
func (c *Client) do(ctx context.Context, op, method, path string, q url.Values, body []byte, fenced bool, out any) error {
	t, err := c.primary(ctx)
	if err != nil {
		return fmt.Errorf("kvstore %s: find the primary: %w", op, err)
	}
	u := strings.TrimSuffix(t.URL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("kvstore %s: %w", op, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	var sent uint64
	if fenced && t.Epoch > 0 {
		sent = t.Epoch
		req.Header.Set(FencingHeader, strconv.FormatUint(t.Epoch, 10))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("kvstore %s at %s: %w", op, t.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e ErrorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		se := &StatusError{Op: op, URL: t.URL, Code: resp.StatusCode, Message: e.Error,
			Primary: e.Primary, StoreEpoch: e.Epoch, RequestEpoch: sent}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			se.RetryAfter = time.Duration(s) * time.Second
		}
		return se
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("kvstore %s at %s: decode answer: %w", op, t.URL, err)
	}
	return nil
}
