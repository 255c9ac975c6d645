package run

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/scenarios"
)

// startSessions signs in the users of every session of the scenario, one
// session after the other, before any load: the first failure is
// returned (the run then aborts, exit 3, before the load starts). The
// sessions are kept in r.sessions, by name, until closeSessions.
func (r *runner) startSessions(ctx context.Context) error {
	for _, ss := range r.s.Sessions {
		spec := load.Session{
			Name: ss.Name, Users: ss.Users, Login: authRequest(ss.Login),
			RunID: r.runID, Token: r.running.Token, URLs: r.running.URLs, Header: r.running.Header, Funcs: r.vals.Funcs(),
			RootCAs: r.running.RootCAs,
		}
		if ss.Signup != nil {
			a := authRequest(*ss.Signup)
			spec.Signup = &a
		}
		sess, err := load.SetUp(ctx, spec, r.running.Base)
		if err != nil {
			return err
		}
		if r.sessions == nil {
			r.sessions = map[string]*load.Sessions{}
		}
		r.sessions[ss.Name] = sess
	}
	return nil
}

// closeSessions stops the sessions' re-logins in flight.
func (r *runner) closeSessions() {
	for _, s := range r.sessions {
		s.Close()
	}
}

func authRequest(a scenarios.AuthRequest) load.AuthRequest {
	out := load.AuthRequest{Method: a.Method, URL: a.URL, Body: a.Body, Header: a.Header, Expect: a.Expect}
	if a.Token != nil {
		out.TokenJSON, out.TokenHeader = a.Token.JSON, a.Token.Header
	}
	return out
}

// streamInputs fills what s takes from the scenario's stream st besides
// its rate and requests: seed, rows, session and pick. It returns the
// seed as the stream's events report it, so that a run can be replayed.
func (r *runner) streamInputs(st scenarios.Stream, s *load.Stream) (seed string) {
	if st.Seed != nil {
		s.Seed = uint64(*st.Seed) //nolint:gosec // G115: a seed's bits, not a quantity
	} else {
		var b [8]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		s.Seed = binary.LittleEndian.Uint64(b[:])
	}
	if st.Data != nil {
		if t := r.vals.Data(st.Data.File); t != nil {
			s.Rows = t.Rows
		}
	}
	if st.Session != "" {
		s.Session = r.sessions[st.Session]
		if st.Pick == scenarios.PickRandom {
			s.Pick = load.PickRandom
		}
	}
	return strconv.FormatInt(int64(s.Seed), 10) //nolint:gosec // G115: written back as the scenario's int64 seed
}

// requestBody is a request's body: its own, or its body file's.
func (r *runner) requestBody(q scenarios.Request) (string, error) {
	if q.BodyFile == "" {
		return q.Body, nil
	}
	body, ok := r.vals.BodyFile(q.BodyFile)
	if !ok {
		return "", fmt.Errorf("request %q: body file %q was not read", q.Name, q.BodyFile)
	}
	return body, nil
}
