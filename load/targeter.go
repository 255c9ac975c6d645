package load

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// field is one request text: static, or a template executed per request.
type field struct {
	text  string             // the value when tmpl is nil
	tmpl  *template.Template // nil: static
	parts []part             // tmpl without text/template when not nil (see fastParts)
}

func newField(name, text string, funcs template.FuncMap) (field, error) {
	if !strings.Contains(text, "{{") {
		return field{text: text}, nil
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return field{}, fmt.Errorf("parse %s template: %w", name, err)
	}
	passRoot(t)
	return field{tmpl: t, parts: fastParts(t)}, nil
}

// execute appends the value of templated f for d to buf.
func (f *field) execute(buf *bytes.Buffer, d *Data) error {
	if f.parts != nil && appendParts(buf, f.parts, d) {
		return nil
	}
	if err := f.tmpl.Execute(buf, d); err != nil {
		return fmt.Errorf("render %s: %w", f.tmpl.Name(), err)
	}
	return nil
}

// render returns f's value for d, using buf as scratch space.
func (f *field) render(buf *bytes.Buffer, d *Data) (string, error) {
	if f.tmpl == nil {
		return f.text, nil
	}
	buf.Reset()
	if err := f.execute(buf, d); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// headerPair is a static header of a request.
type headerPair struct{ key, value string }

// headerField is a header whose value is a template.
type headerField struct {
	key string // canonical
	field
}

// targeter builds the targets of one entry of a mix. It is safe for
// concurrent use: a stream's workers call it concurrently.
type targeter struct {
	// static is the target of an entry without templates; next copies
	// it without rendering anything.
	static    vegeta.Target
	templated bool

	method     string
	urlPrefix  string // base when the URL is relative, else ""
	url, body  field
	staticBody []byte        // the body when it has no template; nil when empty
	header     http.Header   // static headers, shared read-only by every target
	pairs      []headerPair  // header, in the order of its keys
	headerTmpl []headerField // templated headers
	idPrefix   string
	tf         targetFacts
	seq        *atomic.Uint64 // the stream's sequence, shared by its entries
	bufs       sync.Pool      // of *bytes.Buffer
}

// targetFacts is what a stream's templates and requests take from the
// target and the stream.
type targetFacts struct {
	base, token string
	runID       string
	urls        map[string]string
	header      http.Header
	funcs       template.FuncMap    // besides the built-in ones
	seed        uint64              // of randInt, pick and random picks
	rows        []map[string]string // Data.Row cycles through them by Seq
	sess        *Sessions           // nil: no users
	user        *User               // Data.User without sess: a session's signup and login see their user
	pick        Pick
}

// newTargeter parses r's templates once and renders them once with Seq 0 to
// catch errors that only execution shows (an unknown field, a bad URL).
func newTargeter(r Request, tf targetFacts, idPrefix string, seq *atomic.Uint64) (*targeter, error) {
	base := tf.base
	funcs := builtinFuncs()
	maps.Copy(funcs, tf.funcs)
	t := &targeter{
		method:   cmp.Or(r.Method, DefaultMethod),
		idPrefix: idPrefix,
		tf:       tf,
		seq:      seq,
	}
	t.bufs.New = func() any { return new(bytes.Buffer) }
	if strings.HasPrefix(r.URL, "/") {
		t.urlPrefix = base
	}
	var err error
	if t.url, err = newField("url", r.URL, funcs); err != nil {
		return nil, err
	}
	if t.url.tmpl == nil {
		t.url.text = t.urlPrefix + t.url.text
	}
	if t.body, err = newField("body", r.Body, funcs); err != nil {
		return nil, err
	}
	// A session's request is rendered per user, templates or not.
	t.templated = t.url.tmpl != nil || t.body.tmpl != nil || tf.sess != nil
	if t.body.tmpl == nil && t.body.text != "" {
		t.staticBody = []byte(t.body.text)
	}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys) // stable error order
	for k, v := range tf.header {
		if _, own := r.Header[k]; own || len(v) == 0 {
			continue
		}
		if t.header == nil {
			t.header = make(http.Header, len(r.Header)+len(tf.header))
		}
		t.header[textproto.CanonicalMIMEHeaderKey(k)] = []string{v[0]}
	}
	for _, k := range keys {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		f, err := newField("header "+ck, r.Header[k], funcs)
		if err != nil {
			return nil, err
		}
		if f.tmpl == nil {
			if t.header == nil {
				t.header = make(http.Header, len(r.Header))
			}
			t.header[ck] = []string{f.text}
			continue
		}
		t.headerTmpl = append(t.headerTmpl, headerField{key: ck, field: f})
		t.templated = true
	}

	var probe vegeta.Target
	if err := t.render(&probe, 0); err != nil {
		return nil, err
	}
	u, err := url.Parse(probe.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q is not an absolute http(s) URL (start it with {{.Base}} or /)", probe.URL)
	}
	if _, err := probe.Request(); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	if !t.templated {
		t.static = probe
	}
	t.pairs = make([]headerPair, 0, len(t.header))
	for k, v := range t.header {
		t.pairs = append(t.pairs, headerPair{k, v[0]})
	}
	slices.SortFunc(t.pairs, func(a, b headerPair) int { return strings.Compare(a.key, b.key) })
	return t, nil
}

