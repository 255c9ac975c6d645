package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gameday/gameday/reference-app/api/apitest"
	"github.com/gameday/gameday/reference-app/refapp"
)

// binDir holds the refapp binary built for this test binary.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "refapp-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
)

// binary builds the refapp binary once per test binary and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "refapp")
	buildOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// lockedBuffer is a bytes.Buffer safe for one writer and many readers.
type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a refapp child process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	addr   string // where it listens
	stdout lockedBuffer
	stderr lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, set before done closes
}

// startProc starts refapp with args plus --listen=127.0.0.1:0 (unless args
// hold a --listen=) and returns once its "listening" log line names the
// address. The process dies with the test: its own process group, a
// parent-death signal, and a cleanup that SIGKILLs the group.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, name, nil, args...)
}

// startProcEnv is startProc with env added to the test's environment.
func startProcEnv(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--listen=") }) {
		args = append(args, "--listen=127.0.0.1:0")
	}
	p.cmd = exec.Command(binary(t), args...)
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	addrs := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				addrs <- rec.Addr
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-copied // Wait closes the pipe: read it all first
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, p.stderr.String())
		}
	})
	select {
	case p.addr = <-addrs:
	case <-p.done:
		t.Fatalf("%s exited before listening: %v\n%s", name, p.err, p.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not log its address within 10s\n%s", name, p.stderr.String())
	}
	return p
}

// stop sends sig and waits for the exit, failing after 10 s.
func (p *proc) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", p.name, err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10s after %v", p.name, sig)
		return nil
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	return time.Now()
}

var client = &http.Client{Timeout: 5 * time.Second}

