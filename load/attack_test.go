package load

import (
	"bufio"
	"context"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// runFive runs a stream of five hits (100/s for 50ms) of req against base
// and returns their results.
func runFive(t *testing.T, base string, req Request, tweak func(*Stream)) []vegeta.Result {
	t.Helper()
	s := Stream{Name: "s", Rate: vegeta.Rate{Freq: 100, Per: time.Second}, Duration: 50 * time.Millisecond,
		Timeout: 5 * time.Second, Requests: []Request{req}}
	if tweak != nil {
		tweak(&s)
	}
	var mu sync.Mutex
	var got []vegeta.Result
	sum, err := Run(context.Background(), s, base, SinkFunc(func(_, _ string, r *vegeta.Result) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, *r)
	}))
	if err != nil {
		t.Fatalf("Run() error: %v", err)
	}
	if sum.Requests != 5 || len(got) != 5 {
		t.Fatalf("Run() of 5 hits = %d requests, %d results (%+v); want 5", sum.Requests, len(got), sum)
	}
	return got
}

func TestRunResults(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	type seen struct{ contentType, userAgent, body string }
	var mu sync.Mutex
	var requests []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests = append(requests, seen{r.Header.Get("Content-Type"), r.UserAgent(), string(b)})
		mu.Unlock()
		switch r.URL.Path {
		case "/big":
			io.WriteString(w, big) //nolint:errcheck // a test server
		case "/fail":
			http.Error(w, "down", http.StatusServiceUnavailable)
		case "/slow":
			<-r.Context().Done() // until the client gives up
		default:
			io.WriteString(w, "hello") //nolint:errcheck // a test server
		}
	}))
	defer srv.Close()

	t.Run("ok", func(t *testing.T) {
		for _, r := range runFive(t, srv.URL, Request{Name: "post", Weight: 1, Method: "POST", URL: "/ok?n={{.Seq}}", Body: "abc"}, nil) {
			if r.Code != 200 || r.Error != "" || string(r.Body) != "hello" || r.BytesIn != 5 || r.BytesOut != 3 ||
				r.Method != "POST" || !strings.HasPrefix(r.URL, srv.URL+"/ok?n=") || r.Attack != "s/post" || r.Latency <= 0 || r.Headers != nil {
				t.Errorf("result of a POST answered 200 hello = %+v", r)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, s := range requests {
			// No Content-Type the scenario did not ask for (fasthttp
			// adds one by default; net/http and Vegeta do not).
			if s.contentType != "" || s.userAgent != "gameday" || s.body != "abc" {
				t.Errorf("request seen by the target = %+v; want no content type, user agent gameday, body abc", s)
			}
		}
	})
	t.Run("big body kept up to MaxBody", func(t *testing.T) {
		for _, r := range runFive(t, srv.URL, Request{Name: "big", Weight: 1, URL: "/big"}, func(s *Stream) { s.MaxBody = 100 }) {
			if r.Code != 200 || r.Error != "" || string(r.Body) != big[:100] || r.BytesIn != uint64(len(big)) {
				t.Errorf("result of a 1 MiB answer with MaxBody 100 = code %d, error %q, %d bytes kept, %d read; want 200, none, 100, %d",
					r.Code, r.Error, len(r.Body), r.BytesIn, len(big))
			}
		}
	})
	t.Run("status", func(t *testing.T) {
		for _, r := range runFive(t, srv.URL, Request{Name: "fail", Weight: 1, URL: "/fail"}, nil) {
			if r.Headers.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers of a 503 = %v; want them kept", r.Headers)
			}
			if r.Code != 503 || r.Error != "503 Service Unavailable" || string(r.Body) != "down\n" || Outcome(&r) != OutcomeServerError {
				t.Errorf("result of a 503 = code %d, error %q, body %q, outcome %s; want 503, \"503 Service Unavailable\", \"down\\n\", %s",
					r.Code, r.Error, r.Body, Outcome(&r), OutcomeServerError)
			}
		}
	})
	t.Run("timeout", func(t *testing.T) {
		for _, r := range runFive(t, srv.URL, Request{Name: "slow", Weight: 1, URL: "/slow"}, func(s *Stream) { s.Timeout = 100 * time.Millisecond }) {
			if r.Code != 0 || r.Error != `Get "`+srv.URL+`/slow": timeout exceeded` || r.Latency < 100*time.Millisecond {
				t.Errorf("result of a request past its 100ms timeout = code %d, error %q, latency %s; want 0, Get \"URL\": ..., at least 100ms", r.Code, r.Error, r.Latency)
			}
		}
	})
}

