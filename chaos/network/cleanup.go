package network

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/gameday/gameday/chaos"
)

// DefaultCallTimeout bounds one Toxiproxy API call made by the functions of
// this file: a server that stops answering must not hang a teardown.
const DefaultCallTimeout = 5 * time.Second

// NewClient returns a Toxiproxy API client of the server at url. Its calls
// are not bounded: the functions of this package bound them.
func NewClient(url string) *toxiclient.Client {
	c := toxiclient.NewClient(strings.TrimRight(url, "/"))
	c.UserAgent = "gameday"
	return c
}

// ResourceName names a toxic or proxy gameday creates for run runID:
// ToxicPrefix + runID + "-" + name, or ToxicPrefix + name without a run id.
func ResourceName(runID, name string) string {
	if runID == "" {
		return ToxicPrefix + name
	}
	return ToxicPrefix + runID + "-" + name
}

// runIDPattern matches the run id in a resource name; see rundir.NewRunID.
var runIDPattern = regexp.MustCompile(`^` + ToxicPrefix + `(\d{8}T\d{6}Z-[0-9a-f]{6})-`)

// RunOf returns the run id in a resource name made by ResourceName, or ""
// when it has none (a name from an older gameday, or not gameday's).
func RunOf(name string) string {
	if m := runIDPattern.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return ""
}

// Leftover is a resource on a Toxiproxy server that a gameday run created.
type Leftover struct {
	Kind  string // chaos.EffectToxic, chaos.EffectProxy or chaos.EffectDisabled
	Proxy string
	Toxic string // for toxics and markers
	Run   string // the run id in its name; "" when it has none
}

// String says what the leftover is: "toxic gameday-…-slow on proxy db".
func (l Leftover) String() string {
	switch l.Kind {
	case chaos.EffectProxy:
		return "proxy " + l.Proxy
	case chaos.EffectDisabled:
		return "proxy " + l.Proxy + " disabled (marker " + l.Toxic + ")"
	}
	return "toxic " + l.Toxic + " on proxy " + l.Proxy
}

// LeftoversError is a Toxiproxy server that holds what an earlier gameday
// run left behind; it names each thing and the command that removes them.
type LeftoversError struct {
	Server    string
	Leftovers []Leftover
}

func (e *LeftoversError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "toxiproxy %s holds what an earlier gameday run left behind:", e.Server)
	for _, l := range e.Leftovers {
		b.WriteString("\n  " + l.String())
	}
	fmt.Fprintf(&b, "\nrefusing to start on a system that is not in its normal state. If a run on another machine uses this Toxiproxy, wait for it to end; otherwise remove them with:\n  gameday cleanup --toxiproxy %s", e.Server)
	return b.String()
}

// Leftovers lists what gameday runs created on the server c talks to —
// resources whose names carry the gameday prefix and a run id (RunOf) — in
// proxy order, keeping those of the runs for which include returns true
// (nil: every run).
func Leftovers(ctx context.Context, c *toxiclient.Client, include func(runID string) bool) ([]Leftover, error) {
	var proxies map[string]*toxiclient.Proxy
	if _, err := await(ctx, func() error {
		var err error
		proxies, err = c.Proxies()
		return err
	}); err != nil {
		return nil, fmt.Errorf("list proxies: %w", err)
	}
	if include == nil {
		include = func(string) bool { return true }
	}
	var out []Leftover
	add := func(l Leftover) {
		if l.Run != "" && include(l.Run) {
			out = append(out, l)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(proxies)) {
		p := proxies[name]
		add(Leftover{Kind: chaos.EffectProxy, Proxy: name, Run: RunOf(name)})
		toxics := slices.Clone(p.ActiveToxics)
		slices.SortFunc(toxics, func(a, b toxiclient.Toxic) int { return strings.Compare(a.Name, b.Name) })
		for _, t := range toxics {
			kind := chaos.EffectToxic
			if t.Type == "noop" {
				kind = chaos.EffectDisabled
			}
			add(Leftover{Kind: kind, Proxy: name, Toxic: t.Name, Run: RunOf(t.Name)})
		}
	}
	return out, nil
}

// Cleanup removes what gameday runs for which include returns true (nil:
// every run) left on the server c talks to — their toxics and proxies —
// and enables again every proxy their down faults left disabled (it
// carries their marker toxic). Only resources named by ResourceName with a
// run id are touched: the user's own, whatever their names, never are. It
// returns what it did, one line each, and goes on past a failure,
// returning every failure joined; it stops when ctx ends.
func Cleanup(ctx context.Context, c *toxiclient.Client, include func(runID string) bool) ([]string, error) {
	left, err := Leftovers(ctx, c, include)
	if err != nil {
		return nil, fmt.Errorf("cleanup: %w", err)
	}
	var done []string
	var errs []error
	// Markers first: enable the proxy, then remove toxics, then proxies.
	slices.SortStableFunc(left, func(a, b Leftover) int { return order(a.Kind) - order(b.Kind) })
	for _, l := range left {
		e := chaos.Effect{Kind: l.Kind, Proxy: l.Proxy, Toxic: l.Toxic}
		what, err := Undo(ctx, c, e)
		if ctx.Err() != nil {
			return done, errors.Join(append(errs, fmt.Errorf("cleanup: %w", ctx.Err()))...)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("cleanup: %w", err))
			continue
		}
		done = append(done, what)
	}
	return done, errors.Join(errs...)
}

