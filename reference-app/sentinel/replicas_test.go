package sentinel_test

import (
	"encoding/json"
	"io"
	"testing"

	"github.com/gameday/gameday/reference-app/kvstore"
	"github.com/gameday/gameday/reference-app/kvstore/kvstoretest"
	"github.com/gameday/gameday/reference-app/sentinel"
)

// getJSON decodes the answer of GET url into v and returns its status.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %s: %v", url, b, err)
	}
	return resp.StatusCode
}

// TestReplicasEndpoint: the replicas that follow the primary at the epoch,
// by client URL; a replica that is down or follows another node is left
// out. The 503 of /v1/primary carries the epoch.
func TestReplicasEndpoint(t *testing.T) {
	a := kvstoretest.Start(t, "", append(kvstoretest.FastOptions, kvstore.WithNode("a"))...)
	b := replicaOf(t, "b", a)
	c := replicaOf(t, "c", a)
	stores := []sentinel.Store{store("a", a), {Name: "b", URL: b.URL, ClientURL: "http://127.0.0.1:9", ReplURL: b.URL}, store("c", c)}
	s := startSentinel(t, stores)
	s.waitPrimary(t, "a", 1)
	var reps sentinel.Replicas
	kvstoretest.WaitFor(t, wait, "b and c listed", func() bool {
		return getJSON(t, s.URL+"/v1/replicas", &reps) == 200 && len(reps.Replicas) == 2
	})
	want := sentinel.Replicas{Epoch: 1, Replicas: []sentinel.Replica{{Name: "b", URL: "http://127.0.0.1:9"}, {Name: "c", URL: c.URL}}}
	if reps.Epoch != want.Epoch || reps.Replicas[0] != want.Replicas[0] || reps.Replicas[1] != want.Replicas[1] {
		t.Errorf("GET /v1/replicas = %+v; want %+v", reps, want)
	}
	c.Cut()
	kvstoretest.WaitFor(t, wait, "c left out while it does not answer", func() bool {
		return getJSON(t, s.URL+"/v1/replicas", &reps) == 200 && len(reps.Replicas) == 1 && reps.Replicas[0].Name == "b"
	})
	// Every store down: no primary, no replica; the 503 still says the epoch.
	for _, n := range []*kvstoretest.Node{a, b} {
		n.Cut()
	}
	var e kvstore.ErrorBody
	kvstoretest.WaitFor(t, wait, "no primary known", func() bool { return getJSON(t, s.URL+"/v1/primary", &e) == 503 })
	if e.Epoch != 1 {
		t.Errorf("503 of /v1/primary = %+v; want epoch 1", e)
	}
	if getJSON(t, s.URL+"/v1/replicas", &reps); len(reps.Replicas) != 0 {
		t.Errorf("GET /v1/replicas with no primary = %+v; want none", reps)
	}
}
