package load

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// authServer is a fake auth API: signup 201 then 409, login answers a
// token "<email>#<n>" (n counting that user's logins) in JSON and in the
// X-Token header; /v1/me answers 200 for a token issued at or after the
// current epoch, else 401.
type authServer struct {
	*httptest.Server
	mu       sync.Mutex // guards the fields below
	signups  map[string]int
	logins   map[string]int
	epoch    int            // tokens from an earlier epoch are expired
	issued   map[string]int // token → epoch
	me       []string       // Authorization of every /v1/me, in order
	failWith int            // a login answers this status when not 0
}

func newAuthServer(t *testing.T) *authServer {
	a := &authServer{signups: map[string]int{}, logins: map[string]int{}, issued: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /signup", func(w http.ResponseWriter, r *http.Request) {
		var c struct{ Email string }
		_ = json.NewDecoder(r.Body).Decode(&c)
		a.mu.Lock()
		defer a.mu.Unlock()
		a.signups[c.Email]++
		if a.signups[c.Email] > 1 {
			w.WriteHeader(http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var c struct{ Email string }
		_ = json.NewDecoder(r.Body).Decode(&c)
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.failWith != 0 {
			w.WriteHeader(a.failWith)
			io.WriteString(w, `{"error":"store down"}`)
			return
		}
		a.logins[c.Email]++
		tok := fmt.Sprintf("%s#%d", c.Email, a.logins[c.Email])
		a.issued[tok] = a.epoch
		w.Header().Set("X-Token", tok)
		fmt.Fprintf(w, `{"data":{"access_token":%q}}`, tok)
	})
	mux.HandleFunc("GET /v1/me", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		a.mu.Lock()
		defer a.mu.Unlock()
		a.me = append(a.me, auth)
		if e, ok := a.issued[strings.TrimPrefix(auth, "Bearer ")]; !ok || e < a.epoch {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

func (a *authServer) loginCount(email string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logins[email]
}

// session is the session of the tests: signup and login by email.
func testSession(users int, tokenJSON, tokenHeader string) Session {
	body := `{"email":"u{{.User.Index}}-{{.RunID}}@example.com","password":"pw-{{.User.Index}}"}`
	return Session{
		Name: "mobile", Users: users, RunID: "run1",
		Signup: &AuthRequest{URL: "/signup", Body: body, Expect: []int{201, 409}},
		Login:  AuthRequest{URL: "/login", Body: body, TokenJSON: tokenJSON, TokenHeader: tokenHeader},
	}
}

func TestSetUp(t *testing.T) {
	for _, tc := range []struct {
		name, json, header string
	}{
		{"token from JSON", "data.access_token", ""},
		{"token from a header", "", "x-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthServer(t)
			ss, err := SetUp(context.Background(), testSession(20, tc.json, tc.header), a.URL)
			if err != nil {
				t.Fatalf("SetUp() error: %v", err)
			}
			defer ss.Close()
			for i := range 20 {
				email := fmt.Sprintf("u%d-run1@example.com", i)
				u, login := ss.user(i)
				if want := email + "#1"; u.Token != want || login != 0 || u.Name != fmt.Sprintf("mobile-%d", i) {
					t.Errorf("user(%d) = %+v, login %d; want token %q, name mobile-%d, login 0", i, u, login, want, i)
				}
				if n := a.loginCount(email); n != 1 {
					t.Errorf("logins of %s = %d; want 1", email, n)
				}
			}
			// A second setup meets 409 at signup: expected, logs in again.
			ss2, err := SetUp(context.Background(), testSession(2, tc.json, tc.header), a.URL)
			if err != nil {
				t.Fatalf("second SetUp() error: %v", err)
			}
			ss2.Close()
		})
	}
}

func TestSetUpFailure(t *testing.T) {
	a := newAuthServer(t)
	a.failWith = http.StatusServiceUnavailable
	_, err := SetUp(context.Background(), testSession(3, "token", ""), a.URL)
	var se *SetupError
	if !errors.As(err, &se) {
		t.Fatalf("SetUp() error = %v; want a *SetupError", err)
	}
	if se.Status != 503 || se.Step != "login" || se.URL != a.URL+"/login" || se.Body != `{"error":"store down"}` {
		t.Errorf("SetUp() error = %+v; want login, 503, the URL and the body", se)
	}
	want := fmt.Sprintf(`session "mobile": user %d: login POST %s/login: status 503 Service Unavailable; body "{\"error\":\"store down\"}"`, se.User, a.URL)
	if err.Error() != want {
		t.Errorf("SetUp() error:\n%s\nwant\n%s", err, want)
	}

	a.failWith = 0
	_, err = SetUp(context.Background(), testSession(1, "data.nope", ""), a.URL)
	if err == nil || !strings.Contains(err.Error(), `status 200: no string at JSON path "data.nope" in the answer`) {
		t.Errorf("SetUp(wrong JSON path) error = %v; want no string at the path", err)
	}
	_, err = SetUp(context.Background(), testSession(1, "token", "x-token"), a.URL)
	if err == nil || !strings.Contains(err.Error(), "exactly one of token JSON path and token header") {
		t.Errorf("SetUp(both token sources) error = %v; want exactly one", err)
	}
}

// Round robin gives the request numbered Seq the user Seq mod Users;
// random covers every user and draws the same users with the same seed.
func TestSessionPick(t *testing.T) {
	a := newAuthServer(t)
	ss, err := SetUp(context.Background(), testSession(3, "data.access_token", ""), a.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	users := func(pick Pick, seed uint64) []int {
		var seq atomic.Uint64
		tr, err := newTargeter(Request{Name: "me", URL: "/v1/me", Header: map[string]string{"Authorization": "Bearer {{.User.Token}}"}},
			targetFacts{base: a.URL, sess: ss, pick: pick, seed: seed}, "p-", &seq)
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for range 30 {
			var tgt vegeta.Target
			if err := tr.fill(&tgt); err != nil {
				t.Fatal(err)
			}
			i, login, ok := userOfURL(tgt.URL)
			u, _ := ss.user(i)
			if !ok || login != 0 || tgt.Header.Get("Authorization") != "Bearer "+u.Token {
				t.Fatalf("fill() = %s %v; want user %d's fragment and token", tgt.URL, tgt.Header, i)
			}
			out = append(out, i)
		}
		return out
	}
	rr := users(PickRoundRobin, 0)
	for seq, i := range rr {
		if i != seq%3 {
			t.Fatalf("round robin: request %d got user %d; want %d (all: %v)", seq, i, seq%3, rr)
		}
	}
	r1, r2, r3 := users(PickRandom, 7), users(PickRandom, 7), users(PickRandom, 8)
	if fmt.Sprint(r1) != fmt.Sprint(r2) {
		t.Errorf("random with seed 7 twice: %v and %v; want the same users", r1, r2)
	}
	if fmt.Sprint(r1) == fmt.Sprint(r3) {
		t.Errorf("random with seeds 7 and 8: both %v; want different draws", r1)
	}
	seen := map[int]bool{}
	for _, i := range r1 {
		seen[i] = true
	}
	if len(seen) != 3 || fmt.Sprint(r1) == fmt.Sprint(rr) {
		t.Errorf("random picks %v; want every user, not round robin", r1)
	}
}

// A 401 makes its user log in once, however many requests carried the
// expired token; later requests carry the new token, and the 401s stay
// failures in the results.
func TestSessionReloginOnce(t *testing.T) {
	a := newAuthServer(t)
	ss, err := SetUp(context.Background(), testSession(3, "data.access_token", ""), a.URL)
	if err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	var unauthorized atomic.Int64
	expire := SinkFunc(func(_, _ string, r *vegeta.Result) {
		if sent.Add(1) == 30 { // every token issued so far expires
			a.mu.Lock()
			a.epoch++
			a.mu.Unlock()
		}
		if r.Code == http.StatusUnauthorized {
			unauthorized.Add(1)
		}
	})
	s := Stream{Name: "s", Rate: vegeta.Rate{Freq: 200, Per: time.Second}, Duration: time.Second, Session: ss,
		Requests: []Request{{Name: "me", Weight: 1, URL: "/v1/me", Header: map[string]string{"Authorization": "Bearer {{.User.Token}}"}}}}
	sum, err := Run(context.Background(), s, a.URL, expire, ss)
	ss.Close()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		email := fmt.Sprintf("u%d-run1@example.com", i)
		if n := a.loginCount(email); n != 2 {
			t.Errorf("logins of %s = %d; want 2 (setup and one re-login)", email, n)
		}
	}
	if ok, failed := ss.Relogins(); ok != 3 || failed != 0 {
		t.Errorf("Relogins() = %d, %d; want 3, 0", ok, failed)
	}
	if n := unauthorized.Load(); n < 3 || sum.Requests-sum.Successes != uint64(n) {
		t.Errorf("%d results were 401 and %d of %d failed; want at least one 401 per user, each a failure", n, sum.Requests-sum.Successes, sum.Requests)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	last := a.me[len(a.me)-3:]
	for _, auth := range last {
		if !strings.HasSuffix(auth, "#2") {
			t.Errorf("a last request carried %q; want a token of the second login", auth)
		}
	}
}

// TestSetUpTrustsRootCAs: a session over https signs its users in when it
// trusts the server's CA (a local target with tls), and fails without it.
func TestSetUpTrustsRootCAs(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"token":"t"}`)
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	s := Session{Name: "tls", Users: 2, Login: AuthRequest{URL: "/login", TokenJSON: "token"}}
	if _, err := SetUp(context.Background(), s, srv.URL); err == nil {
		t.Errorf("SetUp without the server's CA = nil; want a certificate error")
	}
	s.RootCAs = pool
	ss, err := SetUp(context.Background(), s, srv.URL)
	if err != nil {
		t.Fatalf("SetUp trusting the server's CA: %v", err)
	}
	ss.Close()
}
