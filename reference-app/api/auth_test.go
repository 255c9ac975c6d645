package api

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestSignupAndLogin(t *testing.T) {
	f := newFixture(t, setup{})
	a := f.do("POST", "/v1/auth/signup", "", `{"username":"Alice","password":"correct horse"}`)
	if a.status != http.StatusCreated {
		t.Fatalf("signup alice = %d %s; want 201", a.status, a.body)
	}
	var s SignupResponse
	a.decode(t, &s)
	if s.UserID == "" {
		t.Errorf("signup alice = %s; want a userId", a.body)
	}
	raw, ok := f.store.Value(bucketUsers, "alice")
	if !ok || strings.Contains(string(raw), "correct horse") {
		t.Errorf("stored user alice = %s (present %v); want a record without the password in clear", raw, ok)
	}

	if a := f.do("POST", "/v1/auth/signup", "", `{"username":"alice","password":"another one"}`); a.status != http.StatusConflict {
		t.Errorf("signup alice again = %d %s; want 409", a.status, a.body)
	}

	a = f.do("POST", "/v1/auth/login", "", `{"username":"ALICE","password":"correct horse"}`)
	if a.status != http.StatusOK {
		t.Fatalf("login alice = %d %s; want 200", a.status, a.body)
	}
	var tok Token
	a.decode(t, &tok)
	if c, reason := f.api.verify(tok.Token); c == nil || c.Subject != s.UserID || c.Issuer != DefaultIssuer {
		t.Errorf("verify(login token) = %+v, %q; want sub %s, iss %s", c, reason, s.UserID, DefaultIssuer)
	}
	if d := time.Until(tok.ExpiresAt); d <= 0 || d > DefaultTokenTTL {
		t.Errorf("login expiresAt in %v; want within %v", d, DefaultTokenTTL)
	}

	for _, body := range []string{
		`{"username":"alice","password":"wrong password"}`,
		`{"username":"nobody","password":"correct horse"}`,
	} {
		if a := f.do("POST", "/v1/auth/login", "", body); a.status != http.StatusUnauthorized {
			t.Errorf("login %s = %d %s; want 401", body, a.status, a.body)
		}
	}
	if got := metric(t, f.reg, "refapp_auth_failures_total", map[string]string{"reason": reasonCredentials}); got != 2 {
		t.Errorf("refapp_auth_failures_total{reason=credentials} = %v; want 2", got)
	}
}

func TestCredentialsValidation(t *testing.T) {
	f := newFixture(t, setup{})
	tests := []struct {
		body      string
		wantField string
	}{
		{`{"username":"al","password":"correct horse"}`, "username"},
		{`{"username":"al ice","password":"correct horse"}`, "username"},
		{`{"username":"` + strings.Repeat("a", 33) + `","password":"correct horse"}`, "username"},
		{`{"username":"alice","password":"short"}`, "password"},
		{`{"username":"alice","password":"` + strings.Repeat("p", MaxPasswordBytes+1) + `"}`, "password"},
		{`{"username":"alice"}`, "password"},
	}
	for _, path := range []string{"/v1/auth/signup", "/v1/auth/login"} {
		for _, tt := range tests {
			a := f.do("POST", path, "", tt.body)
			if a.status != http.StatusBadRequest || !strings.Contains(a.errorMessage(), tt.wantField) {
				t.Errorf("POST %s %.60s = %d %q; want 400 naming %s", path, tt.body, a.status, a.errorMessage(), tt.wantField)
			}
		}
	}
}

