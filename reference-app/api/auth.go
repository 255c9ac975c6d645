package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// Credentials is the body of POST /v1/auth/signup and /v1/auth/login.
type Credentials struct {
	// Username is 3 to 32 characters from a-z 0-9 . _ - (upper case is
	// folded to lower case).
	Username string `json:"username"`
	// Password is MinPasswordBytes to MaxPasswordBytes bytes.
	Password string `json:"password"`
}

// SignupResponse is the answer of POST /v1/auth/signup.
type SignupResponse struct {
	UserID string `json:"userId"`
}

// Token is the answer of POST /v1/auth/login.
type Token struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// user is a stored account, keyed by username.
type user struct {
	UserID       string    `json:"userId"`
	Username     string    `json:"username"`
	PasswordHash []byte    `json:"passwordHash"`
	CreatedAt    time.Time `json:"createdAt"`
}

// claims are the JWT's claims: the registered ones and the username.
type claims struct {
	Username string `json:"username"`
	jwt.RegisteredClaims
}

// checkCredentials validates c, folding the username to lower case.
func checkCredentials(c *Credentials) *requestError {
	c.Username = strings.ToLower(c.Username)
	if n := len(c.Username); n < 3 || n > 32 || strings.Trim(c.Username, "abcdefghijklmnopqrstuvwxyz0123456789._-") != "" {
		return badRequest("username %q: want 3 to 32 characters from a-z 0-9 . _ -", c.Username)
	}
	if n := len(c.Password); n < MinPasswordBytes || n > MaxPasswordBytes {
		return badRequest("password: want %d to %d bytes, got %d", MinPasswordBytes, MaxPasswordBytes, n)
	}
	return nil
}

func (a *API) signup(w http.ResponseWriter, r *http.Request) {
	var c Credentials
	if e := decode(w, r, a.o.maxBody, &c); e != nil {
		writeRequestError(w, e)
		return
	}
	if e := checkCredentials(&c); e != nil {
		writeRequestError(w, e)
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(c.Password), a.o.bcryptCost)
	if err != nil {
		a.dependencyError(w, r, "signup", err)
		return
	}
	u := user{UserID: newUserID(), Username: c.Username, PasswordHash: hash, CreatedAt: a.o.now().UTC()}
	applied, err := a.store.Write(r.Context(), []Op{putIfAbsent(bucketUsers, u.Username, u)})
	if err != nil {
		a.dependencyError(w, r, "signup", err)
		return
	}
	if !applied[0] {
		writeError(w, http.StatusConflict, "username "+c.Username+" is taken")
		return
	}
	writeJSON(w, http.StatusCreated, SignupResponse{UserID: u.UserID})
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var c Credentials
	if e := decode(w, r, a.o.maxBody, &c); e != nil {
		writeRequestError(w, e)
		return
	}
	if e := checkCredentials(&c); e != nil {
		writeRequestError(w, e)
		return
	}
	var u user
	err := getJSON(r.Context(), a.store, bucketUsers, c.Username, &u)
	if err != nil && !errors.Is(err, ErrNotFound) {
		a.dependencyError(w, r, "login", err)
		return
	}
	hash := u.PasswordHash
	if err != nil {
		hash = a.dummyHash()
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(c.Password)) != nil || err != nil {
		a.m.authFailure(reasonCredentials)
		writeError(w, http.StatusUnauthorized, "wrong username or password")
		return
	}
	t, err := a.issue(u)
	if err != nil {
		a.dependencyError(w, r, "login", err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// issue signs a token for u with HS256, valid for the token TTL.
func (a *API) issue(u user) (Token, error) {
	now := a.o.now()
	exp := now.Add(a.o.tokenTTL).Truncate(time.Second)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Username: u.Username,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    a.o.issuer,
			Subject:   u.UserID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	s, err := tok.SignedString(a.secret)
	if err != nil {
		return Token{}, err
	}
	return Token{Token: s, ExpiresAt: exp.UTC()}, nil
}

// verify parses a bearer token: HS256 only (the algorithm is pinned, so
// "none", RS256 or HS384 tokens fail), the API's issuer, an expiry in the
// future and a subject are all required. It returns the claims or the
// reason of refapp_auth_failures_total.
func (a *API) verify(token string) (*claims, string) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, errors.New("not an HMAC token")
		}
		return a.secret, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(a.o.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(a.o.now),
	)
	switch {
	case err == nil && c.Subject == "":
		return nil, reasonClaims
	case err == nil:
		return &c, ""
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, reasonMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, reasonSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, reasonExpired
	default:
		return nil, reasonClaims
	}
}

type userKey struct{}

// authed wraps h so that it runs only with a valid bearer token, whose
// claims it finds with userOf; otherwise the answer is 401 with
// WWW-Authenticate. The token is never logged.
func (a *API) authed(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 7235).
		auth := r.Header.Get("Authorization")
		reason := reasonMissing
		var c *claims
		if len(auth) > len("Bearer ") && strings.EqualFold(auth[:len("Bearer ")], "Bearer ") {
			if token := strings.TrimSpace(auth[len("Bearer "):]); token != "" {
				c, reason = a.verify(token)
			}
		}
		if c == nil {
			a.m.authFailure(reason)
			w.Header().Set("WWW-Authenticate", `Bearer realm="refapp"`)
			writeError(w, http.StatusUnauthorized, "missing, invalid or expired bearer token ("+reason+")")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), userKey{}, c)))
	})
}

// userOf returns the claims authed found for r.
func userOf(r *http.Request) *claims { return r.Context().Value(userKey{}).(*claims) }
