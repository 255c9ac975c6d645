package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var discardLog = slog.New(slog.DiscardHandler)

// startBackend serves a backend over st on 127.0.0.1 and returns its base
// URL. Its clock stands still at t0.
func startBackend(t *testing.T, st *store) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := newBackend(st, reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), discardLog, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// client is the tests' HTTP client.
var client = &http.Client{Timeout: 10 * time.Second}

// newRequest returns a request of method to url with body ("" for none).
func newRequest(method, url, body string) (*http.Request, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	return http.NewRequest(method, url, r)
}

// send sends method url with body ("" for none) and returns the status code,
// the body and the header of the answer.
func send(t *testing.T, method, url, body string) (int, string, http.Header) {
	t.Helper()
	req, err := newRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestBackendRoutes(t *testing.T) {
	base := startBackend(t, newMemoryStore())
	big := `{"text":"` + strings.Repeat("x", maxBody) + `"}`
	// The rows run in order against one backend: later rows see earlier writes.
	tests := []struct {
		name, method, path, body string
		wantCode                 int
		wantBody                 string // a substring of the answer
	}{
		{"missing note", "GET", "/v1/notes/a", "", 404, `{"error":"note \"a\" not found"}`},
		{"empty list", "GET", "/v1/notes", "", 200, `{"notes":[]}`},
		{"new note", "PUT", "/v1/notes/a", `{"text":"hello"}`, 201, `"id":"a","text":"hello","created":"2025-11-20T09:00:00Z"`},
		{"read it", "GET", "/v1/notes/a", "", 200, `"text":"hello"`},
		{"replace it", "PUT", "/v1/notes/a", `{"text":"hello again"}`, 200, `"text":"hello again"`},
		{"empty text is a note", "PUT", "/v1/notes/b", `{"text":""}`, 201, `"id":"b","text":""`},
		// Newest write first.
		{"list", "GET", "/v1/notes", "", 200, `{"notes":[{"id":"b",`},
		{"list capped", "GET", "/v1/notes?limit=1", "", 200, `"text":""`},
		{"limit 0", "GET", "/v1/notes?limit=0", "", 400, `limit \"0\": want 1 to 1000`},
		{"limit not a number", "GET", "/v1/notes?limit=all", "", 400, `limit \"all\"`},
		{"bad JSON", "PUT", "/v1/notes/c", `{"text":`, 400, "bad JSON"},
		{"text not a string", "PUT", "/v1/notes/c", `{"text":1}`, 400, "bad JSON"},
		{"unknown field", "PUT", "/v1/notes/c", `{"text":"x","tags":[]}`, 400, `unknown field \"tags\"`},
		{"two values", "PUT", "/v1/notes/c", `{"text":"x"} {}`, 400, "more than one value"},
		{"no text", "PUT", "/v1/notes/c", `{}`, 400, `no \"text\"`},
		{"no body", "PUT", "/v1/notes/c", "", 400, "bad JSON"},
		{"body over 64 KiB", "PUT", "/v1/notes/c", big, 413, "request body over 65536 bytes"},
		{"bad id", "PUT", "/v1/notes/a%20b", `{"text":"x"}`, 400, `note id \"a b\"`},
		{"id too long", "GET", "/v1/notes/" + strings.Repeat("i", maxIDLen+1), "", 400, "want 1 to 128"},
		{"none of the refused writes landed", "GET", "/v1/notes/c", "", 404, "not found"},
		{"health", "GET", "/healthz", "", 200, `{"status":"ok"}`},
		{"no such route", "GET", "/v2/notes", "", 404, ""},
		{"no such method", "DELETE", "/v1/notes/a", "", 405, ""},
	}
	for _, tt := range tests {
		code, body, _ := send(t, tt.method, base+tt.path, tt.body)
		if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s: %s %s = %d %.200s; want %d and a body containing %s", tt.name, tt.method, tt.path, code, body, tt.wantCode, tt.wantBody)
		}
	}

	_, metrics, _ := send(t, "GET", base+"/metrics", "")
	for _, series := range []string{
		`notes_http_requests_total{code="201",route="put_note"} 2`,
		`notes_http_requests_total{code="200",route="put_note"} 1`,
		`notes_http_requests_total{code="413",route="put_note"} 1`,
		`notes_http_requests_total{code="404",route="get_note"} 2`,
		`notes_http_requests_total{code="400",route="list_notes"} 2`,
		`notes_http_requests_total{code="405",route="unmatched"} 1`,
		`notes_http_request_duration_seconds_count{route="put_note"} 11`,
	} {
		if !strings.Contains(metrics, series+"\n") {
			t.Errorf("GET /metrics has no line %q", series)
		}
	}
}

func TestBackendLocationOfANewNote(t *testing.T) {
	base := startBackend(t, newMemoryStore())
	if code, _, h := send(t, "PUT", base+"/v1/notes/n-1", `{"text":"x"}`); code != 201 || h.Get("Location") != "/v1/notes/n-1" {
		t.Errorf("PUT /v1/notes/n-1 = %d, Location %q; want 201, /v1/notes/n-1", code, h.Get("Location"))
	}
	if code, _, h := send(t, "PUT", base+"/v1/notes/n-1", `{"text":"y"}`); code != 200 || h.Get("Location") != "" {
		t.Errorf("PUT /v1/notes/n-1 again = %d, Location %q; want 200, none", code, h.Get("Location"))
	}
}

func TestBackendDurableAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.jsonl")
	st, _, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	base := startBackend(t, st)
	for _, w := range []struct{ id, body string }{{"a", `{"text":"1"}`}, {"b", `{"text":"2"}`}, {"a", `{"text":"3"}`}} {
		if code, body, _ := send(t, "PUT", base+"/v1/notes/"+w.id, w.body); code/100 != 2 {
			t.Fatalf("PUT /v1/notes/%s = %d %s; want 2xx", w.id, code, body)
		}
	}
	st.Close() // as the process does once it stops

	st, _, err = openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base = startBackend(t, st)
	if code, body, _ := send(t, "GET", base+"/v1/notes/a", ""); code != 200 || !strings.Contains(body, `"text":"3"`) {
		t.Errorf("after restart GET /v1/notes/a = %d %s; want 200 with text 3", code, body)
	}
	if code, body, _ := send(t, "GET", base+"/v1/notes", ""); code != 200 || !strings.Contains(body, `{"notes":[{"id":"a",`) || !strings.Contains(body, `"id":"b"`) {
		t.Errorf("after restart GET /v1/notes = %d %s; want a then b", code, body)
	}
}

func TestBackendChunkedBodyOverLimit(t *testing.T) {
	base := startBackend(t, newMemoryStore())
	// A reader of unknown length: sent chunked, with no Content-Length.
	body := io.MultiReader(strings.NewReader(`{"text":"`), strings.NewReader(strings.Repeat("x", maxBody)), strings.NewReader(`"}`))
	req, err := http.NewRequest("PUT", base+"/v1/notes/c", body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.ContentLength != 0 || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked PUT of %d bytes (Content-Length %d) = %d; want 413", maxBody+12, req.ContentLength, resp.StatusCode)
	}
}
