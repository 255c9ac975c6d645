package load

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Defaults and bounds of a Session.
const (
	// MaxUsers is the most users a Session signs in.
	MaxUsers = 10000
	// DefaultSetupConcurrency is how many users a Session signs in at once
	// when Session.Concurrency is 0.
	DefaultSetupConcurrency = 8
	// DefaultSetupTimeout bounds a Session's whole setup when
	// Session.Timeout is 0.
	DefaultSetupTimeout = 2 * time.Minute
	// maxAuthBody is how much of an auth answer is read: enough for any
	// token.
	maxAuthBody = 1 << 20
	// maxExcerpt is how much of a failed answer's body a SetupError shows.
	maxExcerpt = 512
)

// Pick is how the requests of a stream with a session choose their user.
type Pick int

// Picks.
const (
	// PickRoundRobin gives the request numbered Seq the user Seq mod Users.
	PickRoundRobin Pick = iota
	// PickRandom gives each request a user drawn from its own generator
	// (see the built-in functions): reproducible with the stream's Seed.
	PickRandom
)

// Session is a set of virtual users that SetUp signs up (optionally) and
// logs in against the target before the load, each with its own token.
// The templates of Signup and Login see Data with User set (Index, Name;
// Token is empty) and Seq equal to the user's index.
type Session struct {
	Name   string
	Users  int          // 1 to MaxUsers
	Signup *AuthRequest // nil: no signup
	Login  AuthRequest  // must extract a token
	// Concurrency is how many users are signed in at once; 0:
	// DefaultSetupConcurrency.
	Concurrency int
	// Timeout bounds the whole setup; 0: DefaultSetupTimeout. Each request
	// is also bounded by DefaultTimeout.
	Timeout time.Duration
	// RunID, Token, URLs, Header, Funcs and RootCAs are as in Stream.
	RunID  string
	Token  string
	URLs   map[string]string
	Header http.Header
	Funcs  template.FuncMap
	// RootCAs are the certificate authorities trusted for https URLs; nil:
	// the system's.
	RootCAs *x509.CertPool
}

// AuthRequest is the signup or login request of a Session.
type AuthRequest struct {
	Method string // default POST
	URL    string
	Body   string
	Header map[string]string
	// Expect are the statuses that succeed; nil: any 2xx.
	Expect []int
	// TokenJSON is a dotted path to the token in a JSON answer ("token",
	// "data.access_token", "items.0.token"); TokenHeader the name of a
	// response header that holds it. A login sets exactly one.
	TokenJSON, TokenHeader string
}

// User is what templates see of the virtual user a request was given:
// {{.User.Token}}.
type User struct {
	Index int    // from 0
	Name  string // "<session>-<index>"
	Token string // the user's token when the request was rendered
}

// Sessions are the signed-in users of a Session, safe for concurrent use.
// They are a Sink: a result with status 401 of a request that carried a
// user's token makes that user log in again, once per token: requests
// rendered after the new login carry the new token, and the 401 stays a
// failure in the results. Close them once the load has ended.
//
// A request is tied to its user and login by its URL's fragment,
// "#user=3,login=1" (0-based user, 0-based login count): a fragment is
// never sent, but every Result keeps it.
type Sessions struct {
	name     string
	users    []sessionUser
	login    *targeter
	tokenOf  func(*http.Response, []byte) (string, error)
	expect   statusSet
	client   *http.Client
	relogins atomic.Uint64 // successful
	failures atomic.Uint64 // failed re-logins

	ctx    context.Context // of re-logins: ends at Close
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and the wg.Go calls against wg.Wait
	closed bool
	wg     sync.WaitGroup
}

type sessionUser struct {
	name  string
	state atomic.Pointer[userState]
	busy  atomic.Bool // a re-login is in flight
}

// userState is a user as templates see it, with its current token, and
// how many logins preceded that token. Immutable: a login stores a new one.
type userState struct {
	user  User
	login uint64
}

// SetupError is a signup or login of a Session that failed: what was
// sent and what came back.
type SetupError struct {
	Session string
	User    int
	Step    string // "signup", "login" or "re-login"
	Method  string
	URL     string // with any password of its userinfo redacted
	Status  int    // 0: no answer
	Body    string // the start of the answer's body, at most 512 bytes
	Err     error  // no answer, or no token in it; nil for a status
}

func (e *SetupError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "session %q: user %d: %s %s %s: ", e.Session, e.User, e.Step, e.Method, e.URL)
	switch {
	case e.Status == 0:
		fmt.Fprintf(&b, "%v", e.Err)
	case e.Err != nil:
		fmt.Fprintf(&b, "status %d: %v", e.Status, e.Err)
	default:
		fmt.Fprintf(&b, "status %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, "; body %q", e.Body)
	}
	return b.String()
}

func (e *SetupError) Unwrap() error { return e.Err }

