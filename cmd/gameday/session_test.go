package main

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/rundir"
)

// Against the reference backend with tokens that live 2 s (acceptance 5 of
// the load issue): 3 users signed up and in by a session; when a token
// expires mid-run the next 401 re-logs that user once, and later requests
// succeed with the new token. The backend's own count of logins says how
// many re-logins there were: at most one per user and expiry.
func TestSessionRelogsOnExpiredToken(t *testing.T) {
	const users, ttl, duration = 3, 2 * time.Second, 7 * time.Second
	scenario := writeFile(t, "sessions.yaml", `apiVersion: gameday/v1
kind: Scenario
name: sessions
target: {local: {apiReplicas: 1, tokenTTL: 2s}}
metrics: {scrapeInterval: 250ms}
sessions:
  - name: people
    users: 3
    signup: {url: "{{.Base}}/v1/auth/signup", body: '{"username":"user{{.User.Index}}","password":"password-{{.User.Index}}"}', expect: [201, 409]}
    login: {url: "{{.Base}}/v1/auth/login", body: '{"username":"user{{.User.Index}}","password":"password-{{.User.Index}}"}', token: {json: token}}
load:
  - name: me
    duration: 7s
    session: people
    profile: {constant: {rate: 30/s}}
    requests: [{url: "{{.Base}}/v1/me", header: {Authorization: "Bearer {{.User.Token}}"}}]
checks:
  slos: [{name: served, client: {sli: success_ratio}, objective: ">= 0.8"}]
`)
	out := t.TempDir()
	code, stdout, stderr := cli(t, context.Background(), "run", scenario, "--out", out)
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s\n%s", code, stdout, stderr)
	}
	dir := runDir(t, out)
	rep := readReport(t, dir)
	s := rep.Load[0]
	unauthorized := s.Codes["401"]
	t.Logf("%d requests: codes %v", s.Requests, s.Codes)
	if unauthorized == 0 {
		t.Errorf("no 401 in a run three times the tokens' lifetime: the tokens did not expire")
	}

	logins := lastMax(t, dir, `sum(max_over_time(refapp_http_requests_total{role="api",route=~".*login.*",code="200"}[1h]))`, rep.End)
	// The logins are the session's setup (one per user), the local
	// target's own load user, and the re-logins.
	relogins := int(logins) - users - 1
	expiries := users * int(math.Ceil(float64(duration)/float64(ttl)))
	t.Logf("logins %v: %d re-logins for %d 401s (at most %d expiries)", logins, relogins, unauthorized, expiries)
	if relogins < users || relogins > expiries {
		t.Errorf("%d re-logins; want at least one per user and at most one per user and expiry (%d)", relogins, expiries)
	}
	// Each expired token is re-logged once, however many of its requests
	// got a 401: the 401s' URL fragments (user, login count) name the
	// expired tokens seen.
	expired := map[string]bool{}
	err := load.ReadResults(filepath.Join(dir, rundir.DirResults, "me.gob"), func(_, _ string, r *vegeta.Result) error {
		if r.Code == 401 {
			if _, frag, ok := strings.Cut(r.URL, "#"); ok {
				expired[frag] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d expired tokens seen (user and login of each 401)", len(expired))
	if relogins != len(expired) {
		t.Errorf("%d re-logins for %d expired tokens seen in %d 401s; want one re-login per expired token", relogins, len(expired), unauthorized)
	}
	if !strings.Contains(stdout, "PASS") {
		t.Errorf("stdout lacks the verdict:\n%s", stdout)
	}
}
