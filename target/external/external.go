// Package external is the target of a running system named by URLs: its
// base URL, the user's Toxiproxy server (existing proxies, or proxies the
// scenario declares, which are created for the run and removed after it)
// and the user's Prometheus. It starts nothing; Start checks that
// everything named answers before any load or fault.
package external

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/template"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/network"
	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target"
)

// DefaultReachTimeout bounds each reachability check of Start.
const DefaultReachTimeout = 5 * time.Second

// Config says how Start reaches the system.
type Config struct {
	// RunID names the proxies the run creates, so that runs sharing one
	// Toxiproxy do not collide and leftovers can be told apart.
	RunID string
	// Journal records every proxy created and every toxic added on the
	// Toxiproxy server, before it is; required when a Toxiproxy is named.
	Journal chaos.Journal
	// Funcs are env and file, for the templated URLs and headers.
	Funcs template.FuncMap
	// Live reports whether the run of a run id found on the Toxiproxy is
	// still running; nil: none is.
	Live func(runID string) bool
	// Client makes the reachability checks; default: a client with
	// DefaultReachTimeout.
	Client *http.Client
	// Path is where the target is written in the scenario, for messages;
	// default "target.external" (a kubernetes target's URL part is
	// "target.kubernetes").
	Path string
}

// UnreachableError says which part of an external target did not answer.
type UnreachableError struct {
	What string // "baseURL", "toxiproxy", "prometheus"
	URL  string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s %s is unreachable: %v", e.What, e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Target is an external target.
type Target struct {
	spec *scenarios.ExternalTarget
	cfg  Config

	client  *toxiclient.Client
	created []string // proxies created for the run, to delete on Stop
}

// New returns the external target of spec, which Validate accepted.
func New(spec *scenarios.ExternalTarget, cfg Config) *Target {
	if cfg.Journal == nil {
		cfg.Journal = chaos.NopJournal{}
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: DefaultReachTimeout}
	}
	if cfg.Path == "" {
		cfg.Path = "target.external"
	}
	return &Target{spec: spec, cfg: cfg}
}

// Start checks that the Toxiproxy answers, refuses one that holds
// leftovers of an earlier run, finds the existing proxies and creates the
// declared ones; then checks that the base URL and the Prometheus answer. On error, what it created
// has been removed again.
func (t *Target) Start(ctx context.Context) (_ *target.Running, err error) {
	r := &target.Running{URLs: map[string]string{}, Links: map[string]target.Link{}, Header: http.Header{}, Attrs: map[string]string{}}
	if r.Base, err = t.expand("baseURL", t.spec.BaseURL); err != nil {
		return nil, err
	}
	r.Base = strings.TrimSuffix(r.Base, "/")
	for _, name := range slices.Sorted(maps.Keys(t.spec.URLs)) {
		if r.URLs[name], err = t.expand("urls."+name, t.spec.URLs[name]); err != nil {
			return nil, err
		}
	}
	for k, v := range t.spec.Header {
		val, err := t.expand("header."+k, v)
		if err != nil {
			return nil, err
		}
		r.Header.Set(k, val)
	}
	for _, sc := range t.spec.Scrape {
		r.Scrape = append(r.Scrape, metrics.Target{URL: sc.URL, Labels: maps.Clone(sc.Labels)})
	}
	// The Toxiproxy first: the base URL may be a proxy the scenario declares.
	if tp := t.spec.Toxiproxy; tp != nil {
		defer func() {
			if err != nil {
				err = errors.Join(err, t.Stop(context.WithoutCancel(ctx)))
			}
		}()
		if err := t.links(ctx, tp, r); err != nil {
			return nil, err
		}
		r.Attrs["toxiproxy"] = redactURL(tp.URL)
	}
	if err := t.reachHTTP(ctx, "baseURL", r.Base, r.Header); err != nil {
		return nil, err
	}
	r.Attrs["baseURL"] = redactURL(t.spec.BaseURL)
	if pr := t.spec.Prometheus; pr != nil {
		q, err := t.prometheus(ctx, pr)
		if err != nil {
			return nil, err
		}
		r.Prometheus = q
		r.Attrs["prometheus"] = redactURL(pr.URL)
	}
	return r, nil
}

// expand executes a templated field over env and file.
func (t *Target) expand(field, text string) (string, error) {
	tm, err := template.New(field).Option("missingkey=error").Funcs(t.cfg.Funcs).Parse(text)
	if err != nil {
		return "", fmt.Errorf("%s.%s: %w", t.cfg.Path, field, err)
	}
	var b strings.Builder
	if err := tm.Execute(&b, nil); err != nil {
		return "", fmt.Errorf("%s.%s: %w", t.cfg.Path, field, err)
	}
	return b.String(), nil
}

