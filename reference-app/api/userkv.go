package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// KVValue is the body of PUT /v1/kv/{key}: one JSON value of any type but
// null (a string, number, boolean, array or object), at most the api's max
// body size with its envelope.
type KVValue struct {
	Value json.RawMessage `json:"value"`
}

// KVItem is the answer of GET /v1/kv/{key}: the key and its value as the
// store holds it (the JSON value that was put, without insignificant
// whitespace).
type KVItem struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// putKV answers PUT /v1/kv/{key}: it sets the caller's key to the body's
// value, the way a mobile app syncs a small setting or draft. It is the
// write half of gameday's RPO write probe, so a request that reaches the
// store makes exactly one store write, of exactly one op:
//
//	put userkv <userId>/<key> <value>
//
// and nothing else (no claim, no outbox record, no cache write, no event).
// It answers 204 only once the store acknowledged that write, so one
// acknowledged PUT is one entry of the store's log, and a failover that
// discards N acknowledged PUTs adds N to refapp_store_discarded_writes_total:
//
//	204      the store acknowledged the write (in sync replication mode: a
//	         replica applied it)
//	400/413  a bad key or body; nothing is written
//	503      the store did not acknowledge (down, failing over, breaker
//	         open, a sync write no replica applied in time); the write may
//	         or may not be in the store's log
//
// A PUT is idempotent: sent again with the same value it leaves the same
// state, but it is another write and another log entry.
func (a *API) putKV(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if e := checkID("key", key); e != nil {
		writeRequestError(w, e)
		return
	}
	var body KVValue
	if e := decode(w, r, a.o.maxBody, &body); e != nil {
		writeRequestError(w, e)
		return
	}
	if len(body.Value) == 0 || string(body.Value) == "null" {
		writeRequestError(w, badRequest("value is required: any JSON value but null"))
		return
	}
	op := Op{Op: "put", Bucket: bucketUserKV, Key: userOf(r).Subject + "/" + key, Value: body.Value}
	if _, err := a.store.Write(r.Context(), []Op{op}); err != nil {
		a.dependencyError(w, r, "put value", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getKV answers GET /v1/kv/{key}: the caller's value under key as the
// store's current primary holds it (Store.GetPrimary), the read half of the
// RPO write probe. It never guesses:
//
//	200 KVItem  the primary holds the key
//	404         the primary does not hold it (never put, or put and lost)
//	503         the store cannot say now (down, failing over, breaker open)
//
// No cache and no replica is consulted, and no error becomes a 404.
func (a *API) getKV(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if e := checkID("key", key); e != nil {
		writeRequestError(w, e)
		return
	}
	v, err := a.store.GetPrimary(r.Context(), bucketUserKV, userOf(r).Subject+"/"+key)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("key %q: no value stored under it", key))
	case err != nil:
		a.dependencyError(w, r, "read value", err)
	default:
		writeJSON(w, http.StatusOK, KVItem{Key: key, Value: v})
	}
}