// upstreamUp reads refapp_gateway_upstream_up{upstream=name} from the
// gateway's /metrics; -1 when it cannot.
func upstreamUp(gatewayAddr, name string) float64 {
	resp, err := client.Get("http://" + gatewayAddr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	m := regexp.MustCompile(`(?m)^refapp_gateway_upstream_up\{upstream="` + regexp.QuoteMeta(name) + `"\} (\S+)$`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	var v float64
	fmt.Sscan(string(m[1]), &v)
	return v
}

func metricValue(t *testing.T, addr, series string) string {
	t.Helper()
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics of %s: %v", addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return "absent"
}

// outcome is one GET sent through the gateway.
type outcome struct {
	start    time.Time
	status   int
	instance string
	err      error
}

// testJWTSecret is the JWT key of the api processes the tests start.
const testJWTSecret = "e2e-jwt-secret-0123456789abcdef-0123456789"

// apiDeps starts a fake store in the test process and returns the api
// flags that use it, with the JWT secret in a file.
func apiDeps(t *testing.T) []string {
	t.Helper()
	secretFile := filepath.Join(t.TempDir(), "jwt-secret")
	if err := os.WriteFile(secretFile, []byte(testJWTSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--store=" + apitest.NewStore(t).URL(), "--jwt-secret-file=" + secretFile}
}

// TestEndToEndKillReplica runs gateway + 2 api processes, SIGKILLs one api
// under GET traffic, and checks that no GET fails once the gateway has
// noticed (and reports how many failed before); then SIGTERMs the rest and
// checks they exit 0 having printed nothing but JSON logs to stderr.
func TestEndToEndKillReplica(t *testing.T) {
	const secret = "Bearer e2e-secret-token"
	deps := apiDeps(t)
	api1 := startProc(t, "api-1", append(deps, "--role=api", "--instance=api-1")...)
	api2 := startProc(t, "api-2", append(deps, "--role=api", "--instance=api-2")...)
	// Four workers from one IP send as fast as they can: far over the
	// default per-client rate limit, which is not what this test is about.
	gw := startProc(t, "gateway", "--role=gateway", "--instance=gateway", "--log-level=debug", "--rate-limit=0",
		"--upstreams=http://"+api1.addr+",http://"+api2.addr, "--upstream-names=api-1,api-2")
	waitFor(t, "gateway /readyz 200 with both upstreams up", func() bool {
		resp, err := client.Get("http://" + gw.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && upstreamUp(gw.addr, "api-1") == 1 && upstreamUp(gw.addr, "api-2") == 1
	})

	// Traffic: 4 workers sending GETs until told to stop.
	var (
		mu       sync.Mutex // guards outcomes
		outcomes []outcome
		sent     atomic.Int64
	)
	ctx, stopTraffic := context.WithCancel(context.Background())
	defer stopTraffic()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil && i < 100_000; i++ {
				o := outcome{start: time.Now()}
				req, _ := http.NewRequest("GET", "http://"+gw.addr+"/v1/feed?limit=5", nil)
				req.Header.Set("Authorization", secret)
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					o.status, o.instance = resp.StatusCode, resp.Header.Get("X-Refapp-Instance")
				}
				o.err = err
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				sent.Add(1)
			}
		})
	}
	waitFor(t, "200 requests before the kill", func() bool { return sent.Load() >= 200 })
	killedAt := time.Now()
	if err := api1.stop(t, syscall.SIGKILL); err == nil {
		t.Errorf("api-1 after SIGKILL exited cleanly; want killed")
	}
	noticedAt := waitFor(t, "gateway marks api-1 down", func() bool { return upstreamUp(gw.addr, "api-1") == 0 })
	atNotice := sent.Load()
	waitFor(t, "300 requests after the gateway noticed", func() bool { return sent.Load() >= atNotice+300 })
	stopTraffic()
	wg.Wait()

	var before, during, after, failedDuring, failedAfter int
	seen := map[string]int{}
	for _, o := range outcomes {
		ok := o.err == nil && o.status == http.StatusOK
		switch {
		case o.start.Before(killedAt):
			before++
			seen[o.instance]++
			if !ok {
				t.Errorf("GET before the kill failed: %d %v", o.status, o.err)
			}
		case o.start.Before(noticedAt):
			during++
			if !ok {
				failedDuring++
			}
		default:
			after++
			if !ok {
				failedAfter++
			}
			if o.instance != "api-2" {
				t.Errorf("GET after the gateway noticed answered by %q; want api-2", o.instance)
			}
		}
	}
	if seen["api-1"] == 0 || seen["api-2"] == 0 {
		t.Errorf("GETs before the kill by instance: %v; want both replicas", seen)
	}
	if failedAfter > 0 {
		t.Errorf("%d of %d GETs failed after the gateway noticed api-1 was down; want 0", failedAfter, after)
	}
	retries := metricValue(t, gw.addr, `refapp_gateway_retries_total{result="retried"}`)
	t.Logf("kill-to-notice %v; GETs before kill %d, between kill and notice %d (%d failed), after notice %d (%d failed); gateway retries %s",
		noticedAt.Sub(killedAt).Round(time.Millisecond), before, during, failedDuring, after, failedAfter, retries)

	for _, p := range []*proc{gw, api2} {
		if err := p.stop(t, syscall.SIGTERM); err != nil {
			t.Errorf("%s after SIGTERM: %v; want exit 0", p.name, err)
		}
	}
	for _, p := range []*proc{api1, api2, gw} {
		if out := p.stdout.String(); out != "" {
			t.Errorf("%s printed %q on stdout; want nothing", p.name, out)
		}
		logs := p.stderr.String()
		if strings.Contains(logs, "e2e-secret-token") {
			t.Errorf("%s logged the Authorization header", p.name)
		}
		for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
			if line != "" && !json.Valid([]byte(line)) {
				t.Errorf("%s wrote a non-JSON stderr line %q", p.name, line)
			}
		}
	}
	if !strings.Contains(gw.stderr.String(), `"msg":"request"`) {
		t.Errorf("gateway at --log-level=debug logged no request line; the secret check saw nothing")
	}
}

