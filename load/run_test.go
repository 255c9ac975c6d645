package load

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// seenRequest is what the test server saw of one request.
type seenRequest struct {
	method, path, query string
	header              http.Header
	body                string
}

// recorder is a test HTTP server that records every request it answers.
type recorder struct {
	mu   sync.Mutex // guards seen
	seen []seenRequest
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.seen = append(rec.seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
	rec.mu.Unlock()
	io.WriteString(w, "ok")
}

func (rec *recorder) requests() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenRequest(nil), rec.seen...)
}

// routeCounter is a Sink that counts results per stream/route.
type routeCounter struct {
	mu     sync.Mutex // guards counts
	counts map[string]int
}

func (c *routeCounter) Record(stream, route string, r *vegeta.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[stream+"/"+route]++
}

func TestRunWeightedMix(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "mobile.gob")
	file, err := CreateResultsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	counter := &routeCounter{}

	s := Stream{
		Name:     "mobile",
		Rate:     vegeta.Rate{Freq: 100, Per: time.Second},
		Duration: time.Second,
		Timeout:  5 * time.Second,
		Requests: []Request{
			{Name: "feed", Weight: 7, URL: "{{.Base}}/v1/feed?seq={{.Seq}}&id={{.ID}}",
				Header: map[string]string{"X-Static": "yes", "X-Base": "{{.Base}}"}},
			{Name: "post", Weight: 3, Method: "POST", URL: "/v1/posts",
				Body: `{"text":"post {{.Seq}} {{.ID}}"}`, Header: map[string]string{"Content-Type": "application/json"}},
		},
	}
	sum, err := Run(context.Background(), s, srv.URL+"/", file, counter)
	if err != nil {
		t.Fatalf("Run() error: %v", err)
	}
	if err := file.Close(); err != nil {
		t.Fatalf("ResultsFile.Close() error: %v", err)
	}

	// The server's view: routes, rendered templates, headers and bodies.
	server := map[string]int{}
	var prefix string
	seqs := map[uint64]bool{}
	for _, r := range rec.requests() {
		var (
			seq uint64
			id  string
			err error
		)
		switch {
		case r.method == "GET" && r.path == "/v1/feed":
			server["feed"]++
			q := strings.Split(r.query, "&")
			if len(q) != 2 || !strings.HasPrefix(q[0], "seq=") || !strings.HasPrefix(q[1], "id=") {
				t.Fatalf("feed query = %q; want seq=N&id=ID", r.query)
			}
			seq, err = strconv.ParseUint(strings.TrimPrefix(q[0], "seq="), 10, 64)
			if err != nil {
				t.Fatalf("feed query = %q; want a number in seq", r.query)
			}
			id = strings.TrimPrefix(q[1], "id=")
			if r.header.Get("X-Static") != "yes" || r.header.Get("X-Base") != srv.URL {
				t.Errorf("feed headers = %v; want X-Static: yes and X-Base: %s", r.header, srv.URL)
			}
		case r.method == "POST" && r.path == "/v1/posts":
			server["post"]++
			var text string
			if !strings.HasPrefix(r.body, `{"text":"post `) || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("post body, content type = %q, %q; want {\"text\":\"post SEQ ID\"}, application/json", r.body, r.header.Get("Content-Type"))
			}
			text = strings.TrimSuffix(strings.TrimPrefix(r.body, `{"text":"post `), `"}`)
			n, rest, _ := strings.Cut(text, " ")
			seq, err = strconv.ParseUint(n, 10, 64)
			if err != nil {
				t.Fatalf("post body = %q; want a number after post", r.body)
			}
			id = rest
		default:
			t.Fatalf("server saw %s %s; want GET /v1/feed or POST /v1/posts", r.method, r.path)
		}
		// ID is a per-Run prefix and Seq; Seq is unique across the entries.
		p, ok := strings.CutSuffix(id, strconv.FormatUint(seq, 10))
		if !ok || (prefix != "" && p != prefix) || p == "" {
			t.Fatalf("request %d has ID %q; want the run's prefix %q then %d", seq, id, prefix, seq)
		}
		prefix = p
		if seqs[seq] {
			t.Fatalf("Seq %d seen twice; want unique within the stream", seq)
		}
		seqs[seq] = true
	}
	for n := range uint64(len(seqs)) {
		if !seqs[n] {
			t.Errorf("Seq %d never seen; want 0..%d", n, len(seqs)-1)
		}
	}

	t.Logf("server saw %v; Run() = %+v", server, sum)
	// The split: 7/10 and 3/10 of 100/s for 1s, never more (the entry's pacer
	// stops before a hit due after Duration), at most 2 fewer (a late tick near
	// the end), and exactly what the client counted.
	for _, w := range []struct {
		route string
		want  int
	}{{"feed", 70}, {"post", 30}} {
		got := server[w.route]
		if got > w.want || got < w.want-2 {
			t.Errorf("server got %d %s requests; want %d (-2)", got, w.route, w.want)
		}
		if c := sum.Routes[w.route]; c.Requests != uint64(got) || c.Successes != uint64(got) {
			t.Errorf("Run() summary for %s = %+v; want %d requests and successes (the server's count)", w.route, c, got)
		}
		if n := counter.counts["mobile/"+w.route]; n != got {
			t.Errorf("sink got %d results for mobile/%s; want %d", n, w.route, got)
		}
	}
	if total := uint64(server["feed"] + server["post"]); sum.Requests != total || sum.Successes != total || sum.Interrupted {
		t.Errorf("Run() = %+v; want %d requests, all successes, not interrupted", sum, total)
	}

	// Every result is in the file, with stream and route recoverable.
	file2 := map[string]int{}
	err = ReadResults(path, func(stream, route string, r *vegeta.Result) error {
		file2[stream+"/"+route]++
		if stream != "mobile" || !strings.Contains(r.URL, "/v1/"+route) || r.Code != 200 || r.Body != nil {
			t.Errorf("ReadResults() gave %s/%s %s %d body %q; want mobile/ROUTE, a URL with /v1/ROUTE, 200, no body", stream, route, r.URL, r.Code, r.Body)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ReadResults() error: %v", err)
	}
	if file2["mobile/feed"] != server["feed"] || file2["mobile/post"] != server["post"] || len(file2) != 2 {
		t.Errorf("ReadResults() counts = %v; want mobile/feed %d, mobile/post %d", file2, server["feed"], server["post"])
	}
}

// blocker is a test server whose handlers hang until the client goes away.
type blocker struct {
	arrived chan struct{} // one send per request
	mu      sync.Mutex    // guards open, gone
	open    int
	gone    int // handlers that saw their client go away
}

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.open++
	b.mu.Unlock()
	select {
	case b.arrived <- struct{}{}:
	default:
	}
	<-r.Context().Done()
	b.mu.Lock()
	b.gone++
	b.mu.Unlock()
}

