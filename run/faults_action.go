package run

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/action"
	"github.com/gameday/gameday/scenarios"
)

// actionData is what the templates of an http action see: the target's
// URLs and token, as a load request's do.
type actionData struct {
	Base  string
	Token string
	urls  map[string]string
}

// URL returns the target's URL named name.
func (d actionData) URL(name string) (string, error) {
	u, ok := d.urls[name]
	if !ok {
		return "", fmt.Errorf("unknown URL %q", name)
	}
	return u, nil
}

func newHTTPFault(f scenarios.Fault, env faultEnv) (chaos.Fault, error) {
	data := actionData{Base: env.running.Base, Token: env.running.Token, urls: env.running.URLs}
	funcs := env.vals.Funcs()
	inject, err := httpRequest(f.HTTP.Request(), data, funcs)
	if err != nil {
		return nil, fmt.Errorf("fault %q: %w", f.Name, err)
	}
	spec := action.HTTPSpec{Inject: inject}
	if r := f.HTTP.Recover; r != nil {
		rec, err := httpRequest(r, data, funcs)
		if err != nil {
			return nil, fmt.Errorf("fault %q: recover: %w", f.Name, err)
		}
		spec.Recover = &rec
	}
	return action.NewHTTP(f.Name, spec), nil
}

// httpRequest renders the templates of a request of an http action.
func httpRequest(r *scenarios.HTTPRequest, data actionData, funcs template.FuncMap) (action.HTTPRequest, error) {
	render := func(what, text string) (string, error) {
		t, err := template.New(what).Option("missingkey=error").Funcs(funcs).Parse(text)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		var b strings.Builder
		if err := t.Execute(&b, data); err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return b.String(), nil
	}
	out := action.HTTPRequest{Method: r.Method, Expect: r.Expect, Timeout: r.Timeout, Retries: r.Retries, Header: http.Header{}}
	var err error
	if out.URL, err = render("url", r.URL); err != nil {
		return out, err
	}
	if out.Body, err = render("body", r.Body); err != nil {
		return out, err
	}
	for k, v := range r.Header {
		val, err := render("header "+k, v)
		if err != nil {
			return out, err
		}
		out.Header.Set(k, val)
	}
	return out, nil
}

func newExecFault(f scenarios.Fault, env faultEnv) (chaos.Fault, error) {
	inject, err := execCommand(f.Exec.Inject(), env)
	if err != nil {
		return nil, fmt.Errorf("fault %q: %w", f.Name, err)
	}
	spec := action.ExecSpec{Inject: inject}
	if r := f.Exec.Recover; r != nil {
		rec, err := execCommand(r, env)
		if err != nil {
			return nil, fmt.Errorf("fault %q: recover: %w", f.Name, err)
		}
		spec.Recover = &rec
	}
	return action.NewExec(f.Name, spec), nil
}

// execCommand resolves a command of an exec action: its elements rendered
// over the running target (scenarios.ExecData), a first element that names
// one of the target's Commands replaced by it, else a relative executable
// path and the working directory taken from the scenario file's folder;
// env values rendered.
func execCommand(c *scenarios.ExecCommand, env faultEnv) (action.Command, error) {
	r := env.running
	data := scenarios.NewExecData(r.Base, r.Token, r.URLs, r.Dirs)
	argv := make([]string, 0, len(c.Command))
	for i, a := range c.Command {
		if !strings.Contains(a, "{{") {
			argv = append(argv, a)
			continue
		}
		t, err := template.New("command").Option("missingkey=error").Funcs(env.vals.Funcs()).Parse(a)
		if err != nil {
			return action.Command{}, fmt.Errorf("command[%d]: %w", i, err)
		}
		var b strings.Builder
		if err := t.Execute(&b, data); err != nil {
			return action.Command{}, fmt.Errorf("command[%d]: %w", i, err)
		}
		argv = append(argv, b.String())
	}
	if cmd, ok := r.Commands[argv[0]]; ok {
		argv = append(slices.Clone(cmd), argv[1:]...)
	} else if strings.ContainsRune(argv[0], filepath.Separator) {
		argv[0] = absPath(env.s.ResolvePath(argv[0]))
	}
	out := action.Command{Argv: argv, Dir: absPath(env.s.ResolvePath(".")), Timeout: c.Timeout}
	if c.Dir != "" {
		out.Dir = absPath(env.s.ResolvePath(c.Dir))
	}
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t, err := template.New("env " + k).Option("missingkey=error").Funcs(env.vals.Funcs()).Parse(c.Env[k])
		if err != nil {
			return out, fmt.Errorf("env %s: %w", k, err)
		}
		var b strings.Builder
		if err := t.Execute(&b, nil); err != nil {
			return out, fmt.Errorf("env %s: %w", k, err)
		}
		out.Env = append(out.Env, k+"="+b.String())
	}
	return out, nil
}

// absPath makes p absolute when it can.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
