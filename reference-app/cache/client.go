package cache

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

// ErrMiss is returned, wrapped, by Client.Get when the key holds no live
// value (HTTP 404).
var ErrMiss = errors.New("cache miss")

// ErrTooLarge is returned, wrapped, for a value over the cache's size limit
// (HTTP 413).
var ErrTooLarge = errors.New("value too large")

// ErrInvalidKey is returned, wrapped, for a key that ValidKey refuses; no
// request is sent.
var ErrInvalidKey = errors.New("invalid cache key")

// DefaultClientTimeout bounds one request of a Client made without
// WithHTTPClient.
const DefaultClientTimeout = 2 * time.Second

// StatusError is an answer of the cache service that the Client does not
// map to ErrMiss or ErrTooLarge.
type StatusError struct {
	Op      string // "get", "put" or "delete"
	Code    int    // HTTP status
	Message string // the "error" of the JSON body, or the body's start
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("cache %s: status %d: %s", e.Op, e.Code, e.Message)
}

type clientOptions struct {
	hc *http.Client
}

// ClientOption configures a Client.
type ClientOption func(*clientOptions)

// WithHTTPClient sets the HTTP client requests go through (default: one
// with DefaultClientTimeout and no proxy from the environment).
func WithHTTPClient(hc *http.Client) ClientOption { return func(o *clientOptions) { o.hc = hc } }

// Client talks to a cache service over its wire contract. It is safe for
// concurrent use; every call is bounded by its context.
type Client struct {
	base string // scheme://host[:port], no trailing slash
	hc   *http.Client
}

// NewClient returns a client of the cache service at baseURL
// ("http://127.0.0.1:8090").
func NewClient(baseURL string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("new cache client: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("new cache client: base URL %q: want http(s)://host:port", baseURL)
	}
	o := clientOptions{hc: &http.Client{
		Timeout:   DefaultClientTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}}
	for _, opt := range opts {
		opt(&o)
	}
	return &Client{base: u.Scheme + "://" + u.Host, hc: o.hc}, nil
}

// keyURL is the URL of key; the key is path-escaped, so any string is a key.
func (c *Client) keyURL(key string) string { return c.base + PathPrefix + url.PathEscape(key) }

// Get returns the value stored under key and its age (whole seconds), or
// an error wrapping ErrMiss when there is none.
func (c *Client) Get(ctx context.Context, key string) (value []byte, age time.Duration, err error) {
	resp, err := c.do(ctx, http.MethodGet, key, nil, nil)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		drain(resp.Body)
		return nil, 0, fmt.Errorf("cache get %q: %w", key, ErrMiss)
	default:
		return nil, 0, statusError("get", resp)
	}
	value, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("cache get %q: read value: %w", key, err)
	}
	secs, err := strconv.ParseInt(resp.Header.Get(AgeHeader), 10, 64)
	if err != nil || secs < 0 {
		return nil, 0, fmt.Errorf("cache get %q: header %s %q: want whole seconds", key, AgeHeader, resp.Header.Get(AgeHeader))
	}
	return value, time.Duration(secs) * time.Second, nil
}

// Set stores value under key for ttl; ttl 0 leaves it to the service's
// default TTL. A value over the service's limit gives an error wrapping
// ErrTooLarge.
func (c *Client) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("cache put %q: TTL %v: want >= 0", key, ttl)
	}
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if ttl > 0 {
		h.Set(TTLHeader, ttl.String())
	}
	resp, err := c.do(ctx, http.MethodPut, key, h, value)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK:
		drain(resp.Body)
		return nil
	case http.StatusRequestEntityTooLarge:
		drain(resp.Body)
		return fmt.Errorf("cache put %q: %d bytes: %w", key, len(value), ErrTooLarge)
	}
	return statusError("put", resp)
}

// Delete removes key; removing an absent key is not an error.
func (c *Client) Delete(ctx context.Context, key string) error {
	resp, err := c.do(ctx, http.MethodDelete, key, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusOK {
		drain(resp.Body)
		return nil
	}
	return statusError("delete", resp)
}

func (c *Client) do(ctx context.Context, method, key string, h http.Header, body []byte) (*http.Response, error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("cache %s %q: %w", strings.ToLower(method), key, ErrInvalidKey)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.keyURL(key), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("cache %s %q: %w", strings.ToLower(method), key, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cache %s %q: %w", strings.ToLower(method), key, err)
	}
	return resp, nil
}

// statusError reads resp's error body into a *StatusError.
func statusError(op string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var eb errorBody
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
		msg = eb.Error
	}
	return &StatusError{Op: op, Code: resp.StatusCode, Message: msg}
}

// drain reads what is left of a small body so the connection can be reused.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10)) }
