package run

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
)

// sessionScenario is an external scenario against base whose stream acts
// as the users of a session; the login URL carries a secret.
func sessionScenario(t *testing.T, base string) (*scenarios.Scenario, []byte) {
	t.Helper()
	raw := []byte(fmt.Sprintf(`apiVersion: gameday/v1
kind: Scenario
name: sessions
target: {external: {baseURL: "%s"}}
metrics: {scrapeInterval: 250ms}
sessions:
  - name: mobile-users
    users: 3
    signup: {url: "{{.Base}}/signup", body: '{"email":"u{{.User.Index}}-{{.RunID}}@example.com"}', expect: [201, 409]}
    login: {url: '{{.Base}}/login?key={{env "API_KEY"}}', body: '{"email":"u{{.User.Index}}-{{.RunID}}@example.com"}', token: {json: data.token}}
load:
  - name: mobile
    duration: 1s
    profile: {constant: {rate: 20/s}}
    session: mobile-users
    requests: [{url: "{{.Base}}/v1/me", header: {Authorization: "Bearer {{.User.Token}}"}}]
checks:
  slos: [{name: anything, client: {sli: success_ratio}, objective: ">= 0"}]
`, base))
	env := scenarios.Environment{LookupEnv: func(name string) (string, bool) { return "sekrit-" + name, true }}
	s, err := scenarios.LoadBytes("sessions.yaml", raw, scenarios.WithEnvironment(env))
	if err != nil {
		t.Fatal(err)
	}
	return s, raw
}

// authTarget answers signup 201, login (500 with a body when failing,
// else a token per email) and counts the load's requests (/v1/me) by
// Authorization; other paths (the external target's checks) get 200.
type authTarget struct {
	*httptest.Server
	failLogin bool
	mu        sync.Mutex // guards load
	load      map[string]int
	logins    atomic.Int64
}

func newAuthTarget(t *testing.T, failLogin bool) *authTarget {
	a := &authTarget{failLogin: failLogin, load: map[string]int{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/signup":
			w.WriteHeader(http.StatusCreated)
		case "/login":
			a.logins.Add(1)
			if a.failLogin {
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"error":"store down"}`)
				return
			}
			fmt.Fprintf(w, `{"data":{"token":"tok-%x"}}`, body)
		case "/v1/me":
			a.mu.Lock()
			a.load[r.Header.Get("Authorization")]++
			a.mu.Unlock()
		}
	}))
	t.Cleanup(a.Close)
	return a
}

// A failed login stops the run before any load request reaches the
// target: exit 3, naming the status and the URL with its secret redacted.
func TestSessionSetupFailureStopsTheRun(t *testing.T) {
	a := newAuthTarget(t, true)
	s, raw := sessionScenario(t, a.URL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, s, raw, WithOutDir(t.TempDir()), WithTeardownTimeout(10*time.Second))
	if code := exitCode(err); code != ExitAborted {
		t.Fatalf("Run() = %v (exit %d); want exit %d", err, code, ExitAborted)
	}
	msg := err.Error()
	for _, want := range []string{"set up sessions", `session "mobile-users"`, "login POST " + a.URL + "/login?key=" + Redacted, "status 500", `store down`} {
		if !strings.Contains(msg, want) {
			t.Errorf("Run() error = %q; want it to contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "sekrit") {
		t.Errorf("Run() error = %q; want the secret redacted", msg)
	}
	a.mu.Lock()
	n := len(a.load)
	a.mu.Unlock()
	if n != 0 {
		t.Errorf("the target got load requests %v; want none", a.load)
	}
	if a.logins.Load() == 0 {
		t.Error("no login reached the target; want the setup to have tried")
	}
	events, rerr := rundir.ReadEventsOf(res.Dir)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if _, i := eventsOf(events, rundir.EventLoadStarted); i >= 0 {
		t.Error("the run emitted load.started; want the setup to fail first")
	}
}

// The load acts as every user, round robin, with its own token.
func TestSessionRun(t *testing.T) {
	a := newAuthTarget(t, false)
	s, raw := sessionScenario(t, a.URL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Run(ctx, s, raw, WithOutDir(t.TempDir()), WithTeardownTimeout(10*time.Second)); err != nil {
		t.Fatalf("Run() error: %v", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.load) != 3 {
		t.Fatalf("the load carried %d Authorization values (%v); want one per user, 3", len(a.load), a.load)
	}
	for auth, n := range a.load {
		if !strings.HasPrefix(auth, "Bearer tok-") || n < 3 {
			t.Errorf("%d requests carried %q; want a user's token, several times", n, auth)
		}
	}
}
