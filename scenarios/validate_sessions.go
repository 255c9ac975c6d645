package scenarios

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// templateContext is what the templates being checked see besides the
// target's: a user in a session's stream (and in its signup and login), a
// row in a stream with a data file.
type templateContext struct {
	user      *SessionUser
	row       map[string]string
	rowUnread bool // the stream has a data file that was not read: .Row is unknown
}

// sessions checks the sessions.
func (v *validator) sessions(decl Declaration) {
	seen := map[string]string{}
	for i, ss := range v.s.Sessions {
		p := fmt.Sprintf("sessions[%d]", i)
		v.name(p+".name", ss.Name, labelName, "letters, digits, '_', '.' and '-', starting with a letter or digit", seen)
		if ss.Users < 1 || ss.Users > MaxSessionUsers {
			v.add(p+".users", "users %d is out of range (want 1 to %d)", ss.Users, MaxSessionUsers)
		}
		v.cur = templateContext{user: &SessionUser{Name: ss.Name + "-0"}}
		if a := ss.Signup; a != nil {
			v.authRequest(p+".signup", *a, decl)
			if a.Token != nil {
				v.add(p+".signup.token", "a signup takes no token (only the login does)")
			}
		}
		v.authRequest(p+".login", ss.Login, decl)
		v.cur = templateContext{}
		tp := p + ".login.token"
		t := ss.Login.Token
		if t == nil {
			v.add(tp, "required: where the login's answer holds the token ({json: token} or {header: X-Token})")
			continue
		}
		var set []string
		if t.JSON != "" {
			set = append(set, "json")
		}
		if t.Header != "" {
			set = append(set, "header")
		}
		if len(set) != 1 {
			v.add(tp, "exactly one of json, header is required, got %s", gotKinds(set))
		}
		if t.JSON != "" && slices.Contains(strings.Split(t.JSON, "."), "") {
			v.add(tp+".json", "json path %q has an empty key (want keys separated by \".\", such as \"data.access_token\")", t.JSON)
		}
		if t.Header != "" && !headerName.MatchString(t.Header) {
			v.add(tp+".header", "invalid header name %q", t.Header)
		}
	}
}

// authRequest checks a signup or a login.
func (v *validator) authRequest(p string, a AuthRequest, decl Declaration) {
	v.httpParts(p, a.Method, a.URL, a.Body, a.Header, decl, "required", "; start it with {{.Base}}")
	if a.Expect != nil && len(a.Expect) == 0 {
		v.add(p+".expect", "expect is empty (leave it out for any 2xx)")
	}
	for j, c := range a.Expect {
		if c < 100 || c > 599 {
			v.add(fmt.Sprintf("%s.expect[%d]", p, j), "status %d is not an HTTP status (want 100 to 599)", c)
		}
	}
}

// streamInputs checks a stream's session, pick and data file, and sets
// what its templates see.
func (v *validator) streamInputs(p string, st Stream) {
	v.cur = templateContext{}
	if st.Session != "" {
		var names []string
		for _, ss := range v.s.Sessions {
			if !slices.Contains(names, ss.Name) {
				names = append(names, ss.Name)
			}
		}
		switch {
		case len(names) == 0:
			v.add(p+".session", "unknown session %q: the scenario declares no sessions", st.Session)
		case !slices.Contains(names, st.Session):
			v.add(p+".session", "unknown session %q (want one of %s)", st.Session, capped(names))
		}
		// Check the templates as if the session were known, so that one
		// wrong name does not also make every {{.User}} wrong.
		v.cur.user = &SessionUser{Name: st.Session + "-0", Token: "token"}
		oneOf(v, p+".pick", "pick", st.Pick, picks)
	} else if st.Pick != "" {
		v.add(p+".pick", "pick %q needs a session (name one with session:)", st.Pick)
	}
	if d := st.Data; d != nil {
		switch ext := strings.ToLower(filepath.Ext(d.File)); {
		case d.File == "":
			v.add(p+".data.file", "required")
		case ext != ".csv" && ext != ".json":
			v.add(p+".data.file", "data file %q: not a .csv or .json file", d.File)
		}
		v.cur.rowUnread = true
		if v.vals != nil {
			if t := v.vals.Data(d.File); t != nil {
				v.cur.row, v.cur.rowUnread = t.Rows[0], false
			}
		}
	}
}

// bodyFile checks a request's body file: exclusive with body, and a
// template like a body once read.
func (v *validator) bodyFile(p string, r Request, decl Declaration) {
	if r.BodyFile == "" {
		return
	}
	if r.Body != "" {
		v.add(p+".bodyFile", "bodyFile and body are exclusive (give one)")
	}
	if v.vals == nil {
		return
	}
	if body, ok := v.vals.BodyFile(r.BodyFile); ok {
		if _, _, err := v.checkTemplate("bodyFile", body, decl); err != nil {
			v.add(p+".bodyFile", "body file %q: %v", r.BodyFile, err)
		}
	}
}

// contextProblem says why text cannot be checked or run in the current
// context: .User outside a session. unsure is true when it reads a data
// file's row that was not read.
func (v *validator) contextProblem(text string) (problem string, unsure bool) {
	if v.cur.user == nil && strings.Contains(text, ".User") {
		return ".User needs the stream's session (name one with session:)", false
	}
	return "", v.cur.rowUnread && strings.Contains(text, ".Row")
}
