package externaltest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

func TestServersToxiproxyLatency(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "pong")
	}))
	defer backend.Close()

	started := time.Now()
	api := StartToxiproxy(t)
	t.Logf("toxiproxy ready at %s after %v", api, time.Since(started))
	tp := toxiclient.NewClient(api)
	version, err := tp.Version()
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	t.Logf("version: %s", strings.TrimSpace(string(version)))

	proxy, err := tp.CreateProxy("backend", "127.0.0.1:0", strings.TrimPrefix(backend.URL, "http://"))
	if err != nil {
		t.Fatalf("CreateProxy: %v", err)
	}
	if strings.HasSuffix(proxy.Listen, ":0") {
		t.Fatalf("proxy listens on %s; want the port it bound", proxy.Listen)
	}
	through := "http://" + proxy.Listen + "/"
	t.Logf("without toxic: %v", get(t, through))

	const latency = 200 * time.Millisecond
	if _, err := proxy.AddToxic("slow", "latency", "downstream", 1, toxiclient.Attributes{
		"latency": latency.Milliseconds(),
	}); err != nil {
		t.Fatalf("AddToxic: %v", err)
	}
	if took := get(t, through); took < latency {
		t.Errorf("GET through a %v latency toxic took %v; want at least %v", latency, took, latency)
	} else {
		t.Logf("with %v toxic: %v", latency, took)
	}

	if err := proxy.RemoveToxic("slow"); err != nil {
		t.Fatalf("RemoveToxic: %v", err)
	}
	toxics, err := proxy.Toxics()
	if err != nil {
		t.Fatalf("Toxics: %v", err)
	}
	if len(toxics) != 0 {
		t.Errorf("Toxics after RemoveToxic = %v; want none", toxics)
	}
	t.Logf("toxic removed: %v", get(t, through))
}

// get fetches url on a new connection, checks the backend's answer, and
// returns how long it took.
func get(t *testing.T, url string) time.Duration {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "pong" {
		t.Fatalf("GET %s = %s %q, %v; want 200 \"pong\"", url, resp.Status, body, err)
	}
	return took
}