// TestEndToEndRateLimit checks that the gateway's rate-limit flags take
// effect: one client past its burst gets 429 with Retry-After and a JSON
// error from the gateway, while another client is still served.
func TestEndToEndRateLimit(t *testing.T) {
	api := startProc(t, "api-1", append(apiDeps(t), "--role=api", "--instance=api-1")...)
	// One token per 100 s: no refill during the test.
	gw := startProc(t, "gateway", "--role=gateway", "--instance=gateway", "--rate-limit=0.01", "--rate-burst=2",
		"--upstreams=http://"+api.addr, "--upstream-names=api-1")
	waitFor(t, "gateway sees api-1 up", func() bool { return upstreamUp(gw.addr, "api-1") == 1 })
	get := func(clientID string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+gw.addr+"/v1/feed", nil)
		req.Header.Set("X-Client-Id", clientID)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET /v1/feed as %s: %v", clientID, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for i, want := range []int{200, 200, 429, 429} {
		resp, body := get("greedy") //nolint:bodyclose // the helper closes the body before it returns
		if resp.StatusCode != want {
			t.Errorf("greedy GET #%d = %d %s; want %d", i, resp.StatusCode, body, want)
		}
		if want != 429 {
			continue
		}
		var e struct{ Error string }
		if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" || strings.TrimLeft(ra, "0123456789") != "" {
			t.Errorf("429 Retry-After = %q; want whole seconds > 0", ra)
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
			t.Errorf("429 body = %q; want a JSON error", body)
		}
		if got := resp.Header.Get("X-Refapp-Instance"); got != "gateway" {
			t.Errorf("429 X-Refapp-Instance = %q; want gateway (the gateway's own answer)", got)
		}
	}
	if resp, body := get("polite"); resp.StatusCode != 200 || resp.Header.Get("X-Refapp-Instance") != "api-1" { //nolint:bodyclose // the helper closes the body before it returns
		t.Errorf("other client's GET = %d from %q %s; want 200 from api-1", resp.StatusCode, resp.Header.Get("X-Refapp-Instance"), body)
	}
	if got := metricValue(t, gw.addr, "refapp_gateway_rate_limited_total"); got != "2" {
		t.Errorf("refapp_gateway_rate_limited_total = %s; want 2", got)
	}
}

// TestEndToEndInstanceHeaderAndMetrics checks the api's per-response
// instance header and the route-pattern labels of its metrics.
func TestEndToEndInstanceHeaderAndMetrics(t *testing.T) {
	p := startProc(t, "api-7", append(apiDeps(t), "--role=api", "--instance=api-7")...)
	base := "http://" + p.addr
	for _, path := range []string{"/healthz", "/readyz", "/v1/feed", "/v1/posts/a", "/v1/posts/b", "/metrics", "/nowhere"} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Refapp-Instance"); got != "api-7" {
			t.Errorf("GET %s X-Refapp-Instance = %q; want api-7", path, got)
		}
	}
	for _, series := range []string{
		`refapp_http_requests_total{code="404",method="GET",role="api",route="/v1/posts/{id}"}`,
		`refapp_http_requests_total{code="200",method="GET",role="api",route="/v1/feed"}`,
		`refapp_http_requests_total{code="404",method="GET",role="api",route="unmatched"}`,
		`refapp_http_request_duration_seconds_count{method="GET",role="api",route="/v1/posts/{id}"}`,
	} {
		want := "1"
		if strings.Contains(series, "{id}") {
			want = "2"
		}
		if got := metricValue(t, p.addr, series); got != want {
			t.Errorf("%s = %s; want %s", series, got, want)
		}
	}
	if got := metricValue(t, p.addr, "go_goroutines"); got == "absent" {
		t.Errorf("go_goroutines absent; want the Go collector")
	}
	if err := p.stop(t, syscall.SIGINT); err != nil {
		t.Errorf("api after SIGINT: %v; want exit 0", err)
	}
	var exitErr *exec.ExitError
	if errors.As(p.err, &exitErr) {
		t.Errorf("api exit code %d; want 0", exitErr.ExitCode())
	}
}