// closingServer answers each request on a connection with 200 "ok" (no
// Connection: close) and closes the connection after closeAfter answers
// (0: before any answer). It counts the requests it read.
func closingServer(t *testing.T, closeAfter int) (base string, requests *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	requests = new(atomic.Int64)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close() //nolint:errcheck // ends Accept
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close() //nolint:errcheck // the point of the server
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					requests.Add(1)
					io.Copy(io.Discard, req.Body) //nolint:errcheck // a test server
					if n == closeAfter {
						return
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") //nolint:errcheck // a test server
				}
			})
		}
	})
	return "http://" + ln.Addr().String(), requests
}

func TestRunRetriesOnlyAClosedKeepAliveConnection(t *testing.T) {
	// The target closes each connection after one answer, without saying
	// so: the next GET on it meets a closed connection, and is sent again
	// on a new one, as net/http does. Every hit succeeds, none sent more
	// than twice.
	t.Run("closed after an answer", func(t *testing.T) {
		base, requests := closingServer(t, 1)
		for _, r := range runFive(t, base, Request{Name: "get", Weight: 1, URL: "/"}, func(s *Stream) { s.Workers, s.MaxWorkers = 1, 1 }) {
			if r.Code != 200 || r.Error != "" {
				t.Errorf("GET on a keep-alive connection the target closed = code %d, error %q; want 200, sent again", r.Code, r.Error)
			}
		}
		if n := requests.Load(); n < 5 || n > 10 {
			t.Errorf("the target read %d requests for 5 hits; want 5 to 10 (one retry each at most)", n)
		}
	})
	// The target closes every connection before answering: a failure,
	// counted, never hidden by retries; a POST is never sent twice.
	t.Run("closed before any answer", func(t *testing.T) {
		base, requests := closingServer(t, 0)
		for _, r := range runFive(t, base, Request{Name: "get", Weight: 1, URL: "/"}, nil) {
			if r.Code != 0 || !strings.HasSuffix(r.Error, ": the target closed the connection before answering (EOF)") || Outcome(&r) == OutcomeSuccess {
				t.Errorf("GET the target never answers = code %d, error %q; want a failure", r.Code, r.Error)
			}
		}
		if n := requests.Load(); n > 10 {
			t.Errorf("the target read %d requests for 5 GETs never answered; want at most 10", n)
		}
		before := requests.Load()
		runFive(t, base, Request{Name: "post", Weight: 1, Method: "POST", URL: "/", Body: "x"}, nil)
		if n := requests.Load() - before; n != 5 {
			t.Errorf("the target read %d requests for 5 POSTs never answered; want 5: a POST is not sent again", n)
		}
	})
}

func TestRunHTTPSWithRootCAs(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto) //nolint:errcheck // a test server
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	for _, r := range runFive(t, srv.URL, Request{Name: "get", Weight: 1, URL: "/"}, func(s *Stream) { s.RootCAs = pool }) {
		if r.Code != 200 || string(r.Body) != "HTTP/1.1" {
			t.Errorf("GET over https with the server's CA = code %d, error %q, body %q; want 200 HTTP/1.1", r.Code, r.Error, r.Body)
		}
	}
	// Without it, the system's roots refuse the test certificate.
	for _, r := range runFive(t, srv.URL, Request{Name: "get", Weight: 1, URL: "/"}, nil) {
		if r.Code != 0 || !strings.Contains(r.Error, "certificate") {
			t.Errorf("GET over https without the server's CA = code %d, error %q; want a certificate error", r.Code, r.Error)
		}
	}
}

func TestRunEmptyAnswers(t *testing.T) {
	// 204 No Content, an empty 200 and a HEAD: no body to stream.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/none" {
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	for _, req := range []Request{
		{Name: "none", Weight: 1, URL: "/none"},
		{Name: "empty", Weight: 1, URL: "/empty"},
		{Name: "head", Weight: 1, Method: "HEAD", URL: "/empty"},
	} {
		for _, r := range runFive(t, srv.URL, req, nil) {
			if Outcome(&r) != OutcomeSuccess || len(r.Body) != 0 || r.BytesIn != 0 {
				t.Errorf("%s %s = code %d, error %q, body %q; want a success without a body", req.Method, req.URL, r.Code, r.Error, r.Body)
			}
		}
	}
}
