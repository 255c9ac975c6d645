// Package store holds the reference backend's posts.
//
// Memory is the only implementation for now: a mutex-guarded, in-process
// store that lives and dies with its process. A later replicated, durable
// store implements the same methods.
package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNotFound is returned, wrapped, when no post has the requested id.
var ErrNotFound = errors.New("post not found")

// Post is one stored post.
type Post struct {
	// ID identifies the post; it is unique within a store.
	ID string `json:"id"`
	// Text is the post's body.
	Text string `json:"text"`
	// CreatedAt is when the post was first accepted.
	CreatedAt time.Time `json:"createdAt"`
	// Seq is the store's insertion order: 1 for the first post, then +1.
	Seq int64 `json:"seq"`
}

// Memory is an in-memory post store, safe for concurrent use. The zero
// value is not usable: call NewMemory.
type Memory struct {
	mu    sync.RWMutex    // guards byID and order
	byID  map[string]Post // every post by id
	order []Post          // every post in Seq order: order[i].Seq == i+1
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{byID: map[string]Post{}}
}

// Create stores p under p.ID and assigns its Seq. When a post with that id
// already exists, Create stores nothing and returns the existing post with
// created false, which makes creation idempotent by id. p.ID must not be
// empty.
func (m *Memory) Create(ctx context.Context, p Post) (stored Post, created bool, err error) {
	if err := ctx.Err(); err != nil {
		return Post{}, false, fmt.Errorf("create post: %w", err)
	}
	if p.ID == "" {
		return Post{}, false, errors.New("create post: empty id")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.byID[p.ID]; ok {
		return old, false, nil
	}
	p.Seq = int64(len(m.order)) + 1
	m.byID[p.ID] = p
	m.order = append(m.order, p)
	return p, true, nil
}

// Get returns the post with the given id, or an error wrapping ErrNotFound.
func (m *Memory) Get(ctx context.Context, id string) (Post, error) {
	if err := ctx.Err(); err != nil {
		return Post{}, fmt.Errorf("get post %q: %w", id, err)
	}
	m.mu.RLock()
	p, ok := m.byID[id]
	m.mu.RUnlock()
	if !ok {
		return Post{}, fmt.Errorf("get post %q: %w", id, ErrNotFound)
	}
	return p, nil
}

// Latest returns up to limit posts, newest (highest Seq) first. A limit
// below 1 returns no posts.
func (m *Memory) Latest(ctx context.Context, limit int) ([]Post, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("latest posts: %w", err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := min(max(limit, 0), len(m.order))
	out := make([]Post, 0, n)
	for i := len(m.order) - 1; i >= len(m.order)-n; i-- {
		out = append(out, m.order[i])
	}
	return out, nil
}
