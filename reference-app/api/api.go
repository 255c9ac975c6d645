// Package api is the reference backend's stateless HTTP API: a feed of
// posts, post creation (idempotent by id) and post lookup, over a Store.
package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gameday/gameday/reference-app/store"
)

// Limits of the API's inputs.
const (
	// DefaultFeedLimit is the number of feed items when ?limit is absent.
	DefaultFeedLimit = 20
	// MaxFeedLimit caps ?limit; larger values are lowered to it.
	MaxFeedLimit = 100
	// MaxBodyBytes is the largest request body accepted (413 beyond).
	MaxBodyBytes = 64 << 10
	// MaxTextRunes is the longest post text accepted, in characters.
	MaxTextRunes = 1000
	// MaxIDLength is the longest client-chosen post id accepted, in bytes.
	MaxIDLength = 128
)

// Store is what the API needs from post storage. Create is idempotent by
// id: for an existing id it returns the stored post and created false. Get
// returns an error wrapping store.ErrNotFound for an unknown id. Latest
// returns up to limit posts, newest first.
type Store interface {
	Create(ctx context.Context, p store.Post) (stored store.Post, created bool, err error)
	Get(ctx context.Context, id string) (store.Post, error)
	Latest(ctx context.Context, limit int) ([]store.Post, error)
}

var _ Store = (*store.Memory)(nil)

// Feed is the body of GET /v1/feed.
type Feed struct {
	// Items are the newest posts, newest first; never null.
	Items []store.Post `json:"items"`
	// Instance names the api process that answered.
	Instance string `json:"instance"`
}

// CreateRequest is the body of POST /v1/posts.
type CreateRequest struct {
	// Text is required, at most MaxTextRunes characters.
	Text string `json:"text"`
	// ID is optional; when set, creation is idempotent by it.
	ID string `json:"id,omitempty"`
}

// Error is the body of every error response the API writes itself.
type Error struct {
	Error string `json:"error"`
}

// Handler serves the API routes; see Register. It holds no request state:
// any number of Handlers may share one Store.
type Handler struct {
	store    Store
	instance string
	now      func() time.Time
	log      *slog.Logger
}

// Option configures a Handler.
type Option func(*Handler)

// WithClock sets the clock that stamps CreatedAt (default time.Now).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithLogger sets the logger for server-side failures (default: discard).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// New returns a Handler over s that names itself instance in feeds.
func New(s Store, instance string, opts ...Option) *Handler {
	h := &Handler{store: s, instance: instance, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Register adds the API routes to mux:
//
//	GET  /v1/feed?limit=N  200 Feed
//	POST /v1/posts         201 new post, 200 existing post with that id
//	GET  /v1/posts/{id}    200 post, 404 Error
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/feed", h.feed)
	mux.HandleFunc("POST /v1/posts", h.create)
	mux.HandleFunc("GET /v1/posts/{id}", h.get)
}

func (h *Handler) feed(w http.ResponseWriter, r *http.Request) {
	limit := DefaultFeedLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want an integer from 1 to %d", s, MaxFeedLimit))
			return
		}
		limit = min(n, MaxFeedLimit)
	}
	posts, err := h.store.Latest(r.Context(), limit)
	if err != nil {
		h.internal(w, err)
		return
	}
	if posts == nil {
		posts = []store.Post{}
	}
	writeJSON(w, http.StatusOK, Feed{Items: posts, Instance: h.instance})
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	req, status, err := decodeCreate(w, r)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	if req.ID == "" {
		req.ID = rand.Text()
	}
	p, created, err := h.store.Create(r.Context(), store.Post{ID: req.ID, Text: req.Text, CreatedAt: h.now().UTC()})
	if err != nil {
		h.internal(w, err)
		return
	}
	if !created {
		writeJSON(w, http.StatusOK, p)
		return
	}
	w.Header().Set("Location", "/v1/posts/"+p.ID)
	writeJSON(w, http.StatusCreated, p)
}

// decodeCreate reads and validates a CreateRequest; on error it returns the
// status to answer with.
func decodeCreate(w http.ResponseWriter, r *http.Request) (CreateRequest, int, error) {
	var req CreateRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return req, http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than %d bytes", MaxBodyBytes)
		}
		return req, http.StatusBadRequest, fmt.Errorf("malformed JSON body: %w", err)
	}
	if strings.TrimSpace(req.Text) == "" {
		return req, http.StatusBadRequest, errors.New("text is required")
	}
	if n := utf8.RuneCountInString(req.Text); n > MaxTextRunes {
		return req, http.StatusBadRequest, fmt.Errorf("text is %d characters long; at most %d allowed", n, MaxTextRunes)
	}
	if req.ID != "" && !ValidID(req.ID) {
		return req, http.StatusBadRequest, fmt.Errorf("id %q: want 1 to %d characters from A-Z a-z 0-9 . _ ~ -, not . or ..", req.ID, MaxIDLength)
	}
	return req, 0, nil
}

// ValidID reports whether id can name a post: 1 to MaxIDLength URL-safe
// characters (A-Z a-z 0-9 . _ ~ -), other than "." and "..", so that it
// travels unescaped in /v1/posts/{id}.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLength || id == "." || id == ".." {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, err := h.store.Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("post %q not found", id))
		return
	}
	if err != nil {
		h.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// internal answers 500 for a store failure; the client went away when the
// request's context is done, and then nobody reads the answer.
func (h *Handler) internal(w http.ResponseWriter, err error) {
	h.log.Error("store failed", "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent: a write error means the client left
}
