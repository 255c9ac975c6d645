package api

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/crypto/bcrypt"

	"github.com/gameday/gameday/reference-app/api/apitest"
)

var testSecret = []byte("test-secret-0123456789abcdef-0123456789")

// fixture is an API served on 127.0.0.1:0 over fake dependencies.
type fixture struct {
	t     *testing.T
	api   *API
	srv   *httptest.Server
	reg   *prometheus.Registry
	store *apitest.Store
	cache *apitest.Cache // nil without a cache
}

// setup configures a fixture.
type setup struct {
	cache bool
	queue Publisher
	src   PrimarySource // default: FixedPrimary of the fake store
	opts  []Option
}

// newFixture starts a fake store (and cache, when asked) and an API over
// them with fast test settings: bcrypt.MinCost, breakers that open after 3
// failures and stay open an hour (so that no test races a half-open
// probe), the feed always rebuilt from the store.
func newFixture(t *testing.T, s setup) *fixture {
	t.Helper()
	f := &fixture{t: t, reg: prometheus.NewRegistry(), store: apitest.NewStore(t)}
	src := s.src
	if src == nil {
		src = FixedPrimary(f.store.URL())
	}
	deps := Deps{Store: NewStoreClient(src), Queue: s.queue}
	if s.cache {
		f.cache = apitest.NewCache(t)
		deps.Cache = NewCacheClient(f.cache.URL())
	}
	opts := append([]Option{
		WithRegisterer(f.reg),
		WithBcryptCost(bcrypt.MinCost),
		WithBreaker(3, time.Hour),
		WithFeedFresh(0),
	}, s.opts...)
	a, err := New(deps, testSecret, "api-test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.api = a
	mux := http.NewServeMux()
	a.Register(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// answer is a response with its body read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// decode decodes the body into v, failing the test when it is not JSON.
func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %d answer %q: %v", a.status, a.body, err)
	}
}

// errorMessage returns the "error" of a JSON error body, "" when absent.
func (a answer) errorMessage() string {
	var e Error
	_ = json.Unmarshal(a.body, &e)
	return e.Error
}

// do sends a request with an optional bearer token and headers (name,
// value pairs).
func (f *fixture) do(method, path, token, body string, headers ...string) answer {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// user signs up and logs in username, returning its id and token.
func (f *fixture) user(username string) (userID, token string) {
	f.t.Helper()
	creds := fmt.Sprintf(`{"username":%q,"password":"correct horse"}`, username)
	a := f.do("POST", "/v1/auth/signup", "", creds)
	if a.status != http.StatusCreated {
		f.t.Fatalf("signup %s = %d %s; want 201", username, a.status, a.body)
	}
	var s SignupResponse
	a.decode(f.t, &s)
	a = f.do("POST", "/v1/auth/login", "", creds)
	if a.status != http.StatusOK {
		f.t.Fatalf("login %s = %d %s; want 200", username, a.status, a.body)
	}
	var tok Token
	a.decode(f.t, &tok)
	return s.UserID, tok.Token
}

// post creates a post and returns it, failing unless the answer is 201.
func (f *fixture) post(token, text string, headers ...string) Post {
	f.t.Helper()
	a := f.do("POST", "/v1/posts", token, fmt.Sprintf(`{"text":%q}`, text), headers...)
	if a.status != http.StatusCreated {
		f.t.Fatalf("POST /v1/posts %q = %d %s; want 201", text, a.status, a.body)
	}
	var p Post
	a.decode(f.t, &p)
	return p
}

// metric returns the value of the series name{labels} in reg, -1 when
// absent.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if maps.Equal(got, labels) {
				return value(m)
			}
		}
	}
	return -1
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}

// waitFor polls cond every few milliseconds until it holds, failing the
// test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not synchronisation
	}
}

// postIDs returns the ids of the posts in the fake store.
func (f *fixture) postIDs() []string { return f.store.Keys(bucketPosts) }

// storedPost reads a post straight from the fake store.
func (f *fixture) storedPost(id string) (Post, bool) {
	f.t.Helper()
	raw, ok := f.store.Value(bucketPosts, id)
	if !ok {
		return Post{}, false
	}
	var p Post
	if err := json.Unmarshal(raw, &p); err != nil {
		f.t.Fatalf("stored post %s: %v", id, err)
	}
	return p, true
}

// sortedCopy returns s sorted.
func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }
