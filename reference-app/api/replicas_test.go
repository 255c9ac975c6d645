package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeReplica answers GET /v1/list as a store replica would, in the mode
// set: "fresh" (200, within 100ms), "stale" (503 too stale), "blind" (200
// without a staleness promise), "hang" (no answer).
type fakeReplica struct {
	mode  atomic.Value
	bound atomic.Value // the X-Max-Staleness it was asked for
	srv   *httptest.Server
}

func newFakeReplica(t *testing.T, mode string) *fakeReplica {
	r := &fakeReplica{}
	r.mode.Store(mode)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.bound.Store(req.Header.Get(maxStalenessHeader))
		w.Header().Set("Content-Type", "application/json")
		item := Item{Key: "p-replica", Value: mustJSON(Post{ID: "p-replica", Text: "from the replica"})}
		switch r.mode.Load().(string) {
		case "fresh":
			w.Header().Set(stalenessHeader, "100ms")
			_ = json.NewEncoder(w).Encode(map[string]any{"items": []Item{item}})
		case "stale":
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "too stale: stale by up to 3s, over 1s"})
		case "hang": // a frozen replica: never answers
			select {
			case <-req.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		case "blind":
			_ = json.NewEncoder(w).Encode(map[string]any{"items": []Item{item}})
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

type replicaList []Primary

func (l replicaList) Replicas() []Primary { return l }

func TestFeedFromReadReplicas(t *testing.T) {
	rep := newFakeReplica(t, "fresh")
	f := newFixture(t, setup{})
	reg := prometheus.NewRegistry()
	// The fixture's API has no replicas: rebuild it with one.
	rc := NewReplicaClient(replicaList{{Name: "store-2", URL: rep.srv.URL}}, 1e9)
	a, err := New(Deps{Store: NewStoreClient(FixedPrimary(f.store.URL())), Replicas: rc},
		testSecret, "api-test", WithRegisterer(reg), WithFeedFresh(0))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, token := f.user("ann")
	f.post(token, "on the primary")
	feed := func() (string, []Post) {
		resp, err := http.Get(srv.URL + "/v1/feed")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var fd Feed
		if err := json.NewDecoder(resp.Body).Decode(&fd); err != nil || resp.StatusCode != 200 {
			t.Fatalf("feed = %d, %v", resp.StatusCode, err)
		}
		return resp.Header.Get(ReadFromHeader), fd.Items
	}
	for _, tt := range []struct {
		mode, from, first string
		result            string
	}{
		{"fresh", "store-2", "p-replica", replicaServed}, // the replica promises the bound
		{"stale", "primary", "", replicaTooStale},        // it cannot: the primary serves
		{"blind", "primary", "", replicaFailed},          // a 200 without a promise is not used
		{"fresh", "primary", "", replicaNone},            // and that replica is left out for a while
		{"back", "store-2", "p-replica", replicaServed},  // after the leave-out
		{"hang", "primary", "", replicaFailed},           // a frozen replica: the primary serves after the replica timeout
	} {
		if tt.mode == "back" {
			rc.mu.Lock()
			clear(rc.skipUntil) // the leave-out's end
			rc.mu.Unlock()
			tt.mode = "fresh"
		}
		rep.mode.Store(tt.mode)
		before := metric(t, reg, "refapp_api_replica_reads_total", map[string]string{"result": tt.result})
		from, items := feed()
		if from != tt.from || len(items) == 0 || (tt.first != "" && items[0].ID != tt.first) || (tt.first == "" && items[0].Text != "on the primary") {
			t.Errorf("replica %s: feed read from %q, items %v; want from %q", tt.mode, from, items, tt.from)
		}
		if got := metric(t, reg, "refapp_api_replica_reads_total", map[string]string{"result": tt.result}); got != before+1 {
			t.Errorf("replica %s: refapp_api_replica_reads_total{result=%q} = %v; want %v", tt.mode, tt.result, got, before+1)
		}
	}
	if got := rep.bound.Load(); got != "1s" {
		t.Errorf("the replica was asked for staleness %q; want 1s", got)
	}
}