// render fills tgt for the request numbered seq.
func (t *targeter) render(tgt *vegeta.Target, seq uint64) error {
	return t.renderID(tgt, seq, t.id(seq))
}

// id is Data.ID of the request numbered seq.
func (t *targeter) id(seq uint64) string { return t.idPrefix + strconv.FormatUint(seq, 10) }

// renderID fills tgt for the request numbered seq whose Data.ID is id: the
// write probe reads a write back under the ID it was written with. A
// stream with a session gives the request a user (see Pick) and marks its
// URL with the user's fragment (see Sessions).
func (t *targeter) renderID(tgt *vegeta.Target, seq uint64, id string) error {
	tf := &t.tf
	d := Data{Base: tf.base, Seq: seq, ID: id, Token: tf.token, RunID: tf.runID, urls: tf.urls, rnd: seedFor(tf.seed, seq), User: tf.user}
	if len(tf.rows) > 0 {
		d.Row = tf.rows[seq%uint64(len(tf.rows))]
	}
	login := t.pickUser(&d)
	return t.renderData(tgt, &d, login)
}

// renderData fills tgt from d; with a session, the URL carries the
// fragment of d.User at its login count login.
func (t *targeter) renderData(tgt *vegeta.Target, d *Data, login uint64) error {
	var c composed
	if err := t.compose(&c, d, login); err != nil {
		return err
	}
	*tgt = vegeta.Target{Method: t.method, URL: c.url, Body: c.body, Header: t.header}
	if len(t.headerTmpl) > 0 {
		h := make(http.Header, len(t.header)+len(t.headerTmpl))
		maps.Copy(h, t.header)
		for i := range t.headerTmpl {
			h[t.headerTmpl[i].key] = []string{c.hvals[i]}
		}
		tgt.Header = h
	}
	return nil
}

// composed is one rendered request of an entry. Its headers are the
// targeter's: the static ones (targeter.pairs) and the templated ones
// (targeter.headerTmpl) with their values in hvals.
type composed struct {
	// url is the request's URL as its result records it: with a
	// session's user fragment (see Sessions).
	url string
	// target is url without that fragment: what is sent.
	target string
	body   []byte   // nil: none
	hvals  []string // the values of targeter.headerTmpl, in order
}

// next renders the entry's next request (numbered from the stream's
// sequence) for a worker of Run, reusing c's storage.
func (t *targeter) next(c *composed) error {
	if !t.templated {
		c.url, c.target, c.body, c.hvals = t.static.URL, t.static.URL, t.static.Body, c.hvals[:0]
		return nil
	}
	seq := t.seq.Add(1) - 1
	tf := &t.tf
	d := Data{Base: tf.base, Seq: seq, ID: t.id(seq), Token: tf.token, RunID: tf.runID, urls: tf.urls, rnd: seedFor(tf.seed, seq), User: tf.user}
	if len(tf.rows) > 0 {
		d.Row = tf.rows[seq%uint64(len(tf.rows))]
	}
	login := t.pickUser(&d)
	return t.compose(c, &d, login)
}

// pickUser gives d a user of the stream's session (see Pick) and returns
// its login count; 0 without a session.
func (t *targeter) pickUser(d *Data) uint64 {
	ss := t.tf.sess
	if ss == nil {
		return 0
	}
	var i int
	if t.tf.pick == PickRandom {
		i = int(d.next() % uint64(len(ss.users))) //nolint:gosec // G115: below MaxUsers
	} else {
		i = int(d.Seq % uint64(len(ss.users))) //nolint:gosec // G115: below MaxUsers
	}
	var login uint64
	d.User, login = ss.user(i)
	return login
}

// compose renders c from d; with a session, c.url carries the fragment of
// d.User at its login count login.
func (t *targeter) compose(c *composed, d *Data, login uint64) error {
	buf := t.bufs.Get().(*bytes.Buffer)
	defer t.bufs.Put(buf)

	c.url = t.url.text // the whole URL when static
	if t.url.tmpl != nil {
		buf.Reset()
		buf.WriteString(t.urlPrefix)
		if err := t.url.execute(buf, d); err != nil {
			return err
		}
		c.url = buf.String()
	}
	c.target = c.url
	if t.tf.sess != nil {
		buf.Reset()
		buf.WriteString(c.url)
		buf.Write(appendUserFragment(buf.AvailableBuffer(), d.User.Index, login))
		c.url = buf.String()
	}
	c.body = t.staticBody
	if t.body.tmpl != nil {
		buf.Reset()
		if err := t.body.execute(buf, d); err != nil {
			return err
		}
		c.body = bytes.Clone(buf.Bytes())
	}
	c.hvals = c.hvals[:0]
	for i := range t.headerTmpl {
		v, err := t.headerTmpl[i].render(buf, d)
		if err != nil {
			return err
		}
		c.hvals = append(c.hvals, v)
	}
	return nil
}
