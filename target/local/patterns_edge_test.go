package local

// Acceptance tests of the edge patterns (TLS at the gateway, autoscaling,
// a second region), against the real processes of the local topology, in
// the style of patterns_test.go.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/load"
)

// failures is a load sink that keeps every result that was not a success.
type failures struct {
	mu   sync.Mutex
	list []string
	n    int
}

func (f *failures) Record(_, route string, r *vegeta.Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if load.Outcome(r) != load.OutcomeSuccess {
		f.list = append(f.list, fmt.Sprintf("%s %d %s", route, r.Code, r.Error))
	}
}

func (f *failures) counts() (total int, failed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, append([]string(nil), f.list...)
}

// mobileMix is the quickstart's request mix: feed reads and idempotent posts.
func mobileMix() []load.Request {
	return []load.Request{
		{Name: "feed", Weight: 7, URL: "/v1/feed?limit=20"},
		{Name: "post", Weight: 3, Method: "POST", URL: "/v1/posts", Body: `{"text":"post {{.Seq}}"}`,
			Header: map[string]string{"Authorization": "Bearer {{.Token}}", "Idempotency-Key": "{{.ID}}", "Content-Type": "application/json"}},
	}
}

// 7. TLS at the edge: clients reach the gateway over HTTPS with a
// certificate of the run's own CA, which gameday's load trusts; a client
// that does not trust it is refused the handshake; inside, the gateway's
// own port and every other edge stay plain HTTP.
func TestPatternTLSAtTheEdge(t *testing.T) {
	tg := startTopology(t, Refapp{APIReplicas: 2, TLS: true})
	if !strings.HasPrefix(tg.BaseURL, "https://") || tg.RootCAs == nil {
		t.Fatalf("StartRefapp with TLS: BaseURL %q, RootCAs %v; want an https URL and the run's CA", tg.BaseURL, tg.RootCAs)
	}
	if r := tg.Running(); r.Base != tg.BaseURL || r.RootCAs != tg.RootCAs {
		t.Errorf("Running() = base %q, roots %p; want %q and %p", r.Base, r.RootCAs, tg.BaseURL, tg.RootCAs)
	}
	if _, err := os.Stat(filepath.Join(tg.DataDir, CAFile)); err != nil {
		t.Errorf("the run's CA certificate: %v", err)
	}

	// A client with the system's roots only is refused.
	_, err := (&http.Client{Timeout: 5 * time.Second}).Get(tg.BaseURL + "/v1/feed")
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
		t.Errorf("GET %s/v1/feed without the run's CA: %v; want x509.UnknownAuthorityError", tg.BaseURL, err)
	}
	// Plain HTTP to the TLS port is not served.
	if resp, err := http.Get("http://" + strings.TrimPrefix(tg.BaseURL, "https://") + "/v1/feed"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the https port: status %d; want 400 (the server's answer to HTTP on a TLS port)", resp.StatusCode)
		}
	}
	// The gateway's own port stays plain HTTP (health checks, scrapes).
	if resp, err := http.Get(tg.URLs["gateway"] + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s/readyz over plain HTTP = %v, %v; want 200", tg.URLs["gateway"], resp, err)
	} else {
		resp.Body.Close()
	}

	// A request through TLS says so upstream, and comes back as HTTP/1.1.
	resp, err := tg.Client().Get(tg.BaseURL + "/v1/feed")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 || resp.Proto != "HTTP/1.1" {
		t.Errorf("GET /v1/feed over TLS = %d %s %+v; want 200 over HTTP/1.1 and TLS >= 1.2", resp.StatusCode, resp.Proto, resp.TLS)
	}

	// gameday's load, trusting the run's CA, meets no failure.
	var f failures
	sum, err := load.Run(context.Background(), load.Stream{
		Name: "mobile", Rate: vegeta.Rate{Freq: 100, Per: time.Second}, Duration: 3 * time.Second, Timeout: 2 * time.Second,
		Token: tg.Token, Requests: mobileMix(), RootCAs: tg.RootCAs,
	}, tg.BaseURL, &f)
	if err != nil {
		t.Fatal(err)
	}
	total, failed := f.counts()
	t.Logf("TLS at the edge: %d requests over HTTPS through the gateway, %d failed", total, len(failed))
	if sum.Requests < 250 || len(failed) > 0 {
		t.Errorf("load over HTTPS: %d requests, %d failed (first %v); want at least 250 and none failed", sum.Requests, len(failed), failed[:min(5, len(failed))])
	}
}
