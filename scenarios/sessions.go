package scenarios

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Session is a set of virtual users signed up (optionally) and logged in
// against the target before the load, whose tokens load requests use:
// {{.User.Token}} in a stream that names the session. The templates of
// Signup and Login see .User.Index (from 0) and .User.Name
// ("<session>-<index>"), besides the fields of RequestData. A failed
// signup or login stops the run before any load, exit code 3.
type Session struct {
	Name string `yaml:"name" json:"name"`
	// Users is the number of users, 1 to MaxSessionUsers.
	Users  int          `yaml:"users" json:"users"`
	Signup *AuthRequest `yaml:"signup,omitempty" json:"signup,omitempty"`
	// Login must say where its answer holds the token.
	Login AuthRequest `yaml:"login" json:"login"`
}

// MaxSessionUsers is the most users a session signs in.
const MaxSessionUsers = 10000

// DefaultAuthMethod is the method of a signup or login without one.
const DefaultAuthMethod = "POST"

// AuthRequest is the signup or the login request of a Session.
type AuthRequest struct {
	Method string            `yaml:"method" json:"method"` // default POST
	URL    string            `yaml:"url" json:"url"`
	Body   string            `yaml:"body,omitempty" json:"body,omitempty"`
	Header map[string]string `yaml:"header,omitempty" json:"header,omitempty"`
	// Expect are the statuses that succeed; absent: any 2xx.
	Expect []int `yaml:"expect,omitempty" json:"expect,omitempty"`
	// Token says where a login's answer holds the token; a signup has none.
	Token *TokenSource `yaml:"token,omitempty" json:"token,omitempty"`
}

// TokenSource is where a login's answer holds the token: exactly one of a
// dotted JSON path ("token", "data.access_token", "items.0.token") and a
// response header name.
type TokenSource struct {
	JSON   string `yaml:"json,omitempty" json:"json,omitempty"`
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
}

// Pick is how the requests of a stream choose their session's user.
type Pick string

// Picks.
const (
	// PickRoundRobin gives the request numbered Seq the user Seq mod users.
	PickRoundRobin Pick = "round-robin"
	// PickRandom draws a user per request, reproducibly with the stream's
	// seed.
	PickRandom Pick = "random"
)

// picks are the Pick values, in the order messages list them.
var picks = []Pick{PickRoundRobin, PickRandom}

// DataFile is a stream's table of values: {{.Row.column}} reads the row
// numbered Seq mod rows. A CSV file has a header line naming the columns;
// a JSON file is an array of objects whose values are strings, numbers or
// booleans.
type DataFile struct {
	// File is relative to the scenario's folder.
	File string `yaml:"file" json:"file"`
}

// MaxDataFile bounds the size of a data file or a body file.
const MaxDataFile = MaxSecretFile

// SessionUser is what a template sees as .User: the virtual user of the
// request, in a stream with a session (nil without one).
type SessionUser struct {
	Index int    // from 0
	Name  string // "<session>-<index>"
	Token string // the user's token (empty in a signup or login)
}

// Table is a data file read: rows by column name, every row with every
// column.
type Table struct {
	Columns []string
	Rows    []map[string]string
}

// ParseData reads a data file's content, by the file name's extension:
// ".csv" or ".json".
func ParseData(name string, b []byte) (*Table, error) {
	var t *Table
	var err error
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		t, err = parseCSV(b)
	case ".json":
		t, err = parseJSONRows(b)
	default:
		return nil, errors.New("not a .csv or .json file")
	}
	if err != nil {
		return nil, err
	}
	if len(t.Rows) == 0 {
		return nil, errors.New("no rows")
	}
	return t, nil
}

func parseCSV(b []byte) (*Table, error) {
	r := csv.NewReader(bytes.NewReader(b))
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("not CSV: %w", err)
	}
	if len(recs) == 0 {
		return nil, errors.New("no header line")
	}
	t := &Table{Columns: recs[0]}
	for i, c := range t.Columns {
		if c == "" || slices.Contains(t.Columns[:i], c) {
			return nil, fmt.Errorf("header: column %d is empty or repeated (%q)", i+1, c)
		}
	}
	for _, rec := range recs[1:] {
		row := make(map[string]string, len(rec))
		for i, c := range t.Columns {
			row[c] = rec[i]
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

func parseJSONRows(b []byte) (*Table, error) {
	var raw []map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON array of objects: %w", err)
	}
	t := &Table{}
	for i, obj := range raw {
		row := make(map[string]string, len(obj))
		for k, v := range obj {
			switch v := v.(type) {
			case string:
				row[k] = v
			case json.Number:
				row[k] = v.String()
			case bool:
				row[k] = strconv.FormatBool(v)
			default:
				return nil, fmt.Errorf("row %d: %q is not a string, number or boolean", i, k)
			}
		}
		if i == 0 {
			t.Columns = sortedKeys(row)
		} else if !slices.Equal(sortedKeys(row), t.Columns) {
			return nil, fmt.Errorf("row %d: keys %s differ from the first row's (%s)", i, strings.Join(sortedKeys(row), ", "), strings.Join(t.Columns, ", "))
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// sessionDefaults fills the sessions' and streams' fields that absent
// says were left out.
func sessionDefaults(s *Scenario, absent func(path string, zero bool) bool) {
	for i := range s.Sessions {
		ss := &s.Sessions[i]
		p := fmt.Sprintf("sessions[%d]", i)
		if a := ss.Signup; a != nil && absent(p+".signup.method", a.Method == "") {
			a.Method = DefaultAuthMethod
		}
		if absent(p+".login.method", ss.Login.Method == "") {
			ss.Login.Method = DefaultAuthMethod
		}
	}
	for i := range s.Load {
		st := &s.Load[i]
		if st.Session != "" && absent(fmt.Sprintf("load[%d].pick", i), st.Pick == "") {
			st.Pick = PickRoundRobin
		}
	}
}

// Data returns the table of the data file at path as written, read by
// LoadBytes WithEnvironment (or Resolve); nil when it was not read.
func (v *Values) Data(path string) *Table { return v.data[path] }

// BodyFile returns the content of the body file at path as written, read
// by LoadBytes WithEnvironment (or Resolve); ok is false when it was not
// read.
func (v *Values) BodyFile(path string) (body string, ok bool) {
	body, ok = v.bodies[path]
	return body, ok
}

// readInputs reads every data file and body file of the scenario from env
// into vals, adding a problem where one is missing, unreadable or not a
// table.
func (v *validator) readInputs(env Environment, vals *Values) {
	vals.data, vals.bodies = map[string]*Table{}, map[string]string{}
	for i, st := range v.s.Load {
		p := fmt.Sprintf("load[%d]", i)
		if d := st.Data; d != nil && d.File != "" {
			if _, done := vals.data[d.File]; !done {
				b, err := readSecretFile(env, v.s.ResolvePath(d.File))
				if err != nil {
					v.add(p+".data.file", "data file %q: %v", d.File, err)
				} else if t, err := ParseData(d.File, b); err != nil {
					v.add(p+".data.file", "data file %q: %v", d.File, err)
				} else {
					vals.data[d.File] = t
				}
			}
		}
		for j, r := range st.Requests {
			if r.BodyFile == "" {
				continue
			}
			if _, done := vals.bodies[r.BodyFile]; done {
				continue
			}
			b, err := readSecretFile(env, v.s.ResolvePath(r.BodyFile))
			if err != nil {
				v.add(fmt.Sprintf("%s.requests[%d].bodyFile", p, j), "body file %q: %v", r.BodyFile, err)
				continue
			}
			vals.bodies[r.BodyFile] = string(b)
		}
	}
}