func (b *blocker) counts() (open, gone int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open, b.gone
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline (a hang, not a timing goal).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunCancel(t *testing.T) {
	b := &blocker{arrived: make(chan struct{}, 1)}
	srv := httptest.NewServer(b)
	defer srv.Close()

	var mu sync.Mutex // guards results
	var results []vegeta.Result
	sink := SinkFunc(func(stream, route string, r *vegeta.Result) {
		mu.Lock()
		results = append(results, *r)
		mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	type ret struct {
		sum Summary
		err error
	}
	done := make(chan ret)
	go func() {
		// Nothing but ctx can end this stream: an hour long, requests that
		// never get an answer and an hour's timeout; one entry so slow that
		// its first hit is a minute away.
		sum, err := Run(ctx, Stream{
			Name:     "s",
			Rate:     vegeta.Rate{Freq: 50, Per: time.Second},
			Duration: time.Hour,
			Timeout:  time.Hour,
			Requests: []Request{
				{Name: "hang", Weight: 1000, URL: "/hang/{{.Seq}}"},
				{Name: "rare", Weight: 1, URL: "/rare"},
			},
		}, srv.URL, sink)
		done <- ret{sum, err}
	}()
	<-b.arrived // a request is in flight
	cancel()
	got := <-done

	if got.err != nil {
		t.Fatalf("Run() after cancel error: %v; want nil", got.err)
	}
	if !got.sum.Interrupted || got.sum.Requests == 0 || got.sum.Successes != 0 || got.sum.Canceled != got.sum.Requests {
		t.Errorf("Run() after cancel = %+v; want interrupted, requests, no successes, every request canceled", got.sum)
	}
	mu.Lock()
	defer mu.Unlock()
	if uint64(len(results)) != got.sum.Requests {
		t.Errorf("sink got %d results; want the summary's %d", len(results), got.sum.Requests)
	}
	if len(results) > 0 {
		t.Logf("Run() after cancel = %+v; first result error: %s", got.sum, results[0].Error)
	}
	for _, r := range results {
		if Outcome(&r) != OutcomeCanceled || !strings.HasPrefix(r.Error, ErrCanceled.Error()+": ") {
			t.Errorf("result after cancel = code %d error %q, outcome %s; want %s, its error starting with %q", r.Code, r.Error, Outcome(&r), OutcomeCanceled, ErrCanceled)
		}
	}
	// Every request the server got was cut: its handler saw the client go.
	open, _ := b.counts()
	if uint64(open) > got.sum.Requests {
		t.Errorf("server got %d requests; want at most the %d results", open, got.sum.Requests)
	}
	waitFor(t, "every handler to see its client go away", func() bool {
		open, gone := b.counts()
		return open == gone
	})
}

func TestRunRejectsBadTemplate(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"unparsable URL", Request{Name: "r", Weight: 1, URL: "{{.Base}/x"}, `parse url template`},
		{"unknown field in body", Request{Name: "r", Weight: 1, URL: "/x", Body: "{{.Nobody}}"}, `can't evaluate field Nobody`},
		{"header template", Request{Name: "r", Weight: 1, URL: "/x", Header: map[string]string{"a": "{{end}}"}}, `parse header A template`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var results int
			sink := SinkFunc(func(string, string, *vegeta.Result) { results++ })
			good := Request{Name: "good", Weight: 1, URL: "/good"}
			_, err := Run(context.Background(), Stream{
				Name: "s", Rate: vegeta.Rate{Freq: 100, Per: time.Second}, Duration: time.Second,
				Requests: []Request{good, tt.req},
			}, srv.URL, sink)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run() error = %v; want one containing %q", err, tt.want)
			}
			if n := len(rec.requests()); n != 0 || results != 0 {
				t.Errorf("Run() with a bad template sent %d requests, delivered %d results; want none", n, results)
			}
		})
	}
}

// A template that fails only for some requests passes the up-front render
// and fails mid-run: the whole stream stops and Run says why.
func TestRunStopsOnRenderError(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	sum, err := Run(context.Background(), Stream{
		Name: "s", Rate: vegeta.Rate{Freq: 100, Per: time.Second}, Duration: time.Hour,
		Requests: []Request{
			{Name: "fine", Weight: 1, URL: "/fine"},
			{Name: "later", Weight: 1, URL: "/later/{{if .Seq}}{{.Nope}}{{end}}"},
		},
	}, srv.URL)
	if err == nil || !strings.Contains(err.Error(), `route "later"`) || !strings.Contains(err.Error(), "can't evaluate field Nope") {
		t.Errorf("Run() error = %v; want route \"later\" failing on field Nope", err)
	}
	if !sum.Interrupted {
		t.Errorf("Run() = %+v; want interrupted", sum)
	}
}
