package scenarios

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

var (
	// promLabel is the shape of a Prometheus label name.
	promLabel = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// headerName is the shape of an HTTP header name (RFC 9110 token).
	headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	// reservedLabels are set by gameday on every instance.
	reservedLabels = []string{"instance", "service", "job"}
)

// processes checks a ProcessesTarget at path p and returns its declaration.
func (v *validator) processes(p string, t *ProcessesTarget) Declaration {
	if len(t.Services) == 0 {
		v.add(p+".services", "at least one service is required")
	}
	seen := map[string]string{}
	for i, s := range t.Services {
		sp := fmt.Sprintf("%s.services[%d]", p, i)
		v.name(sp+".name", s.Name, labelName, "letters, digits, '_', '.' and '-', starting with a letter or digit", seen)
		if s.Name == FromClient {
			v.add(sp+".name", "%q is reserved for gameday's load in edges", FromClient)
		}
		if strings.TrimSpace(s.Command) == "" {
			v.add(sp+".command", "required")
		}
		if s.Replicas != nil && (*s.Replicas < 1 || *s.Replicas > MaxReplicas) {
			v.add(sp+".replicas", "replicas %d is out of range (want 1 to %d)", *s.Replicas, MaxReplicas)
		}
		ports := map[string]string{}
		for j, port := range s.Ports {
			v.name(fmt.Sprintf("%s.ports[%d]", sp, j), port, labelName, "letters, digits, '_', '.' and '-'", ports)
		}
		portOf := func(path, port string) {
			if port != "" && !slices.Contains(s.PortNames(), port) {
				v.add(path, "unknown port %q (want one of %s)", port, strings.Join(s.PortNames(), ", "))
			}
		}
		if h := s.Health; h != nil {
			if !strings.HasPrefix(h.Path, "/") {
				v.add(sp+".health.path", "path %q does not start with / (want such as /healthz)", h.Path)
			}
			portOf(sp+".health.port", h.Port)
		}
		if m := s.Metrics; m != nil {
			if !strings.HasPrefix(m.Path, "/") {
				v.add(sp+".metrics.path", "path %q does not start with / (want such as /metrics)", m.Path)
			}
			portOf(sp+".metrics.port", m.Port)
		}
		v.labels(sp+".labels", s.Labels, reservedLabels...)
		if d := s.RestartDelay; d != nil && *d < 0 {
			v.add(sp+".restartDelay", "restartDelay %s is negative (want 0 or more)", formatDuration(*d))
		} else if d != nil {
			v.tooLong(sp+".restartDelay", "restartDelay", *d)
		}
	}
	instances := map[string]string{}
	for _, in := range t.Instances() {
		si := slices.IndexFunc(t.Services, func(s Service) bool { return s.Name == in.Service.Name })
		sp := fmt.Sprintf("%s.services[%d]", p, si)
		if first, dup := instances[in.Name]; dup && first != sp {
			v.add(sp+".name", "instance %q of this service is also an instance of %s: rename one", in.Name, first)
		}
		instances[in.Name] = sp
	}
	for i, s := range t.Services {
		for _, k := range sortedKeys(s.Env) {
			if !envName.MatchString(k) {
				v.add(fmt.Sprintf("%s.services[%d].env.%s", p, i, k), "invalid environment variable name %q", k)
			}
		}
	}
	v.edges(p, t)
	if p == "target.processes" {
		// The local target's expansion is gameday's own: checked by tests.
		if t.Toxiproxy != "" {
			if why := loopbackHTTP(t.Toxiproxy); why != "" {
				v.add(p+".toxiproxy", "toxiproxy %q %s (want an http URL on loopback, such as \"http://127.0.0.1:8474\")", t.Toxiproxy, why)
			}
		}
		v.serviceTemplates(p, t)
	}
	return t.Declaration()
}

