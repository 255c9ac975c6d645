package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// CacheClient is a Cache over the cache service's HTTP API
// (ARCHITECTURE.md, "cache"). Errors wrap ErrNotFound on a miss and
// ErrUnavailable when the cache gives no answer or a 5xx.
type CacheClient struct {
	url string
	o   clientOptions
}

var _ Cache = (*CacheClient)(nil)

// NewCacheClient returns a client of the cache at baseURL.
func NewCacheClient(baseURL string, opts ...ClientOption) *CacheClient {
	return &CacheClient{url: baseURL, o: newClientOptions(DefaultCacheTimeout, opts)}
}

// Get returns the bytes cached under key.
func (c *CacheClient) Get(ctx context.Context, key string) ([]byte, error) {
	status, b, err := c.do(ctx, http.MethodGet, key, nil, 0)
	switch {
	case err != nil:
		return nil, fmt.Errorf("cache get %s: %w", key, err)
	case status == http.StatusOK:
		return b, nil
	case status == http.StatusNotFound:
		return nil, fmt.Errorf("cache get %s: %w", key, ErrNotFound)
	default:
		return nil, fmt.Errorf("cache get %s: %w", key, statusError(status, b))
	}
}

// Put caches value under key for ttl.
func (c *CacheClient) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	status, b, err := c.do(ctx, http.MethodPut, key, value, ttl)
	switch {
	case err != nil:
		return fmt.Errorf("cache put %s: %w", key, err)
	case status == http.StatusNoContent, status == http.StatusOK:
		return nil
	default:
		return fmt.Errorf("cache put %s: %w", key, statusError(status, b))
	}
}

func (c *CacheClient) do(ctx context.Context, method, key string, body []byte, ttl time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.url+"/v1/cache/"+url.PathEscape(key), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if ttl > 0 {
		req.Header.Set("X-Cache-TTL", ttl.String())
	}
	status, b, err := send(c.o.hc, req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return status, b, nil
}

// statusError describes an unexpected answer; a 5xx or 429 wraps
// ErrUnavailable.
func statusError(status int, body []byte) error {
	if len(body) > 200 {
		body = body[:200]
	}
	if status >= 500 || status == http.StatusTooManyRequests {
		return fmt.Errorf("status %d %s: %w", status, bytes.TrimSpace(body), ErrUnavailable)
	}
	return fmt.Errorf("status %d %s", status, bytes.TrimSpace(body))
}

// pingKey is the key the cache's health probe reads; a miss is an answer.
const pingKey = "refapp-status-probe"

// Ping reads a key that is never written: nil when the cache answers.
func (c *CacheClient) Ping(ctx context.Context) error {
	if _, err := c.Get(ctx, pingKey); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("cache ping: %w", err)
	}
	return nil
}
