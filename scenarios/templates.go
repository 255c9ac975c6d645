package scenarios

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
)

// Environment is where the values of {{env "NAME"}} and {{file "PATH"}}
// come from. Such values are secrets: they never reach the run directory,
// events, logs or reports.
type Environment struct {
	// LookupEnv returns an environment variable (os.LookupEnv).
	LookupEnv func(name string) (string, bool)
	// ReadFile reads a file (os.ReadFile); relative paths are taken from
	// the scenario file's folder before it is called.
	ReadFile func(path string) ([]byte, error)
}

// OSEnvironment reads the process's environment and files (at most
// MaxSecretFile+1 bytes of a file).
func OSEnvironment() Environment {
	return Environment{LookupEnv: os.LookupEnv, ReadFile: func(path string) ([]byte, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }() // read only
		return io.ReadAll(io.LimitReader(f, MaxSecretFile+1))
	}}
}

// MaxSecretFile bounds the size of a file read by {{file}}.
const MaxSecretFile = 1 << 20

// Values are the env and file values a scenario's templates use, resolved
// once, before the run starts.
type Values struct {
	env   map[string]string
	files map[string]string // by path as written
	// data and bodies are the data files and body files, by path as
	// written: inputs, not secrets.
	data   map[string]*Table
	bodies map[string]string
}

// Resolve reads every env variable and file the scenario's templates name,
// from env. Problems name where each reference was written; a missing
// variable or an unreadable file is a problem.
func Resolve(s *Scenario, env Environment) (*Values, error) {
	v := &validator{s: s}
	vals := v.resolve(env)
	if err := errorOf(v.problems); err != nil {
		return nil, err
	}
	return vals, nil
}

// resolve reads every reference of the scenario's templates, adding a
// problem for each that cannot be read.
func (v *validator) resolve(env Environment) *Values {
	vals := &Values{env: map[string]string{}, files: map[string]string{}}
	v.readInputs(env, vals)
	refs := v.s.references()
	for i, st := range v.s.Load {
		for j, r := range st.Requests {
			if body, ok := vals.bodies[r.BodyFile]; ok {
				brefs, _ := templateReferences(body)
				for _, ref := range brefs {
					ref.path = fmt.Sprintf("load[%d].requests[%d].bodyFile", i, j)
					refs = append(refs, ref)
				}
			}
		}
	}
	for _, ref := range refs {
		switch ref.fn {
		case "env":
			if _, done := vals.env[ref.arg]; done {
				continue
			}
			val, ok := "", false
			if env.LookupEnv != nil {
				val, ok = env.LookupEnv(ref.arg)
			}
			if !ok {
				v.add(ref.path, "environment variable %s is not set", ref.arg)
				continue
			}
			vals.env[ref.arg] = val
		case "file":
			if _, done := vals.files[ref.arg]; done {
				continue
			}
			b, err := readSecretFile(env, v.s.ResolvePath(ref.arg))
			if err != nil {
				v.add(ref.path, "file %q: %v", ref.arg, err)
				continue
			}
			vals.files[ref.arg] = strings.TrimRight(string(b), "\r\n")
		}
	}
	return vals
}

func readSecretFile(env Environment, path string) ([]byte, error) {
	if env.ReadFile == nil {
		return nil, errors.New("files cannot be read here")
	}
	b, err := env.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	if len(b) > MaxSecretFile {
		return nil, fmt.Errorf("larger than %d bytes", MaxSecretFile)
	}
	return b, nil
}

// Funcs returns env and file functions that answer from v, for templates
// executed during the run.
func (v *Values) Funcs() template.FuncMap {
	return template.FuncMap{
		"env": func(name string) (string, error) {
			if val, ok := v.env[name]; ok {
				return val, nil
			}
			return "", fmt.Errorf("environment variable %s was not resolved", name)
		},
		"file": func(path string) (string, error) {
			if val, ok := v.files[path]; ok {
				return val, nil
			}
			return "", fmt.Errorf("file %q was not resolved", path)
		},
	}
}

// has reports whether every reference was resolved.
func (v *Values) has(refs []reference) bool {
	for _, r := range refs {
		m := v.env
		if r.fn == "file" {
			m = v.files
		}
		if _, ok := m[r.arg]; !ok {
			return false
		}
	}
	return true
}