// TestEndToEndAPI runs the api binary against a fake sentinel, store and
// cache, with the JWT secret in the environment: not ready until the
// sentinel names a primary; then signup, login, a post and the feed work;
// SIGTERM exits 0; neither the secret, the password nor the token reaches
// a log line, at debug level.
func TestEndToEndAPI(t *testing.T) {
	sentinel, store, cache := apitest.NewSentinel(t), apitest.NewStore(t), apitest.NewCache(t)
	p := startProcEnv(t, "api", []string{refapp.JWTSecretEnv + "=" + testJWTSecret},
		"--role=api", "--instance=api-e2e", "--log-level=debug",
		"--sentinel="+sentinel.URL(), "--cache="+cache.URL())
	base := "http://" + p.addr
	ready := func() int {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, "the sentinel to be asked", func() bool { return sentinel.Asked() > 0 })
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz before the sentinel named a primary = %d; want 503", got)
	}
	sentinel.SetPrimary("store-1", store.URL(), 1)
	waitFor(t, "/readyz 200", func() bool { return ready() == http.StatusOK })

	call := func(method, path, token, body string, out any) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
		if got := resp.Header.Get("X-Refapp-Instance"); got != "api-e2e" {
			t.Errorf("%s %s X-Refapp-Instance = %q; want api-e2e", method, path, got)
		}
		return resp
	}
	const creds = `{"username":"erin","password":"a-secret-password"}`
	if resp := call("POST", "/v1/auth/signup", "", creds, nil); resp.StatusCode != http.StatusCreated { //nolint:bodyclose // the helper closes the body before it returns
		t.Fatalf("signup = %d; want 201", resp.StatusCode)
	}
	var tok struct{ Token string }
	if resp := call("POST", "/v1/auth/login", "", creds, &tok); resp.StatusCode != http.StatusOK || tok.Token == "" { //nolint:bodyclose // the helper closes the body before it returns
		t.Fatalf("login = %d; want 200 with a token", resp.StatusCode)
	}
	var post struct{ ID string }
	if resp := call("POST", "/v1/posts", tok.Token, `{"text":"from the binary"}`, &post); resp.StatusCode != http.StatusCreated { //nolint:bodyclose // the helper closes the body before it returns
		t.Fatalf("POST /v1/posts = %d; want 201", resp.StatusCode)
	}
	var feed struct{ Items []struct{ ID string } }
	if resp := call("GET", "/v1/feed", "", "", &feed); resp.StatusCode != http.StatusOK || len(feed.Items) != 1 || feed.Items[0].ID != post.ID { //nolint:bodyclose // the helper closes the body before it returns
		t.Errorf("GET /v1/feed = %d %+v; want the post %s", resp.StatusCode, feed, post.ID)
	}
	if resp := call("GET", "/v1/me", "not-a-token", "", nil); resp.StatusCode != http.StatusUnauthorized { //nolint:bodyclose // the helper closes the body before it returns
		t.Errorf("GET /v1/me with a bad token = %d; want 401", resp.StatusCode)
	}
	if _, _, ok := cache.Entry("feed"); !ok {
		t.Errorf("the feed is not in the cache")
	}
	for _, series := range []string{
		`refapp_api_breaker_state{dependency="store"}`,
		`refapp_api_breaker_state{dependency="cache"}`,
		`refapp_api_outbox_pending`,
	} {
		if got := metricValue(t, p.addr, series); got != "0" {
			t.Errorf("%s = %s; want 0", series, got)
		}
	}
	for series, want := range map[string]string{
		`refapp_http_requests_total{code="201",method="POST",role="api",route="/v1/posts"}`:      "1",
		`refapp_api_feed_served_total{source="store"}`:                                           "1",
		`refapp_auth_failures_total{reason="malformed"}`:                                         "1",
		`refapp_api_dependency_requests_total{dependency="store",result="success"}`:              "4", // signup, login, post, feed
		`refapp_http_requests_total{code="401",method="GET",role="api",route="/v1/me"}`:          "1",
		`refapp_http_requests_total{code="200",method="POST",role="api",route="/v1/auth/login"}`: "1",
	} {
		if got := metricValue(t, p.addr, series); got != want {
			t.Errorf("%s = %s; want %s", series, got, want)
		}
	}
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("api after SIGTERM: %v; want exit 0", err)
	}
	logs := p.stderr.String()
	for what, s := range map[string]string{"JWT secret": testJWTSecret, "password": "a-secret-password", "token": tok.Token} {
		if strings.Contains(logs, s) {
			t.Errorf("the api logged the %s", what)
		}
	}
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Errorf("api at --log-level=debug logged no request line; the secret check saw nothing")
	}
}