// SetUp signs every user of s in against base, at most s.Concurrency at a
// time, within s.Timeout: the first failure stops the setup and is
// returned as a *SetupError (a bad Session is a plain error).
func SetUp(ctx context.Context, s Session, base string) (*Sessions, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Name == "" {
		bad("name is empty")
	}
	if s.Users < 1 || s.Users > MaxUsers {
		bad("users %d is out of range (want 1 to %d)", s.Users, MaxUsers)
	}
	if (s.Login.TokenJSON == "") == (s.Login.TokenHeader == "") {
		bad("login: exactly one of token JSON path and token header is required")
	}
	if s.Concurrency < 0 || s.Timeout < 0 {
		bad("concurrency %d or timeout %s is negative", s.Concurrency, s.Timeout)
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("base URL %q is not an absolute http(s) URL", base)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("session %q: %w", s.Name, errors.Join(errs...))
	}
	base = strings.TrimRight(base, "/")
	tf := targetFacts{base: base, token: s.Token, urls: s.URLs, header: s.Header, funcs: s.Funcs, runID: s.RunID,
		user: &User{Name: s.Name + "-0"}} // for the render that checks the templates
	var seq atomic.Uint64 // unused: SetUp numbers the users itself
	prefix := newIDPrefix()
	auth := func(step string, a AuthRequest) (*targeter, error) {
		r := Request{Name: step, Method: cmp.Or(a.Method, http.MethodPost), URL: a.URL, Body: a.Body, Header: a.Header}
		t, err := newTargeter(r, tf, prefix, &seq)
		if err != nil {
			return nil, fmt.Errorf("session %q: %s: %w", s.Name, step, err)
		}
		return t, nil
	}
	ss := &Sessions{name: s.Name, users: make([]sessionUser, s.Users), expect: statusSet(s.Login.Expect)}
	var signup *targeter
	var err error
	if s.Signup != nil {
		if signup, err = auth("signup", *s.Signup); err != nil {
			return nil, err
		}
	}
	if ss.login, err = auth("login", s.Login); err != nil {
		return nil, err
	}
	ss.tokenOf = tokenFrom(s.Login.TokenJSON, s.Login.TokenHeader) //nolint:bodyclose // reads a response's header; its body was read and closed by the caller
	conc := min(cmp.Or(s.Concurrency, DefaultSetupConcurrency), s.Users)
	transport := newTransport(newConnPool(), conc)
	transport.TLSClientConfig.RootCAs = s.RootCAs
	ss.client = &http.Client{
		Transport:     transport,
		Timeout:       DefaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for i := range ss.users {
		ss.users[i].name = s.Name + "-" + strconv.Itoa(i)
	}

	setupCtx, cancel := context.WithTimeout(ctx, cmp.Or(s.Timeout, DefaultSetupTimeout))
	defer cancel()
	var (
		next     atomic.Int64
		failOnce sync.Once
		failed   error // the first failure; read after wg.Wait
		wg       sync.WaitGroup
	)
	for range conc {
		wg.Go(func() {
			for setupCtx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= s.Users {
					return
				}
				err := func() error {
					if signup != nil {
						if _, err := ss.send(setupCtx, signup, "signup", i, statusSet(s.Signup.Expect), nil); err != nil {
							return err
						}
					}
					tok, err := ss.send(setupCtx, ss.login, "login", i, ss.expect, ss.tokenOf)
					if err != nil {
						return err
					}
					ss.users[i].state.Store(&userState{user: User{Index: i, Name: ss.users[i].name, Token: tok}})
					return nil
				}()
				if err != nil {
					failOnce.Do(func() { failed = err })
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	if failed == nil && setupCtx.Err() != nil {
		failed = fmt.Errorf("session %q: setup: %w", s.Name, context.Cause(setupCtx))
	}
	if failed != nil {
		ss.client.CloseIdleConnections()
		return nil, failed
	}
	ss.ctx, ss.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return ss, nil
}

// send renders t for user i, sends it and checks the answer's status;
// with tokenOf, it returns the token found in the answer.
func (ss *Sessions) send(ctx context.Context, t *targeter, step string, i int, expect statusSet, tokenOf func(*http.Response, []byte) (string, error)) (string, error) {
	seq := uint64(i) //nolint:gosec // G115: i is in [0, MaxUsers)
	d := Data{Base: t.tf.base, Seq: seq, ID: t.id(seq), Token: t.tf.token, RunID: t.tf.runID, urls: t.tf.urls, rnd: seedFor(t.tf.seed, seq),
		User: &User{Index: i, Name: ss.users[i].name}}
	var tgt vegeta.Target
	if err := t.renderData(&tgt, &d, 0); err != nil {
		return "", fmt.Errorf("session %q: user %d: %s: %w", ss.name, i, step, err)
	}
	fail := &SetupError{Session: ss.name, User: i, Step: step, Method: tgt.Method, URL: tgt.URL}
	if u, err := url.Parse(tgt.URL); err == nil {
		fail.URL = u.Redacted()
	}
	req, err := tgt.Request()
	if err != nil {
		fail.Err = err
		return "", fail
	}
	resp, err := ss.client.Do(req.WithContext(ctx))
	if err != nil {
		fail.Err = err
		return "", fail
	}
	defer func() { _ = resp.Body.Close() }() // read only
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAuthBody))
	fail.Status, fail.Body = resp.StatusCode, excerpt(body)
	if err != nil {
		fail.Err = fmt.Errorf("read the answer: %w", err)
		return "", fail
	}
	if !expect.has(resp.StatusCode) {
		return "", fail
	}
	if tokenOf == nil {
		return "", nil
	}
	tok, err := tokenOf(resp, body)
	if err != nil {
		fail.Err = err
		return "", fail
	}
	return tok, nil
}

// excerpt is the start of body, at most maxExcerpt bytes, cut at a rune.
func excerpt(body []byte) string {
	if len(body) <= maxExcerpt {
		return string(body)
	}
	cut := maxExcerpt
	for cut > 0 && body[cut]&0xC0 == 0x80 {
		cut--
	}
	return string(body[:cut]) + "…"
}

// tokenFrom returns the token extractor of a login: a dotted JSON path or
// a header name.
func tokenFrom(jsonPath, header string) func(*http.Response, []byte) (string, error) {
	if header != "" {
		return func(resp *http.Response, _ []byte) (string, error) {
			if tok := resp.Header.Get(header); tok != "" {
				return tok, nil
			}
			return "", fmt.Errorf("no %s header in the answer", http.CanonicalHeaderKey(header))
		}
	}
	keys := strings.Split(jsonPath, ".")
	return func(_ *http.Response, body []byte) (string, error) {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return "", fmt.Errorf("the answer is not JSON: %w", err)
		}
		tok, ok := JSONPath(v, keys)
		if !ok || tok == "" {
			return "", fmt.Errorf("no string at JSON path %q in the answer", jsonPath)
		}
		return tok, nil
	}
}

// JSONPath returns the string at the dotted path keys of a decoded JSON
// value: object keys, and decimal indices into arrays. ok is false when
// the path leads nowhere or to something else than a string.
func JSONPath(v any, keys []string) (s string, ok bool) {
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			if v, ok = x[k]; !ok {
				return "", false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return "", false
			}
			v = x[i]
		default:
			return "", false
		}
	}
	s, ok = v.(string)
	return s, ok
}