// labels checks user labels; reserved are label names gameday sets itself.
func (v *validator) labels(p string, labels map[string]string, reserved ...string) {
	for _, k := range sortedKeys(labels) {
		switch {
		case !promLabel.MatchString(k) || strings.HasPrefix(k, "__"):
			v.add(p+"."+k, "invalid label name %q (want letters, digits and '_', not starting with a digit or '__')", k)
		case slices.Contains(reserved, k):
			v.add(p+"."+k, "label %q is set by gameday", k)
		}
	}
}

// edges checks the edges and the base of a ProcessesTarget.
func (v *validator) edges(p string, t *ProcessesTarget) {
	services := map[string]*Service{}
	var names []string
	for i := range t.Services {
		services[t.Services[i].Name] = &t.Services[i]
		names = append(names, t.Services[i].Name)
	}
	seen := map[string]string{}
	links := map[string]string{}
	var client []string
	for i, e := range t.Edges {
		ep := fmt.Sprintf("%s.edges[%d]", p, i)
		v.name(ep+".name", e.Name, labelName, "letters, digits, '_', '.' and '-', starting with a letter or digit", seen)
		if e.From == FromClient {
			client = append(client, e.Name)
		} else if _, ok := services[e.From]; !ok {
			v.add(ep+".from", "unknown service %q (want %s or one of %s)", e.From, FromClient, strings.Join(names, ", "))
		}
		to, ok := services[e.To]
		switch {
		case e.To == "":
			v.add(ep+".to", "required")
		case !ok:
			v.add(ep+".to", "unknown service %q (want one of %s)", e.To, strings.Join(names, ", "))
		case e.Port != "" && !slices.Contains(to.PortNames(), e.Port):
			v.add(ep+".port", "service %q has no port %q (want one of %s)", e.To, e.Port, strings.Join(to.PortNames(), ", "))
		}
		for _, l := range t.EdgeLinks(e) {
			if first, dup := links[l.Name]; dup && first != ep {
				v.add(ep+".name", "link name %q is also a link of %s", l.Name, first)
			}
			links[l.Name] = ep
		}
	}
	switch {
	case t.Base != "":
		i := slices.IndexFunc(t.Edges, func(e Edge) bool { return e.Name == t.Base })
		switch {
		case i < 0:
			v.add(p+".base", "unknown edge %q (want one of %s)", t.Base, strings.Join(client, ", "))
		case t.Edges[i].From != FromClient:
			v.add(p+".base", "edge %q is not from the client (from: %s)", t.Base, t.Edges[i].From)
		case len(t.EdgeLinks(t.Edges[i])) > 1:
			v.add(p+".base", "edge %q reaches %d instances: {{.Base}} needs one (put a load balancer of the system's own behind it)", t.Base, len(t.EdgeLinks(t.Edges[i])))
		}
	case len(client) == 0:
		v.add(p+".edges", "no edge from the client: gameday's load reaches the system through one, such as {name: client-api, from: client, to: api}")
	case len(client) > 1:
		v.add(p+".base", "required: several edges come from the client (%s); name the one {{.Base}} goes through", strings.Join(client, ", "))
	default:
		if e, _ := t.BaseEdge(); len(t.EdgeLinks(e)) > 1 {
			v.add(p+".edges", "edge %q reaches %d instances: {{.Base}} needs one (put a load balancer of the system's own behind it)", e.Name, len(t.EdgeLinks(e)))
		}
	}
}