// reachHTTP sends a GET to url: any HTTP answer means it is reachable.
func (t *Target) reachHTTP(ctx context.Context, what, url string, h http.Header) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultReachTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &UnreachableError{What: what, URL: redactURL(url), Err: err}
	}
	req.Header = h.Clone()
	resp, err := t.cfg.Client.Do(req)
	if err != nil {
		return &UnreachableError{What: what, URL: redactURL(url), Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return nil
}

// prometheus returns a client of the user's Prometheus once it answered a
// query.
func (t *Target) prometheus(ctx context.Context, pr *scenarios.PrometheusServer) (metrics.Querier, error) {
	h := http.Header{}
	for k, v := range pr.Header {
		val, err := t.expand("prometheus.header."+k, v)
		if err != nil {
			return nil, err
		}
		h.Set(k, val)
	}
	q, err := metrics.NewRemote(pr.URL, metrics.WithHeader(h))
	if err != nil {
		return nil, &UnreachableError{What: "prometheus", URL: redactURL(pr.URL), Err: err}
	}
	qctx, cancel := context.WithTimeout(ctx, DefaultReachTimeout)
	defer cancel()
	if _, err := q.Query(qctx, "1", time.Now()); err != nil {
		return nil, &UnreachableError{What: "prometheus", URL: redactURL(pr.URL), Err: err}
	}
	return q, nil
}

// links checks the Toxiproxy, refuses leftovers, and finds or creates every
// link.
func (t *Target) links(ctx context.Context, tp *scenarios.ExternalToxiproxy, r *target.Running) error {
	t.client = network.NewClient(tp.URL)
	var version []byte
	reach := func() error {
		var err error
		version, err = getVersion(ctx, t.cfg.Client, tp.URL)
		return err
	}
	if err := reach(); err != nil {
		return &UnreachableError{What: "toxiproxy", URL: redactURL(tp.URL), Err: err}
	}
	r.Attrs["toxiproxy.version"] = strings.TrimSpace(string(version))
	lctx, cancel := context.WithTimeout(ctx, DefaultReachTimeout)
	defer cancel()
	left, err := network.Leftovers(lctx, t.client, func(id string) bool { return t.cfg.Live == nil || !t.cfg.Live(id) })
	if err != nil {
		return &UnreachableError{What: "toxiproxy", URL: redactURL(tp.URL), Err: err}
	}
	if len(left) > 0 {
		return &network.LeftoversError{Server: tp.URL, Leftovers: left}
	}
	for _, l := range tp.Links {
		link := target.Link{Name: l.Name, Toxiproxy: t.client, Server: tp.URL, Journal: t.cfg.Journal}
		if l.Proxy != "" {
			pctx, cancel := context.WithTimeout(ctx, DefaultReachTimeout)
			p, err := proxy(pctx, t.client, l.Proxy)
			cancel()
			if err != nil {
				return fmt.Errorf("link %q: proxy %q on toxiproxy %s: %w", l.Name, l.Proxy, redactURL(tp.URL), err)
			}
			link.Proxy, link.Listen, link.Upstream = p.Name, p.Listen, p.Upstream
		} else {
			name := network.ResourceName(t.cfg.RunID, l.Name)
			listen, err := network.CreateProxy(ctx, t.client, t.cfg.Journal, tp.URL, name, l.Listen, l.Upstream)
			if err != nil {
				return fmt.Errorf("link %q: %w", l.Name, err)
			}
			t.created = append(t.created, name)
			link.Proxy, link.Listen, link.Upstream = name, listen, l.Upstream
		}
		r.Links[l.Name] = link
		r.Attrs["link."+l.Name] = link.Proxy + ": " + link.Listen + " -> " + link.Upstream
	}
	return nil
}

// proxy gets an existing proxy, bounded by ctx.
func proxy(ctx context.Context, c *toxiclient.Client, name string) (*toxiclient.Proxy, error) {
	type answer struct {
		p   *toxiclient.Proxy
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		p, err := c.Proxy(name)
		ch <- answer{p, err}
	}()
	select {
	case a := <-ch:
		return a.p, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// getVersion asks a Toxiproxy server for its version.
func getVersion(ctx context.Context, c *http.Client, base string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultReachTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/version", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "gameday")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /version: %s", resp.Status)
	}
	return b, nil
}

// Stop deletes the proxies Start created. It is idempotent.
func (t *Target) Stop(ctx context.Context) error {
	var errs []error
	for _, name := range t.created {
		errs = append(errs, network.DeleteProxy(ctx, t.client, t.cfg.Journal, t.spec.Toxiproxy.URL, name))
	}
	t.created = nil
	return errors.Join(errs...)
}

// redactURL drops the user information of a URL, for messages and events.
func redactURL(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if at := strings.IndexByte(rest, '@'); at >= 0 && !strings.ContainsAny(rest[:at], "/?#") {
			return raw[:i+3] + "REDACTED@" + rest[at+1:]
		}
	}
	return raw
}
