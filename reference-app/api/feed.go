package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Headers of a feed answer.
const (
	// CacheHeader says how the cache took part: hit (the answer is the
	// cached copy), miss (rebuilt from the store and cached), bypass (the
	// cache is unavailable or not configured).
	CacheHeader = "X-Refapp-Cache"
	// StaleHeader is "true" on an answer built from an old copy because
	// the store was unavailable; Warning then says 110 too.
	StaleHeader  = "X-Refapp-Stale"
	staleWarning = `110 - "Response is Stale"`
)

// feedCacheKey is the cache key of the feed: the MaxFeedLimit newest
// posts, from which every ?limit is cut.
const feedCacheKey = "feed"

// feedCopy is a copy of the feed as cached: the MaxFeedLimit newest posts
// and when they were read from the store.
type feedCopy struct {
	BuiltAt time.Time `json:"builtAt"`
	Items   []Post    `json:"items"`
}

// lastGood is the newest feed this process read from the store, so that a
// read is answered even when the store and the cache are both down.
type lastGood struct {
	mu   sync.Mutex // guards feed
	feed *feedCopy
}

// set keeps f if it is newer than the copy held.
func (l *lastGood) set(f *feedCopy) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.feed == nil || f.BuiltAt.After(l.feed.BuiltAt) {
		l.feed = f
	}
}

func (l *lastGood) get() *feedCopy {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.feed
}

// newer returns the newer of two copies, either of which may be nil.
func newer(a, b *feedCopy) *feedCopy {
	if a == nil || (b != nil && b.BuiltAt.After(a.BuiltAt)) {
		return b
	}
	return a
}

// feed serves the newest posts, cache-aside: a cached copy younger than
// the fresh window as it is; else the store's, which is then cached; when
// the store fails, the newest copy this process or the cache holds,
// marked stale; 503 only when there is no copy at all.
func (a *API) feed(w http.ResponseWriter, r *http.Request) {
	limit := DefaultFeedLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeRequestError(w, badRequest("limit %q: want an integer from 1 to %d", s, MaxFeedLimit))
			return
		}
		limit = min(n, MaxFeedLimit)
	}
	ctx := r.Context()
	cached, cacheState := a.cachedFeed(ctx)
	w.Header().Set(CacheHeader, cacheState)
	if cached != nil && a.o.now().Sub(cached.BuiltAt) < a.o.feedFresh {
		a.m.served(sourceCache)
		a.writeFeed(w, cached, limit)
		return
	}
	fresh, from, err := a.storeFeed(ctx)
	if err == nil {
		w.Header().Set(ReadFromHeader, from)
		a.lastGood.set(fresh)
		if cacheState != "bypass" {
			w.Header().Set(CacheHeader, "miss")
			if err := a.cache.Put(ctx, feedCacheKey, mustJSON(fresh), a.o.feedCacheTTL); err != nil {
				a.o.log.Debug("cache the feed", "err", err)
			}
		}
		a.m.served(sourceStore)
		a.writeFeed(w, fresh, limit)
		return
	}
	if old := newer(cached, a.lastGood.get()); old != nil {
		a.o.log.Debug("serving a stale feed", "builtAt", old.BuiltAt, "err", err)
		markStale(w)
		a.m.served(sourceStale)
		a.writeFeed(w, old, limit)
		return
	}
	a.dependencyError(w, r, "feed", err)
}

// cachedFeed returns the cached feed (nil when there is none) and the
// cache state for CacheHeader: hit, miss or bypass.
func (a *API) cachedFeed(ctx context.Context) (*feedCopy, string) {
	if a.cache == nil {
		return nil, "bypass"
	}
	b, err := a.cache.Get(ctx, feedCacheKey)
	if errors.Is(err, ErrNotFound) {
		return nil, "miss"
	}
	if err != nil {
		return nil, "bypass"
	}
	var f feedCopy
	if err := json.Unmarshal(b, &f); err != nil {
		a.o.log.Warn("undecodable cached feed", "err", err)
		return nil, "miss"
	}
	return &f, "hit"
}

// storeFeed reads the newest posts from the store: from a read replica
// within its staleness bound when there is one, else from the primary. It
// returns the node read from (a replica's name, or "primary").
func (a *API) storeFeed(ctx context.Context) (*feedCopy, string, error) {
	builtAt := a.o.now().UTC()
	items, from, err := a.readFeedItems(ctx)
	if err != nil {
		return nil, "", err
	}
	f := &feedCopy{BuiltAt: builtAt, Items: make([]Post, 0, len(items))}
	for _, it := range items {
		var p Post
		if err := json.Unmarshal(it.Value, &p); err != nil {
			return nil, "", fmt.Errorf("decode post %s: %w", it.Key, err)
		}
		f.Items = append(f.Items, p)
	}
	return f, from, nil
}

// readFeedItems lists the newest posts from a read replica, or from the
// primary when none can promise its bound.
func (a *API) readFeedItems(ctx context.Context) ([]Item, string, error) {
	if a.replicas != nil {
		items, name, _, err := a.replicas.ListReplica(ctx, bucketPosts, "", MaxFeedLimit, true)
		switch {
		case err == nil:
			a.m.replicaRead(replicaServed)
			return items, name, nil
		case errors.Is(err, errNoReplica):
			a.m.replicaRead(replicaNone)
		case errors.Is(err, errTooStale):
			a.m.replicaRead(replicaTooStale)
		case ctx.Err() != nil:
			return nil, "", err
		default:
			a.m.replicaRead(replicaFailed)
		}
		a.o.log.Debug("feed from the primary: no replica within the bound", "err", err)
	}
	items, err := a.store.List(ctx, bucketPosts, "", MaxFeedLimit, true)
	return items, "primary", err
}

func (a *API) writeFeed(w http.ResponseWriter, f *feedCopy, limit int) {
	items := f.Items
	if len(items) > limit {
		items = items[:limit]
	}
	writeJSON(w, http.StatusOK, Feed{Items: items, BuiltAt: f.BuiltAt, Instance: a.instance})
}

// markStale marks an answer built from an old copy.
func markStale(w http.ResponseWriter) {
	w.Header().Set(StaleHeader, "true")
	w.Header().Set("Warning", staleWarning)
}

// getPost answers one post from the store; when the store fails, from the
// newest feed copy that holds it, marked stale.
func (a *API) getPost(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var p Post
	err := getJSON(r.Context(), a.store, bucketPosts, id, &p)
	if err == nil {
		writeJSON(w, http.StatusOK, p)
		return
	}
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("post %q not found", id))
		return
	}
	cached, _ := a.cachedFeed(r.Context())
	for _, f := range []*feedCopy{newer(cached, a.lastGood.get()), cached, a.lastGood.get()} {
		if f == nil {
			continue
		}
		for _, p := range f.Items {
			if p.ID == id {
				markStale(w)
				writeJSON(w, http.StatusOK, p)
				return
			}
		}
	}
	a.dependencyError(w, r, "get post", err)
}