// serviceTemplates renders every instance's args and env against a sample
// topology, so that an unknown link, instance, edge or field is reported
// with its position.
func (v *validator) serviceTemplates(p string, t *ProcessesTarget) {
	top := t.sampleTopology()
	extra := placeholderFuncs
	if v.vals != nil {
		extra = v.vals.Funcs()
	}
	fm := t.Funcs(top, template.FuncMap{"env": extra["env"], "file": extra["file"]})
	reported := map[string]bool{}
	for _, in := range t.Instances() {
		si := slices.IndexFunc(t.Services, func(s Service) bool { return s.Name == in.Service.Name })
		sp := fmt.Sprintf("%s.services[%d]", p, si)
		data := t.Data(in, top)
		check := func(path, text string) {
			if reported[path] {
				return
			}
			tm, err := template.New(path).Option("missingkey=error").Funcs(fm).Parse(text)
			var refs []reference
			if err == nil {
				refs, err = templateReferences(text)
			}
			if err == nil && v.vals != nil && !v.vals.has(refs) {
				return // a value that is not there: reported by resolve
			}
			if err == nil {
				err = tm.Execute(&limitedWriter{w: &strings.Builder{}, n: 1 << 16}, data)
			}
			if err != nil {
				reported[path] = true
				v.add(path, "invalid template %q: %v", text, err)
			}
		}
		for j, a := range in.Service.Args {
			check(fmt.Sprintf("%s.args[%d]", sp, j), a)
		}
		for _, k := range sortedKeys(in.Service.Env) {
			check(sp+".env."+k, in.Service.Env[k])
		}
	}
}

// external checks an ExternalTarget written at p (an external target, or
// the part of a kubernetes target reached at URLs) and returns its
// declaration.
func (v *validator) external(p string, t *ExternalTarget) Declaration {
	if t.BaseURL == "" {
		v.add(p+".baseURL", "required (such as \"https://staging.example.com\")")
	} else {
		v.externalURL(p+".baseURL", t.BaseURL)
	}
	for _, k := range sortedKeys(t.URLs) {
		if !labelName.MatchString(k) || len(k) > maxNameLen {
			v.add(p+".urls."+k, "invalid URL name %q (want letters, digits, '_', '.' and '-', starting with a letter or digit)", k)
		}
		v.externalURL(p+".urls."+k, t.URLs[k])
	}
	v.headers(p+".header", t.Header)
	if tp := t.Toxiproxy; tp != nil {
		if tp.URL == "" {
			v.add(p+".toxiproxy.url", "required (such as \"http://toxiproxy:8474\")")
		} else {
			v.plainURL(p+".toxiproxy.url", tp.URL)
		}
		if len(tp.Links) == 0 {
			v.add(p+".toxiproxy.links", "at least one link is required")
		}
		seen := map[string]string{}
		listens := map[string]string{}
		for i, l := range tp.Links {
			lp := fmt.Sprintf("%s.toxiproxy.links[%d]", p, i)
			if l.Listen != "" {
				if first, dup := listens[l.Listen]; dup && !strings.HasSuffix(l.Listen, ":0") {
					v.add(lp+".listen", "listen %q is also the address of %s: each proxy needs its own", l.Listen, first)
				}
				listens[l.Listen] = lp
			}
			v.name(lp+".name", l.Name, labelName, "letters, digits, '_', '.' and '-', starting with a letter or digit", seen)
			switch {
			case l.Proxy != "" && (l.Listen != "" || l.Upstream != ""):
				v.add(lp, "either proxy (an existing proxy) or listen and upstream (a proxy gameday creates), not both")
			case l.Proxy == "" && l.Listen == "" && l.Upstream == "":
				v.add(lp, "either proxy (an existing proxy) or listen and upstream (a proxy gameday creates) is required")
			case l.Proxy == "":
				v.hostPort(lp+".listen", l.Listen)
				v.hostPort(lp+".upstream", l.Upstream)
			}
		}
	}
	if pr := t.Prometheus; pr != nil {
		if pr.URL == "" {
			v.add(p+".prometheus.url", "required (such as \"http://prometheus:9090\")")
		} else {
			v.plainURL(p+".prometheus.url", pr.URL)
		}
		v.headers(p+".prometheus.header", pr.Header)
		if pr.ScrapeInterval != 0 && pr.ScrapeInterval < MinScrapeInterval {
			v.add(p+".prometheus.scrapeInterval", "scrapeInterval %s is too short (want at least %s)", formatDuration(pr.ScrapeInterval), formatDuration(MinScrapeInterval))
		}
		v.tooLong(p+".prometheus.scrapeInterval", "scrapeInterval", pr.ScrapeInterval)
	}
	for i, sc := range t.Scrape {
		sp := fmt.Sprintf("%s.scrape[%d]", p, i)
		if sc.URL == "" {
			v.add(sp+".url", "required (such as \"http://10.0.0.5:9100/metrics\")")
		} else if why := httpURL(sc.URL); why != "" {
			v.add(sp+".url", "%q %s", sc.URL, why)
		}
		v.labels(sp+".labels", sc.Labels)
	}
	return t.Declaration()
}