// sign returns a token with claims signed by method and key.
func sign(t *testing.T, method jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

func TestTokenVerification(t *testing.T) {
	f := newFixture(t, setup{})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	good := jwt.MapClaims{"iss": DefaultIssuer, "sub": "u1", "exp": exp}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{"iss": DefaultIssuer, "sub": "u1", "exp": exp}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name       string
		header     string // Authorization
		wantStatus int
		wantReason string
	}{
		{"valid HS256", "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, good), http.StatusOK, ""},
		{"no header", "", http.StatusUnauthorized, reasonMissing},
		{"not bearer", "Basic dXNlcjpwYXNz", http.StatusUnauthorized, reasonMissing},
		{"empty bearer", "Bearer ", http.StatusUnauthorized, reasonMissing},
		{"lower-case scheme", "bearer " + sign(t, jwt.SigningMethodHS256, testSecret, good), http.StatusOK, ""},
		{"not a JWT", "Bearer abc.def", http.StatusUnauthorized, reasonMalformed},
		{"bad signature", "Bearer " + sign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef-xyz"), good), http.StatusUnauthorized, reasonSignature},
		{"HS384 with the right key", "Bearer " + sign(t, jwt.SigningMethodHS384, testSecret, good), http.StatusUnauthorized, reasonSignature},
		{"RS256", "Bearer " + sign(t, jwt.SigningMethodRS256, rsaKey, good), http.StatusUnauthorized, reasonSignature},
		{"alg none", "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good), http.StatusUnauthorized, reasonSignature},
		{"expired", "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, with("exp", time.Now().Add(-time.Minute).Unix())), http.StatusUnauthorized, reasonExpired},
		{"no exp", "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, with("exp", nil)), http.StatusUnauthorized, reasonClaims},
		{"wrong issuer", "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, with("iss", "evil")), http.StatusUnauthorized, reasonClaims},
		{"no issuer", "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, with("iss", nil)), http.StatusUnauthorized, reasonClaims},
		{"no subject", "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, with("sub", nil)), http.StatusUnauthorized, reasonClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := metric(t, f.reg, "refapp_auth_failures_total", map[string]string{"reason": tt.wantReason})
			a := f.do("GET", "/v1/me", "", "", "Authorization", tt.header)
			if a.status != tt.wantStatus {
				t.Fatalf("GET /v1/me with %s = %d %s; want %d", tt.name, a.status, a.body, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusUnauthorized {
				return
			}
			if a.header.Get("WWW-Authenticate") == "" {
				t.Errorf("GET /v1/me with %s: no WWW-Authenticate header", tt.name)
			}
			if after := metric(t, f.reg, "refapp_auth_failures_total", map[string]string{"reason": tt.wantReason}); after != before+1 {
				t.Errorf("refapp_auth_failures_total{reason=%q} went %v -> %v; want +1", tt.wantReason, before, after)
			}
		})
	}
}

func TestEveryAuthedRouteWantsAToken(t *testing.T) {
	f := newFixture(t, setup{})
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/me"}, {"PUT", "/v1/me"}, {"POST", "/v1/posts"}, {"POST", "/v1/sync"}, {"POST", "/v1/devices"},
	} {
		if a := f.do(r.method, r.path, "", `{}`); a.status != http.StatusUnauthorized {
			t.Errorf("%s %s without a token = %d; want 401", r.method, r.path, a.status)
		}
	}
	if n := f.store.Seq(); n != 0 {
		t.Errorf("store writes after unauthenticated requests = %d; want 0", n)
	}
}

func TestTokenExpiresWithTheClock(t *testing.T) {
	var offset atomic.Int64 // added to the wall clock; the server reads it
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	f := newFixture(t, setup{opts: []Option{WithClock(clock), WithTokenTTL(time.Minute)}})
	_, token := f.user("carol")
	if a := f.do("GET", "/v1/me", token, ""); a.status != http.StatusOK {
		t.Fatalf("GET /v1/me with a fresh token = %d %s; want 200", a.status, a.body)
	}
	offset.Store(int64(2 * time.Minute))
	if a := f.do("GET", "/v1/me", token, ""); a.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/me with a token 2m after login (TTL 1m) = %d; want 401", a.status)
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	store := NewStoreClient(FixedPrimary("http://127.0.0.1:1"))
	tests := []struct {
		name   string
		deps   Deps
		secret []byte
		opts   []Option
		want   string // in the error
	}{
		{"no store", Deps{}, testSecret, nil, "no store"},
		{"short secret", Deps{Store: store}, testSecret[:MinSecretBytes-1], nil, "JWT secret"},
		{"zero token TTL", Deps{Store: store}, testSecret, []Option{WithTokenTTL(0)}, "token TTL"},
		{"bcrypt cost", Deps{Store: store}, testSecret, []Option{WithBcryptCost(99)}, "bcrypt cost"},
		{"no breaker failures", Deps{Store: store}, testSecret, []Option{WithBreaker(0, time.Second)}, "breaker failures"},
		{"empty body limit", Deps{Store: store}, testSecret, []Option{WithMaxBodyBytes(0)}, "max body"},
		{"negative feed fresh", Deps{Store: store}, testSecret, []Option{WithFeedFresh(-time.Second)}, "feed fresh"},
	}
	for _, tt := range tests {
		if _, err := New(tt.deps, tt.secret, "x", tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New with %s = %v; want an error about %s", tt.name, err, tt.want)
		}
	}
	if _, err := New(Deps{Store: store}, testSecret, "x"); err != nil {
		t.Errorf("New with defaults = %v; want nil", err)
	}
}
