package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// getSync answers GET /v1/sync/{clientId}: the post the user stored under
// that client-chosen id, through POST /v1/sync (clientId) or POST /v1/posts
// (Idempotency-Key), as the store's primary holds it now. It is the
// read-back of an offline client after a crash, and of a write probe that
// measures lost writes (RPO), so it never guesses:
//
//	200 Post  the primary holds the claim and the post it names
//	404       the primary holds no such claim, or a claim whose post never
//	          reached the store (its write was never acknowledged)
//	503       the store cannot answer now (down, failing over, breaker open)
//
// No cache and no last-good copy is consulted, and no error becomes a 404.
func (a *API) getSync(w http.ResponseWriter, r *http.Request) {
	clientID := r.PathValue("clientId")
	if e := checkID("clientId", clientID); e != nil {
		writeRequestError(w, e)
		return
	}
	p, err := a.claimedPost(r.Context(), userOf(r).Subject+"/"+clientID)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("clientId %q: no item stored under it", clientID))
	case err != nil:
		a.dependencyError(w, r, "read synced item", err)
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

// claimBuckets are the buckets whose claims name a post by a client-chosen
// key, in the order getSync looks.
var claimBuckets = []string{bucketSync, bucketIdempotency}

// claimedPost returns the stored post that a claim under key (userId/id)
// names, in the sync claims, else in the Idempotency-Key claims, reading
// only from the primary. It wraps ErrNotFound when no claim names a stored
// post, and any other error when the store could not say.
func (a *API) claimedPost(ctx context.Context, key string) (Post, error) {
	for _, bucket := range claimBuckets {
		var claim Post
		err := getPrimaryJSON(ctx, a.store, bucket, key, &claim)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return Post{}, fmt.Errorf("read claim: %w", err)
		}
		var p Post
		err = getPrimaryJSON(ctx, a.store, bucketPosts, claim.ID, &p)
		if errors.Is(err, ErrNotFound) {
			continue // claimed by a request that failed before storing it
		}
		if err != nil {
			return Post{}, fmt.Errorf("read claimed post: %w", err)
		}
		return p, nil
	}
	return Post{}, ErrNotFound
}

// getPrimaryJSON reads bucket/key from s's primary into v.
func getPrimaryJSON(ctx context.Context, s Store, bucket, key string, v any) error {
	raw, err := s.GetPrimary(ctx, bucket, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s/%s: %w", bucket, key, err)
	}
	return nil
}