// plainURL checks a URL that is not a template: an absolute http(s) URL
// with no path but "/".
func (v *validator) plainURL(path, raw string) {
	if strings.Contains(raw, "{{") {
		v.add(path, "%q: templates are not allowed here (only baseURL, urls and headers take env and file values)", raw)
		return
	}
	if why := httpURL(raw); why != "" {
		v.add(path, "%q %s", raw, why)
		return
	}
	if u, _ := url.Parse(raw); u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		v.add(path, "%q: want the server's base URL, with no path, query or user information", raw)
	}
}

// externalURL checks a templated URL of an external target: its template,
// and, once expanded, that it is an absolute http(s) URL. A URL that takes
// env or file values is checked only when they were resolved.
func (v *validator) externalURL(path, text string) {
	out, ok := v.expand(path, text)
	if !ok {
		return
	}
	if why := httpURL(out); why != "" {
		if out != text {
			v.add(path, "%q %s once expanded", text, why)
		} else {
			v.add(path, "%q %s", text, why)
		}
	}
}

// expand executes a template over env and file only; ok is false when it
// failed (reported) or needs values that were not resolved.
func (v *validator) expand(path, text string) (string, bool) {
	refs, err := templateReferences(text)
	if err == nil && v.vals != nil && !v.vals.has(refs) {
		return "", false // a value that is not there: reported by resolve
	}
	if err == nil && len(refs) > 0 && v.vals == nil {
		_, err = template.New(path).Funcs(placeholderFuncs).Parse(text)
		if err != nil {
			v.add(path, "invalid template %q: %v", text, err)
		}
		return "", false
	}
	fm := placeholderFuncs
	if v.vals != nil {
		fm = template.FuncMap{"env": v.vals.Funcs()["env"], "file": v.vals.Funcs()["file"]}
	}
	var tm *template.Template
	if err == nil {
		tm, err = template.New(path).Option("missingkey=error").Funcs(fm).Parse(text)
	}
	var b strings.Builder
	if err == nil {
		err = tm.Execute(&limitedWriter{w: &b, n: 1 << 16}, nil)
	}
	if err != nil {
		v.add(path, "invalid template %q: %v (functions: env, file)", text, err)
		return "", false
	}
	return b.String(), true
}

// headers checks header names and value templates.
func (v *validator) headers(p string, h map[string]string) {
	canon := map[string]string{}
	for _, k := range sortedKeys(h) {
		if first, dup := canon[strings.ToLower(k)]; dup {
			v.add(p+"."+k, "header %q is also written %q: header names ignore case", k, first)
		}
		canon[strings.ToLower(k)] = k
		if !headerName.MatchString(k) {
			v.add(p+"."+k, "invalid header name %q", k)
		}
		if out, ok := v.expand(p+"."+k, h[k]); ok && strings.ContainsAny(out, "\r\n\x00") {
			v.add(p+"."+k, "header value contains a line break or NUL")
		}
	}
}

// httpURL says what is wrong with raw as an absolute http(s) URL, or "".
func httpURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "is not a URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "is not an http or https URL"
	case u.Host == "":
		return "has no host"
	}
	return ""
}

// hostPort checks a host:port address as a Toxiproxy server sees it.
func (v *validator) hostPort(path, addr string) {
	if addr == "" {
		v.add(path, "required (host:port, such as \"0.0.0.0:26379\")")
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "%q is not host:port: %v", addr, err)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(path, "%q has no valid port (want 0 to 65535)", addr)
	}
}
