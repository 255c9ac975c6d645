package load

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestTargeterStatic(t *testing.T) {
	var seq atomic.Uint64
	tr, err := newTargeter(Request{Name: "feed", URL: "/v1/feed", Body: "b", Header: map[string]string{"x-token": "t"}}, targetFacts{base: "http://h:1"}, "p-", &seq)
	if err != nil {
		t.Fatalf("newTargeter() error: %v", err)
	}
	var got vegeta.Target
	for range 2 {
		if err := tr.fill(&got); err != nil {
			t.Fatalf("fill() error: %v", err)
		}
	}
	want := vegeta.Target{Method: "GET", URL: "http://h:1/v1/feed", Body: []byte("b"), Header: http.Header{"X-Token": {"t"}}}
	if !got.Equal(&want) {
		t.Errorf("fill() = %+v; want %+v", got, want)
	}
	if n := seq.Load(); n != 0 {
		t.Errorf("after fill() of a static request, seq = %d; want 0 (no template, no number)", n)
	}
}

func TestTargeterTemplates(t *testing.T) {
	var seq atomic.Uint64
	seq.Store(41)
	tr, err := newTargeter(Request{
		Name:   "post",
		Method: "POST",
		URL:    "{{.Base}}/v1/posts/{{.ID}}",
		Body:   `{"seq":{{.Seq}}}`,
		Header: map[string]string{"x-seq": "{{.Seq}}", "content-type": "application/json"},
	}, targetFacts{base: "http://h:1"}, "p-", &seq)
	if err != nil {
		t.Fatalf("newTargeter() error: %v", err)
	}
	var got vegeta.Target
	if err := tr.fill(&got); err != nil {
		t.Fatalf("fill() error: %v", err)
	}
	want := vegeta.Target{
		Method: "POST",
		URL:    "http://h:1/v1/posts/p-41",
		Body:   []byte(`{"seq":41}`),
		Header: http.Header{"X-Seq": {"41"}, "Content-Type": {"application/json"}},
	}
	if !got.Equal(&want) {
		t.Errorf("fill() = %+v; want %+v", got, want)
	}
	if n := seq.Load(); n != 42 {
		t.Errorf("after fill(), seq = %d; want 42", n)
	}
}

// {{.Token}} is the stream's token, in every request.
func TestRunSendsStreamToken(t *testing.T) {
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Header.Get("Authorization"):
		default:
		}
	}))
	defer srv.Close()
	s := Stream{Name: "s", Rate: vegeta.Rate{Freq: 100, Per: time.Second}, Duration: 30 * time.Millisecond, Token: "tok-1",
		Requests: []Request{{Name: "feed", Weight: 1, URL: "/v1/feed", Header: map[string]string{"Authorization": "Bearer {{.Token}}"}}}}
	if _, err := Run(context.Background(), s, srv.URL); err != nil {
		t.Fatal(err)
	}
	close(got)
	n := 0
	for h := range got {
		n++
		if h != "Bearer tok-1" {
			t.Errorf("Authorization = %q; want %q", h, "Bearer tok-1")
		}
	}
	if n == 0 {
		t.Error("no request reached the server")
	}
}

// Workers call a targeter concurrently: every request gets its own number and
// its own body and header.
func TestTargeterConcurrent(t *testing.T) {
	var seq atomic.Uint64
	tr, err := newTargeter(Request{Name: "r", URL: "/{{.Seq}}", Body: "{{.Seq}}", Header: map[string]string{"x-seq": "{{.Seq}}"}}, targetFacts{base: "http://h:1"}, "p-", &seq)
	if err != nil {
		t.Fatalf("newTargeter() error: %v", err)
	}
	const workers, each = 8, 200
	seen := make([][]uint64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				var tgt vegeta.Target
				if err := tr.fill(&tgt); err != nil {
					t.Errorf("fill() error: %v", err)
					return
				}
				n, err := strconv.ParseUint(strings.TrimPrefix(tgt.URL, "http://h:1/"), 10, 64)
				if err != nil || string(tgt.Body) != tgt.Header.Get("X-Seq") || string(tgt.Body) != strconv.FormatUint(n, 10) {
					t.Errorf("fill() = %s %q %v; want one number in URL, body and header", tgt.URL, tgt.Body, tgt.Header)
					return
				}
				seen[w] = append(seen[w], n)
			}
		})
	}
	wg.Wait()
	all := make([]bool, workers*each)
	for _, ns := range seen {
		for _, n := range ns {
			if n >= uint64(len(all)) || all[n] {
				t.Fatalf("fill() gave seq %d twice or out of range [0, %d)", n, len(all))
			}
			all[n] = true
		}
	}
}

