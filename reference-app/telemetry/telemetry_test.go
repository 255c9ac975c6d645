package telemetry

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

func TestRoute(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"GET /v1/posts/{id}", "/v1/posts/{id}"},
		{"/v1/", "/v1/"},
		{"POST  /v1/posts", "/v1/posts"},
		{"", UnmatchedRoute},
	}
	for _, tt := range tests {
		if got := Route(tt.pattern); got != tt.want {
			t.Errorf("Route(%q) = %q; want %q", tt.pattern, got, tt.want)
		}
	}
}

func TestMethod(t *testing.T) {
	tests := []struct{ method, want string }{
		{"GET", "GET"},
		{"DELETE", "DELETE"},
		{"get", "other"},
		{"BREW", "other"},
	}
	for _, tt := range tests {
		if got := Method(tt.method); got != tt.want {
			t.Errorf("Method(%q) = %q; want %q", tt.method, got, tt.want)
		}
	}
}

func TestWrapLabelsByPattern(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewHTTPMetrics(reg, "api", nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/posts/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		io.WriteString(w, "post") // implicit 200
	})
	mux.HandleFunc("GET /abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	srv := httptest.NewServer(WithInstance("api-7", m.Wrap(mux)))
	defer srv.Close()

	for _, path := range []string{"/v1/posts/a", "/v1/posts/b", "/v1/posts/missing", "/nowhere", "/abort"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			if path == "/abort" {
				continue // the aborted handler closes the connection
			}
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if got := resp.Header.Get(InstanceHeader); got != "api-7" {
			t.Errorf("GET %s %s = %q; want api-7", path, InstanceHeader, got)
		}
	}
	tests := []struct {
		route, code string
		want        float64
	}{
		{"/v1/posts/{id}", "200", 2},
		{"/v1/posts/{id}", "404", 1},
		{UnmatchedRoute, "404", 1},
		{"/abort", "500", 1},
	}
	for _, tt := range tests {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(tt.route, "GET", tt.code)); got != tt.want {
			t.Errorf("refapp_http_requests_total{route=%q,code=%q} = %v; want %v", tt.route, tt.code, got, tt.want)
		}
	}
	if got := testutil.CollectAndCount(m.duration); got != 3 {
		t.Errorf("refapp_http_request_duration_seconds series = %d; want 3 (one per route)", got)
	}
	const want = `role="api"`
	out, err := testutil.CollectAndFormat(m.requests, expfmt.TypeTextPlain, "refapp_http_requests_total")
	if err != nil || !strings.Contains(string(out), want) {
		t.Errorf("refapp_http_requests_total = %s, %v; want a %s label", out, err, want)
	}
}

func TestNewRegistryHasRuntimeCollectors(t *testing.T) {
	families, err := NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range families {
		found[f.GetName()] = true
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if !found[name] {
			t.Errorf("NewRegistry().Gather() has no %s", name)
		}
	}
}

func TestNewHTTPMetricsTwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewHTTPMetrics(reg, "api", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewHTTPMetrics(reg, "api", nil); err == nil {
		t.Errorf("second NewHTTPMetrics on one registry = nil error; want a registration error")
	}
}
