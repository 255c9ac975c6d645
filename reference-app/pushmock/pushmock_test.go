package pushmock

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newServer(t *testing.T) (*Mock, *prometheus.Registry, string) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	m.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return m, reg, srv.URL
}

func post(t *testing.T, url, key, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+PushPath, strings.NewReader(body))
	if key != "" {
		req.Header.Set(IdempotencyHeader, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCountsDuplicatesByIdempotencyKey(t *testing.T) {
	_, reg, url := newServer(t)
	for _, p := range []struct{ key, event string }{
		{"post:1", "post:1"},
		{"post:2", "post:2"},
		{"post:1", "post:1"}, // a retry
		{"post:3", "post:3"},
		{"post:1", "post:1"}, // another
	} {
		body := `{"eventId":"` + p.event + `","userId":"u1","title":"hi"}`
		if code := post(t, url, p.key, body); code != http.StatusAccepted {
			t.Errorf("POST %s = %d; want 202", p.key, code)
		}
	}
	resp, err := http.Get(url + DeliveriesPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got Deliveries
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := Deliveries{Total: 5, Unique: 3, ByEvent: map[string]int{"post:1": 3, "post:2": 1, "post:3": 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GET %s = %+v; want %+v", DeliveriesPath, got, want)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP refapp_push_duplicates_total Pushes accepted whose Idempotency-Key had been seen before.
# TYPE refapp_push_duplicates_total counter
refapp_push_duplicates_total 2
# HELP refapp_push_received_total Pushes accepted, duplicates included.
# TYPE refapp_push_received_total counter
refapp_push_received_total 5
`)); err != nil {
		t.Error(err)
	}
}

func TestRefusesBadPushes(t *testing.T) {
	m, _, url := newServer(t)
	for _, tt := range []struct {
		key, body string
		want      int
	}{
		{"", `{"eventId":"post:1"}`, http.StatusBadRequest}, // no Idempotency-Key
		{"k", `{"eventId":`, http.StatusBadRequest},         // malformed
		{"k", `{"userId":"u"}`, http.StatusBadRequest},      // no eventId
		{"k", `{"eventId":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		if got := post(t, url, tt.key, tt.body); got != tt.want {
			t.Errorf("POST key %q body %.40q = %d; want %d", tt.key, tt.body, got, tt.want)
		}
	}
	if d := m.Deliveries(); d.Total != 0 || d.Unique != 0 || len(d.ByEvent) != 0 {
		t.Errorf("Deliveries() after refused pushes = %+v; want none", d)
	}
}
