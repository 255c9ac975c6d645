package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Request headers of POST /v1/posts and its answer.
const (
	// IdempotencyKeyHeader makes a POST /v1/posts retry-safe: the same
	// user with the same key always gets the same post.
	IdempotencyKeyHeader = "Idempotency-Key"
	// ReplayedHeader is "true" on an answer that replays an earlier post.
	ReplayedHeader = "Idempotent-Replayed"
)

// NewPost is the body of POST /v1/posts.
type NewPost struct {
	// Text is required, at most MaxTextRunes characters.
	Text string `json:"text"`
}

// SyncRequest is the body of POST /v1/sync: posts written offline.
type SyncRequest struct {
	DeviceID string     `json:"deviceId"`
	Items    []SyncItem `json:"items"`
}

// SyncItem is one post written offline, named by its client.
type SyncItem struct {
	// ClientID names the post on its client; unique per user.
	ClientID string `json:"clientId"`
	Text     string `json:"text"`
}

// SyncResponse is the answer of POST /v1/sync: one result per item, in
// order.
type SyncResponse struct {
	Items []SyncResult `json:"items"`
}

// SyncResult says which post an item is.
type SyncResult struct {
	ClientID string `json:"clientId"`
	// ID is the post's id: the same on every retry of the item.
	ID string `json:"id"`
	// Created is false when an earlier request already stored the item.
	Created bool `json:"created"`
}

func (a *API) createPost(w http.ResponseWriter, r *http.Request) {
	var req NewPost
	if e := decode(w, r, a.o.maxBody, &req); e != nil {
		writeRequestError(w, e)
		return
	}
	if e := checkText("text", req.Text); e != nil {
		writeRequestError(w, e)
		return
	}
	key, keyed := "", r.Header.Get(IdempotencyKeyHeader) != ""
	if keyed {
		key = r.Header.Get(IdempotencyKeyHeader)
		if e := checkID(IdempotencyKeyHeader, key); e != nil {
			writeRequestError(w, e)
			return
		}
	}
	c := userOf(r)
	now := a.o.now().UTC()
	p := Post{ID: newPostID(now), UserID: c.Subject, Text: req.Text, CreatedAt: now}
	var (
		posts   []Post
		created []bool
		err     error
	)
	if keyed {
		posts, created, err = a.createPosts(r.Context(), []Post{p}, bucketIdempotency, []string{c.Subject + "/" + key})
	} else {
		posts, created, err = a.createPosts(r.Context(), []Post{p}, "", nil)
	}
	if err != nil {
		a.dependencyError(w, r, "create post", err)
		return
	}
	if !created[0] {
		w.Header().Set(ReplayedHeader, "true")
	}
	w.Header().Set("Location", "/v1/posts/"+posts[0].ID)
	writeJSON(w, http.StatusCreated, posts[0])
}

func (a *API) sync(w http.ResponseWriter, r *http.Request) {
	var req SyncRequest
	if e := decode(w, r, a.o.maxBody, &req); e != nil {
		writeRequestError(w, e)
		return
	}
	if e := checkSync(req); e != nil {
		writeRequestError(w, e)
		return
	}
	c := userOf(r)
	now := a.o.now().UTC()
	posts := make([]Post, len(req.Items))
	keys := make([]string, len(req.Items))
	for i, it := range req.Items {
		posts[i] = Post{ID: newPostID(now.Add(time.Duration(i))), UserID: c.Subject, Text: it.Text, CreatedAt: now, ClientID: it.ClientID}
		keys[i] = c.Subject + "/" + it.ClientID
	}
	stored, created, err := a.createPosts(r.Context(), posts, bucketSync, keys)
	if err != nil {
		a.dependencyError(w, r, "sync", err)
		return
	}
	resp := SyncResponse{Items: make([]SyncResult, len(stored))}
	for i, p := range stored {
		resp.Items[i] = SyncResult{ClientID: req.Items[i].ClientID, ID: p.ID, Created: created[i]}
	}
	writeJSON(w, http.StatusOK, resp)
}

// checkSync validates a sync batch, naming the first bad field.
func checkSync(req SyncRequest) *requestError {
	if e := checkID("deviceId", req.DeviceID); e != nil {
		return e
	}
	if n := len(req.Items); n < 1 || n > MaxSyncItems {
		return badRequest("items: want 1 to %d items, got %d", MaxSyncItems, n)
	}
	seen := make(map[string]int, len(req.Items))
	for i, it := range req.Items {
		if e := checkID(fmt.Sprintf("items[%d].clientId", i), it.ClientID); e != nil {
			return e
		}
		if j, dup := seen[it.ClientID]; dup {
			return badRequest("items[%d].clientId %q: repeats items[%d]", i, it.ClientID, j)
		}
		seen[it.ClientID] = i
		if e := checkText(fmt.Sprintf("items[%d].text", i), it.Text); e != nil {
			return e
		}
	}
	return nil
}

// createPosts stores posts, each exactly once, with their notification
// events in the outbox of the same write, then publishes the events. With
// a claim bucket, posts[i] is first claimed under keys[i] by put_if_absent:
// a key claimed before gives back the post of that claim (created false)
// instead of a new one, and if that post never reached the store (the
// earlier request failed between its two writes) it is stored now. So a
// request retried any number of times, or sent twice at once, stores its
// posts once and answers the same ids.
func (a *API) createPosts(ctx context.Context, posts []Post, claimBucket string, keys []string) ([]Post, []bool, error) {
	created := make([]bool, len(posts))
	for i := range created {
		created[i] = true
	}
	write := make([]bool, len(posts)) // posts to store in the second write
	if claimBucket == "" {
		for i := range write {
			write[i] = true
		}
	} else {
		ops := make([]Op, len(posts))
		for i, p := range posts {
			ops[i] = putIfAbsent(claimBucket, keys[i], p)
		}
		applied, err := a.store.Write(ctx, ops)
		if err != nil {
			return nil, nil, fmt.Errorf("claim: %w", err)
		}
		posts = append([]Post(nil), posts...)
		for i := range posts {
			if applied[i] {
				write[i] = true
				continue
			}
			created[i] = false
			posts[i] = Post{}
			if err := getJSON(ctx, a.store, claimBucket, keys[i], &posts[i]); err != nil { //nolint:gosec // G602: i ranges over posts
				return nil, nil, fmt.Errorf("read claim: %w", err)
			}
			var stored Post
			err := getJSON(ctx, a.store, bucketPosts, posts[i].ID, &stored)
			switch {
			case err == nil:
				posts[i] = stored
			case errors.Is(err, ErrNotFound):
				write[i] = true // claimed, never stored: finish it
			default:
				return nil, nil, fmt.Errorf("read claimed post: %w", err)
			}
		}
	}
	var ops []Op
	var events []Event
	for i, p := range posts {
		if !write[i] {
			continue
		}
		ops = append(ops, putIfAbsent(bucketPosts, p.ID, p))
		if a.queue != nil {
			e := eventOf(p)
			ops = append(ops, putIfAbsent(bucketOutbox, e.EventID, e))
			events = append(events, e)
		}
	}
	if len(ops) > 0 {
		if _, err := a.store.Write(ctx, ops); err != nil {
			return nil, nil, fmt.Errorf("store posts: %w", err)
		}
	}
	a.publish(context.WithoutCancel(ctx), events)
	return posts, created, nil
}
