package load

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/crypto/bcrypt"

	"github.com/gameday/gameday/reference-app/api"
	"github.com/gameday/gameday/reference-app/api/apitest"
)

// A 401 mid-run re-logs that user in once, against the reference backend's
// own API (its auth handlers and JWTs, over a fake store) whose clock the
// test moves past the token lifetime mid-run: no sleep, no flake. The
// local target is not started here (a whole refapp per test is too dear
// for these packages' tests); its api runs the same handlers.
func TestSessionReloginReferenceBackend(t *testing.T) {
	var offset atomic.Int64 // added to the API's clock
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	a, err := api.New(api.Deps{Store: api.NewStoreClient(api.FixedPrimary(apitest.NewStore(t).URL()))},
		[]byte("test-secret-0123456789abcdef-0123456789"), "api-1",
		api.WithClock(now), api.WithTokenTTL(time.Minute), api.WithBcryptCost(bcrypt.MinCost))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	var mu sync.Mutex
	logins := map[string]int{} // by username
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/auth/login" {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			var c api.Credentials
			_ = json.Unmarshal(b, &c)
			mu.Lock()
			logins[c.Username]++
			mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()

	creds := `{"username":"{{.User.Name}}-{{.RunID}}","password":"password-{{.User.Index}}"}`
	ss, err := SetUp(context.Background(), Session{
		Name: "mobile", Users: 4, RunID: "r1",
		Signup: &AuthRequest{URL: "/v1/auth/signup", Body: creds, Expect: []int{201, 409}},
		Login:  AuthRequest{URL: "/v1/auth/login", Body: creds, TokenJSON: "token"},
	}, srv.URL)
	if err != nil {
		t.Fatalf("SetUp() error: %v", err)
	}
	var results, expired atomic.Int64
	clock := SinkFunc(func(_, _ string, r *vegeta.Result) {
		if results.Add(1) == 40 {
			offset.Store(int64(2 * time.Minute)) // every token issued so far expires
		}
		if r.Code == http.StatusUnauthorized {
			expired.Add(1)
		}
	})
	sum, err := Run(context.Background(), Stream{
		Name: "me", Rate: vegeta.Rate{Freq: 200, Per: time.Second}, Duration: time.Second, Session: ss, Pick: PickRandom,
		Requests: []Request{{Name: "me", Weight: 1, URL: "/v1/me", Header: map[string]string{"Authorization": "Bearer {{.User.Token}}"}}},
	}, srv.URL, clock, ss)
	ss.Close()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logins) != 4 {
		t.Errorf("logins by user: %v; want 4 users", logins)
	}
	for user, n := range logins {
		if n != 2 {
			t.Errorf("logins of %s = %d; want 2 (setup and one re-login)", user, n)
		}
	}
	if n := expired.Load(); n < 4 || sum.Requests-sum.Successes != uint64(n) || sum.Successes < sum.Requests/2 {
		t.Errorf("%d of %d requests failed, %d of them 401; want every failure a 401, at least one per user, most requests served", sum.Requests-sum.Successes, sum.Requests, n)
	}
}
