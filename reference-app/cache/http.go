package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of the wire contract.
const (
	// TTLHeader on a PUT sets the value's time to live: a Go duration
	// ("30s", "1m30s", "250ms") or whole seconds ("30").
	TTLHeader = "X-Cache-TTL"
	// AgeHeader on a GET answer is the time since the value was stored, in
	// whole seconds rounded down (like HTTP's Age).
	AgeHeader = "X-Cache-Age"
	// PathPrefix is the path under which keys live: PathPrefix + key.
	PathPrefix = "/v1/cache/"
	// MaxKeyBytes is the longest key accepted.
	MaxKeyBytes = 1024
)

// ValidKey reports whether key can name a value: 1 to MaxKeyBytes bytes,
// no "/", and not "." or "..". (Sent as one escaped path segment, such a
// key reaches the service unchanged; "/", "." and ".." would make the
// server's path cleaning redirect the request elsewhere.)
func ValidKey(key string) bool {
	return key != "" && len(key) <= MaxKeyBytes && key != "." && key != ".." && !strings.Contains(key, "/")
}

// checkKey answers 400 for an invalid key and reports whether key is valid.
func checkKey(w http.ResponseWriter, key string) bool {
	if !ValidKey(key) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("key %q: want 1-%d bytes without \"/\", not \".\" or \"..\"", key, MaxKeyBytes))
		return false
	}
	return true
}

// Register adds the cache's routes to mux.
func (c *Cache) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathPrefix+"{key}", c.serveGet)
	mux.HandleFunc("PUT "+PathPrefix+"{key}", c.servePut)
	mux.HandleFunc("DELETE "+PathPrefix+"{key}", c.serveDelete)
}

func (c *Cache) serveGet(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !checkKey(w, key) {
		c.metrics.requests.WithLabelValues(opGet, resultRejected).Inc()
		return
	}
	value, age, ok := c.Get(key)
	if !ok {
		c.metrics.requests.WithLabelValues(opGet, resultMiss).Inc()
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	c.metrics.requests.WithLabelValues(opGet, resultHit).Inc()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(value)))
	h.Set(AgeHeader, strconv.FormatInt(int64(age/time.Second), 10))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(value) //nolint:gosec // G705: an octet-stream, never rendered as HTML; a write error means the client left
}

func (c *Cache) servePut(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !checkKey(w, key) {
		c.metrics.requests.WithLabelValues(opPut, resultRejected).Inc()
		return
	}
	ttl, err := parseTTL(r.Header.Get(TTLHeader))
	if err == nil && ttl > c.opts.maxTTL {
		err = fmt.Errorf("header %s %q: want at most %v", TTLHeader, r.Header.Get(TTLHeader), c.opts.maxTTL)
	}
	if err != nil {
		c.metrics.requests.WithLabelValues(opPut, resultRejected).Inc()
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	value, err := c.readValue(w, r)
	if err != nil {
		c.metrics.requests.WithLabelValues(opPut, resultRejected).Inc()
		if errors.Is(err, ErrTooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		c.opts.log.Debug("cache put: read body", "err", err)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, err := c.Set(key, value, ttl); err != nil {
		c.metrics.requests.WithLabelValues(opPut, resultRejected).Inc()
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c.metrics.requests.WithLabelValues(opPut, resultStored).Inc()
	w.WriteHeader(http.StatusNoContent)
}

func (c *Cache) serveDelete(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !checkKey(w, key) {
		c.metrics.requests.WithLabelValues(opDelete, resultRejected).Inc()
		return
	}
	c.Delete(key)
	c.metrics.requests.WithLabelValues(opDelete, resultDeleted).Inc()
	w.WriteHeader(http.StatusNoContent)
}

// readValue reads the request body, refusing more than the max value bytes
// with an error wrapping ErrTooLarge.
func (c *Cache) readValue(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := c.opts.maxValueBytes
	if r.ContentLength > limit {
		return nil, fmt.Errorf("value of %d bytes: %w (limit %d)", r.ContentLength, ErrTooLarge, limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("value over %d bytes: %w", limit, ErrTooLarge)
	}
	if err != nil {
		return nil, fmt.Errorf("read value: %w", err)
	}
	return b, nil
}

// parseTTL reads an X-Cache-TTL value: "" is 0 (the default TTL), else a
// positive Go duration or a positive number of whole seconds.
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.ParseInt(s, 10, 64)
		if nerr != nil || n > int64(math.MaxInt64/time.Second) {
			return 0, fmt.Errorf("header %s %q: want a duration like 30s", TTLHeader, s)
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		return 0, fmt.Errorf("header %s %q: want > 0", TTLHeader, s)
	}
	return d, nil
}

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: msg}) // a write error means the client left
}