// Secrets returns every resolved value, longest first, empty values left
// out: what a run must redact from everything it writes.
func (v *Values) Secrets() []string {
	var out []string
	for _, m := range []map[string]string{v.env, v.files} {
		for _, val := range m {
			if val != "" && !slices.Contains(out, val) {
				out = append(out, val)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// ResolvePath returns path relative to the scenario file's folder when it
// is relative (and the scenario was read from a file).
func (s *Scenario) ResolvePath(path string) string {
	if filepath.IsAbs(path) || s.File == "" || strings.HasPrefix(s.File, "bundled:") {
		return path
	}
	return filepath.Join(filepath.Dir(s.File), path)
}

// maxRange bounds the iterations of {{range}} over integer constants,
// nested ones multiplied: a template is run for every request, and one that
// loops a billion times hangs the run.
const maxRange = 1000

// reference is one {{env "X"}} or {{file "X"}} of a template.
type reference struct {
	path    string // the field path of the template
	fn, arg string
}

// templateField is one templated field of a scenario.
type templateField struct {
	path, text string
}

// templateFields lists every field of s that is a template, in document
// order of their kinds.
func (s *Scenario) templateFields() []templateField {
	var out []templateField
	add := func(path, text string) { out = append(out, templateField{path, text}) }
	addMap := func(path string, m map[string]string) {
		for _, k := range sortedKeys(m) {
			add(path+"."+k, m[k])
		}
	}
	if p := s.Target.Processes; p != nil {
		for i, svc := range p.Services {
			sp := fmt.Sprintf("target.processes.services[%d]", i)
			for j, a := range svc.Args {
				add(fmt.Sprintf("%s.args[%d]", sp, j), a)
			}
			addMap(sp+".env", svc.Env)
		}
	}
	if tp, e := s.Target.reached(); e != nil {
		add(tp+".baseURL", e.BaseURL)
		addMap(tp+".urls", e.URLs)
		addMap(tp+".header", e.Header)
		if e.Prometheus != nil {
			addMap(tp+".prometheus.header", e.Prometheus.Header)
		}
	}
	if k := s.Target.Kubernetes; k != nil && k.Kubeconfig != "" {
		add("target.kubernetes.kubeconfig", k.Kubeconfig)
	}
	for i, f := range s.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		if h := f.HTTP; h != nil {
			add(p+".http.url", h.URL)
			add(p+".http.body", h.Body)
			addMap(p+".http.header", h.Header)
			if r := h.Recover; r != nil {
				add(p+".http.recover.url", r.URL)
				add(p+".http.recover.body", r.Body)
				addMap(p+".http.recover.header", r.Header)
			}
		}
		if e := f.Exec; e != nil {
			for j, a := range e.Command {
				add(fmt.Sprintf("%s.exec.command[%d]", p, j), a)
			}
			addMap(p+".exec.env", e.Env)
			if r := e.Recover; r != nil {
				for j, a := range r.Command {
					add(fmt.Sprintf("%s.exec.recover.command[%d]", p, j), a)
				}
				addMap(p+".exec.recover.env", r.Env)
			}
		}
	}
	for i, ss := range s.Sessions {
		for _, a := range []struct {
			key string
			req *AuthRequest
		}{{"signup", ss.Signup}, {"login", &ss.Login}} {
			if a.req == nil {
				continue
			}
			p := fmt.Sprintf("sessions[%d].%s", i, a.key)
			add(p+".url", a.req.URL)
			add(p+".body", a.req.Body)
			addMap(p+".header", a.req.Header)
		}
	}
	for i, st := range s.Load {
		for j, r := range st.Requests {
			p := fmt.Sprintf("load[%d].requests[%d]", i, j)
			add(p+".url", r.URL)
			add(p+".body", r.Body)
			addMap(p+".header", r.Header)
		}
	}
	for i, w := range s.Probes.Writes {
		for _, r := range []struct {
			key string
			req ProbeRequest
		}{{"write", w.Write}, {"read", w.Read}} {
			p := fmt.Sprintf("probes.writes[%d].%s", i, r.key)
			add(p+".url", r.req.URL)
			add(p+".body", r.req.Body)
			addMap(p+".header", r.req.Header)
		}
	}
	return out
}

// references returns every env and file reference of s's templates, in
// field order. Templates that do not parse are left to Validate.
func (s *Scenario) references() []reference {
	var out []reference
	for _, f := range s.templateFields() {
		refs, _ := templateReferences(f.text)
		for _, r := range refs {
			r.path = f.path
			out = append(out, r)
		}
	}
	return out
}

// placeholderFuncs are every function a scenario template may call, for
// parsing; execution binds real ones.
var placeholderFuncs = template.FuncMap{
	"env":       func(string) string { return "" },
	"file":      func(string) string { return "" },
	"link":      func(string) string { return "" },
	"links":     func(string) []string { return nil },
	"addr":      func(string, ...string) string { return "" },
	"instances": func(string) []string { return nil },
	"join":      func(string, []string) string { return "" },
	"urls":      func([]string) []string { return nil },
	"randInt": func(a, b int) (int, error) {
		if a > b {
			return 0, fmt.Errorf("randInt %d %d: the first bound is above the second", a, b)
		}
		return a, nil
	},
	"pick": func(first string, _ ...string) string { return first },
	"now":  func() string { return "2006-01-02T15:04:05.000Z" },
}

// templateReferences parses text and returns its env and file calls; an
// error when one is not called with a quoted constant, which the run could
// not resolve beforehand.
func templateReferences(text string) ([]reference, error) {
	if !strings.Contains(text, "{{") {
		return nil, nil
	}
	trees, err := parse.Parse("t", text, "", "", placeholderFuncs, builtinFuncs())
	if err != nil {
		return nil, err
	}
	var refs []reference
	var errs []error
	if len(trees) > 1 {
		// {{define}} and {{block}} make trees of their own.
		errs = append(errs, errors.New("define and block are not supported in scenario templates"))
	}
	iterations := int64(1) // of the constant ranges enclosing the node walked
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for i, c := range n.Cmds {
				if id, ok := c.Args[0].(*parse.IdentifierNode); ok && (id.Ident == "env" || id.Ident == "file") {
					str, isStr := (parse.Node)(nil), false
					if len(c.Args) == 2 && i == 0 {
						_, isStr = c.Args[1].(*parse.StringNode)
						str = c.Args[1]
					}
					if !isStr {
						errs = append(errs, fmt.Errorf("%s takes one quoted name, such as {{%s \"NAME\"}}", id.Ident, id.Ident))
						continue
					}
					refs = append(refs, reference{fn: id.Ident, arg: str.(*parse.StringNode).Text})
				}
				for _, a := range c.Args {
					walk(a)
				}
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			outer := iterations
			if n.Pipe != nil && len(n.Pipe.Cmds) == 1 && len(n.Pipe.Cmds[0].Args) == 1 {
				switch arg := n.Pipe.Cmds[0].Args[0].(type) {
				case *parse.NumberNode:
					if !arg.IsInt || arg.Int64 > maxRange || iterations*max(arg.Int64, 1) > maxRange {
						errs = append(errs, fmt.Errorf("range over %s: at most %d iterations in all, nested ranges multiplied", arg.Text, maxRange))
					} else {
						iterations *= max(arg.Int64, 1)
					}
				case *parse.FieldNode, *parse.ChainNode:
					// A field of the data: a list of its own size.
				case *parse.IdentifierNode:
					if arg.Ident != "instances" && arg.Ident != "links" {
						errs = append(errs, fmt.Errorf("range over %s: only over a number, a field, or instances and links", arg.Ident))
					}
				default:
					errs = append(errs, fmt.Errorf("range over %s: only over a number, a field, or instances and links", n.Pipe))
				}
			} else if n.Pipe != nil && len(n.Pipe.Cmds) == 1 && len(n.Pipe.Cmds[0].Args) == 2 {
				if id, ok := n.Pipe.Cmds[0].Args[0].(*parse.IdentifierNode); !ok || (id.Ident != "instances" && id.Ident != "links") {
					errs = append(errs, fmt.Errorf("range over %s: only over a number, a field, or instances and links", n.Pipe))
				}
			} else {
				errs = append(errs, fmt.Errorf("range over %s: only over a number, a field, or instances and links", n.Pipe))
			}
			walk(n.Pipe)
			walk(n.List)
			iterations = outer
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			errs = append(errs, fmt.Errorf("{{template %q}} is not supported in scenario templates", n.Name))
		}
	}
	for _, t := range trees {
		walk(t.Root)
	}
	if len(errs) == 0 {
		return refs, nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return refs, errors.New(strings.Join(msgs, "; ")) // one line: a problem is one line
}

// builtinFuncs names text/template's built-in functions, so that parse
// accepts them.
func builtinFuncs() map[string]any {
	m := map[string]any{}
	for _, name := range []string{"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"} {
		m[name] = fmt.Sprint
	}
	return m
}