func BenchmarkTargeter(b *testing.B) {
	reqs := map[string]Request{
		"static": {Name: "feed", URL: "/v1/feed", Header: map[string]string{"authorization": "Bearer x"}},
		"templated": {Name: "post", Method: "POST", URL: "{{.Base}}/v1/posts/{{.ID}}", Body: `{"text":"post {{.Seq}}"}`,
			Header: map[string]string{"authorization": "Bearer x", "x-request-id": "{{.ID}}"}},
	}
	for _, name := range []string{"static", "templated"} {
		b.Run(name, func(b *testing.B) {
			var seq atomic.Uint64
			tr, err := newTargeter(reqs[name], targetFacts{base: "http://127.0.0.1:4312"}, "0123456789ab-", &seq)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var tgt vegeta.Target
				for pb.Next() {
					if err := tr.fill(&tgt); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func TestTargeterTargetFacts(t *testing.T) {
	var seq atomic.Uint64
	tf := targetFacts{
		base:   "http://h:1",
		urls:   map[string]string{"admin": "http://admin:2"},
		header: http.Header{"Authorization": {"Bearer secret"}, "X-Both": {"target"}},
		funcs:  template.FuncMap{"env": func(name string) string { return "v-" + name }},
	}
	tr, err := newTargeter(Request{Name: "r", URL: `{{.URL "admin"}}/x`, Body: `{{env "K"}}`, Header: map[string]string{"x-both": "own"}}, tf, "p-", &seq)
	if err != nil {
		t.Fatalf("newTargeter() error: %v", err)
	}
	var tgt vegeta.Target
	if err := tr.fill(&tgt); err != nil {
		t.Fatal(err)
	}
	if tgt.URL != "http://admin:2/x" || string(tgt.Body) != "v-K" {
		t.Errorf("fill() = %s %q; want http://admin:2/x and body v-K", tgt.URL, tgt.Body)
	}
	if got := tgt.Header.Get("Authorization"); got != "Bearer secret" {
		t.Errorf("Authorization = %q; want the target's header", got)
	}
	if got := tgt.Header.Get("X-Both"); got != "own" {
		t.Errorf("X-Both = %q; want the request's own header to win", got)
	}
	if _, err := newTargeter(Request{Name: "r", URL: `{{.URL "nope"}}/x`}, tf, "p-", &seq); err == nil || !strings.Contains(err.Error(), `unknown URL "nope"`) {
		t.Errorf("newTargeter(unknown URL) error = %v; want unknown URL", err)
	}
}

// fill renders the entry's next request as a vegeta.Target, through the
// path Run's workers take (next), for tests that read targets.
func (t *targeter) fill(tgt *vegeta.Target) error {
	var c composed
	if err := t.next(&c); err != nil {
		return err
	}
	if len(c.hvals) != len(t.headerTmpl) {
		return fmt.Errorf("next() gave %d templated header values for %d headers", len(c.hvals), len(t.headerTmpl))
	}
	var h http.Header
	if len(t.pairs)+len(c.hvals) > 0 {
		h = http.Header{}
		for _, p := range t.pairs {
			h[p.key] = []string{p.value}
		}
		for i, v := range c.hvals {
			h[t.headerTmpl[i].key] = []string{v}
		}
	}
	*tgt = vegeta.Target{Method: t.method, URL: c.url, Body: c.body, Header: h}
	return nil
}