// Users is the number of users.
func (ss *Sessions) Users() int { return len(ss.users) }

// Name is the session's name.
func (ss *Sessions) Name() string { return ss.name }

// Relogins returns how many re-logins succeeded and failed so far.
func (ss *Sessions) Relogins() (ok, failed uint64) { return ss.relogins.Load(), ss.failures.Load() }

// user returns user i as templates see it (shared: read only), and its
// login count.
func (ss *Sessions) user(i int) (*User, uint64) {
	st := ss.users[i].state.Load()
	return &st.user, st.login
}

// Record is the Sink that re-logs a user in on a 401 (see Sessions).
func (ss *Sessions) Record(_, _ string, r *vegeta.Result) {
	if r.Code != http.StatusUnauthorized {
		return
	}
	i, login, ok := userOfURL(r.URL)
	if !ok || i >= len(ss.users) {
		return
	}
	u := &ss.users[i]
	if u.state.Load().login != login || !u.busy.CompareAndSwap(false, true) {
		return // re-logged since that request, or being re-logged
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		u.busy.Store(false)
		return
	}
	ss.wg.Go(func() {
		defer u.busy.Store(false)
		if u.state.Load().login != login {
			return // a re-login ended between the check and the CAS
		}
		tok, err := ss.send(ss.ctx, ss.login, "re-login", i, ss.expect, ss.tokenOf)
		if err != nil {
			ss.failures.Add(1)
			return
		}
		u.state.Store(&userState{user: User{Index: i, Name: u.name, Token: tok}, login: login + 1})
		ss.relogins.Add(1)
	})
}

// Close stops re-logins in flight and waits for them.
func (ss *Sessions) Close() {
	ss.mu.Lock()
	ss.closed = true
	ss.mu.Unlock()
	ss.cancel()
	ss.wg.Wait()
	ss.client.CloseIdleConnections()
}

// appendUserFragment appends the fragment a request of user i at login count login
// carries: "#user=3,login=1".
func appendUserFragment(b []byte, i int, login uint64) []byte {
	b = append(b, "#user="...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, ",login="...)
	return strconv.AppendUint(b, login, 10)
}

// userOfURL reads the user and login count of a request's URL fragment.
func userOfURL(u string) (i int, login uint64, ok bool) {
	at := strings.LastIndex(u, "#user=")
	if at < 0 {
		return 0, 0, false
	}
	us, ls, found := strings.Cut(u[at+len("#user="):], ",login=")
	if !found {
		return 0, 0, false
	}
	i, err := strconv.Atoi(us)
	if err != nil || i < 0 {
		return 0, 0, false
	}
	login, err = strconv.ParseUint(ls, 10, 64)
	return i, login, err == nil
}

var _ Sink = (*Sessions)(nil)