func order(kind string) int {
	return map[string]int{chaos.EffectDisabled: 0, chaos.EffectToxic: 1, chaos.EffectProxy: 2}[kind]
}

// Undo reverts one effect through c — removes the toxic, deletes the proxy,
// or enables the proxy and removes its marker — and says what it did. What
// is gone already counts as undone. Each call is bounded by
// DefaultCallTimeout within ctx.
func Undo(ctx context.Context, c *toxiclient.Client, e chaos.Effect) (string, error) {
	p := c.NewProxy()
	p.Name = e.Proxy
	call := func(what string, fn func() error) error {
		cctx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
		_, err := await(cctx, fn)
		if err != nil && !notFound(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	switch e.Kind {
	case chaos.EffectToxic:
		err := call(fmt.Sprintf("remove toxic %q from proxy %q", e.Toxic, e.Proxy), func() error { return p.RemoveToxic(e.Toxic) })
		return fmt.Sprintf("removed toxic %s from proxy %s", e.Toxic, e.Proxy), err
	case chaos.EffectProxy:
		err := call(fmt.Sprintf("delete proxy %q", e.Proxy), p.Delete)
		return "deleted proxy " + e.Proxy, err
	case chaos.EffectDisabled:
		err := call(fmt.Sprintf("enable proxy %q", e.Proxy), func() error {
			cur, err := c.Proxy(e.Proxy)
			if err != nil {
				return err
			}
			if !cur.Enabled {
				return cur.Enable()
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		if e.Toxic != "" {
			err = call(fmt.Sprintf("remove marker toxic %q from proxy %q", e.Toxic, e.Proxy), func() error { return p.RemoveToxic(e.Toxic) })
		}
		return "enabled proxy " + e.Proxy, err
	}
	return "", fmt.Errorf("undo: unknown effect kind %q", e.Kind)
}

// CreateProxy creates the proxy named name listening on listen (host:port as
// the server sees it; port 0 picks one) and forwarding to upstream, after
// journalling it as an effect on server, and returns the address it listens
// on.
func CreateProxy(ctx context.Context, c *toxiclient.Client, j chaos.Journal, server, name, listen, upstream string) (string, error) {
	if err := j.Applying(chaos.Effect{Kind: chaos.EffectProxy, Server: server, Proxy: name}); err != nil {
		return "", fmt.Errorf("create proxy %q: journal: %w", name, err)
	}
	cctx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
	defer cancel()
	var p *toxiclient.Proxy
	if _, err := await(cctx, func() error {
		var err error
		p, err = c.CreateProxy(name, listen, upstream)
		return err
	}); err != nil {
		// Whether or not the server made it, nothing must stay journalled
		// as applied: remove it if it is there, then say it is undone.
		e := chaos.Effect{Kind: chaos.EffectProxy, Server: server, Proxy: name}
		if _, uerr := Undo(context.WithoutCancel(ctx), c, e); uerr == nil {
			_ = j.Undone(e)
		}
		var apiErr *toxiclient.ApiError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict {
			return "", fmt.Errorf("create proxy %q: a proxy of that name or listening on %s exists already: %w", name, listen, err)
		}
		return "", fmt.Errorf("create proxy %q: %w", name, err)
	}
	return p.Listen, nil
}

// DeleteProxy deletes a proxy CreateProxy created and journals it as undone.
func DeleteProxy(ctx context.Context, c *toxiclient.Client, j chaos.Journal, server, name string) error {
	e := chaos.Effect{Kind: chaos.EffectProxy, Server: server, Proxy: name}
	if _, err := Undo(ctx, c, e); err != nil {
		return err
	}
	return j.Undone(e)
}
