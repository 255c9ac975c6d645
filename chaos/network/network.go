// Package network injects network faults on the links of a target through
// the Toxiproxy HTTP API: a toxic on a proxy, or the proxy disabled. It works
// the same against an embedded Toxiproxy server and an external one.
//
// Every toxic gameday adds is named ToxicPrefix + the fault's name, so that
// Cleanup can find and remove what a killed run left behind.
package network

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/gameday/gameday/chaos"
)

// ToxicPrefix starts the name of every toxic gameday adds: the toxic of the
// fault named "slow-db" is "gameday-slow-db".
const ToxicPrefix = "gameday-"

// Fault is a network fault on one link: a Toxiproxy toxic added by Inject
// and removed by Recover, or for ToxicDown the proxy disabled by Inject and
// enabled again by Recover (only if it was enabled before).
//
// A Toxiproxy API call cannot be cancelled: when ctx ends during one, the
// method returns ctx's error at once and the next Inject or Recover first
// waits for that call to finish, so that nothing it applies is missed.
type Fault struct {
	name   string
	client *toxiclient.Client
	spec   Spec
	opts   options

	// sem is held by the running Inject or Recover; it guards every field below.
	sem chan struct{}
	// applied is set before a call that may apply the fault on the server and
	// cleared once that is reverted: while set, Recover must revert.
	applied bool
	// wasEnabled records, for ToxicDown, whether Inject found the proxy enabled.
	wasEnabled bool
	// rec is the open record, nil when none.
	rec *chaos.Record
	// busy, when not nil, is closed when a call abandoned on ctx's end returns.
	busy <-chan struct{}
}

var _ chaos.Fault = (*Fault)(nil)

// Option configures New.
type Option func(*options)

type options struct {
	runID   string
	journal chaos.Journal
	server  string
}

// WithRunID puts the run's id in the name of the toxic: runs sharing one
// Toxiproxy server never collide, and Cleanup can tell whose it is.
func WithRunID(id string) Option { return func(o *options) { o.runID = id } }

// WithJournal records every change the fault makes on the Toxiproxy server
// at server (its API's base URL) in j before it makes it, and again once it
// is undone.
func WithJournal(j chaos.Journal, server string) Option {
	return func(o *options) { o.journal, o.server = j, server }
}

// New returns the network fault named name that applies spec through c.
// Nothing is checked or applied until Inject; Spec.Validate checks spec
// beforehand.
func New(name string, c *toxiclient.Client, spec Spec, opts ...Option) *Fault {
	o := options{journal: chaos.NopJournal{}}
	for _, opt := range opts {
		opt(&o)
	}
	return &Fault{name: name, client: c, spec: spec, opts: o, sem: make(chan struct{}, 1)}
}

// Name returns the fault's name in the scenario.
func (f *Fault) Name() string { return f.name }

// ToxicName returns the name of the toxic the fault adds (for ToxicDown, of
// the marker toxic that says gameday disabled the proxy): ToxicPrefix, the
// run id and "-" when set, and the fault's name.
func (f *Fault) ToxicName() string { return ResourceName(f.opts.runID, f.name) }

// toxicName is the name of toxic t of the fault.
func (f *Fault) toxicName(t Toxic) string {
	if t.Part == "" {
		return f.ToxicName()
	}
	return f.ToxicName() + "-" + t.Part
}

// effects are the journal entries of what the fault applies.
func (f *Fault) effects() []chaos.Effect {
	if f.spec.Down {
		return []chaos.Effect{{Kind: chaos.EffectDisabled, Server: f.opts.server, Proxy: f.spec.Link, Toxic: f.ToxicName()}}
	}
	var out []chaos.Effect
	for _, t := range f.spec.Toxics {
		out = append(out, chaos.Effect{Kind: chaos.EffectToxic, Server: f.opts.server, Proxy: f.spec.Link, Toxic: f.toxicName(t)})
	}
	return out
}

// Inject validates the spec and applies it to the link, and returns the one
// record it opened. It is an error while that record is open. An earlier
// Inject that failed part-way is reverted first.
func (f *Fault) Inject(ctx context.Context) ([]chaos.Record, error) {
	if err := f.lock(ctx); err != nil {
		return nil, fmt.Errorf("inject %q: %w", f.name, err)
	}
	defer f.unlock()
	if f.rec != nil {
		return nil, fmt.Errorf("inject %q: already injected on link %q", f.name, f.spec.Link)
	}
	if err := f.spec.Validate(); err != nil {
		return nil, fmt.Errorf("inject %q: %w", f.name, err)
	}
	if f.applied {
		if err := f.revert(ctx); err != nil {
			return nil, fmt.Errorf("inject %q: revert an earlier attempt on link %q: %w", f.name, f.spec.Link, err)
		}
	}
	at := time.Now()
	action := f.spec.Action
	var err error
	if f.spec.Down {
		action, err = f.disable(ctx)
	} else {
		err = f.addToxics(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("inject %q on link %q: %w", f.name, f.spec.Link, err)
	}
	f.rec = &chaos.Record{
		Fault:      f.name,
		Kind:       chaos.KindNetwork,
		Target:     f.spec.Link,
		Action:     action,
		InjectedAt: at,
	}
	return []chaos.Record{*f.rec}, nil
}

// Recover reverts what Inject applied and closes its record, with
// RecoveredAt the time the revert was confirmed. A toxic or proxy that is
// gone already counts as reverted. With nothing applied and no record open it
// does nothing.
func (f *Fault) Recover(ctx context.Context) ([]chaos.Record, error) {
	if err := f.lock(ctx); err != nil {
		return nil, fmt.Errorf("recover %q: %w", f.name, err)
	}
	defer f.unlock()
	if f.applied {
		if err := f.revert(ctx); err != nil {
			return nil, fmt.Errorf("recover %q on link %q: %w", f.name, f.spec.Link, err)
		}
	}
	if f.rec == nil {
		return nil, nil
	}
	f.rec.RecoveredAt = time.Now()
	closed := *f.rec
	f.rec = nil
	return []chaos.Record{closed}, nil
}

// addToxics adds the fault's toxics to the link, each journalled first.
func (f *Fault) addToxics(ctx context.Context) error {
	p := f.client.NewProxy()
	p.Name = f.spec.Link
	for _, e := range f.effects() {
		if err := f.opts.journal.Applying(e); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	f.applied = true
	for _, t := range f.spec.Toxics {
		name, typ, stream, toxicity, attrs := f.toxicName(t), t.Type, t.Stream, float32(t.Toxicity), t.attributes()
		err := f.call(ctx, func() error {
			_, err := p.AddToxic(name, typ, stream, toxicity, attrs)
			return err
		})
		if err != nil {
			return fmt.Errorf("add toxic %q: %w", name, err)
		}
	}
	return nil
}

// disable disables the link's proxy if it is enabled, and returns the
// record's action.
func (f *Fault) disable(ctx context.Context) (string, error) {
	var p *toxiclient.Proxy
	err := f.call(ctx, func() error {
		var err error
		p, err = f.client.Proxy(f.spec.Link)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("get proxy: %w", err)
	}
	f.wasEnabled = p.Enabled
	if !p.Enabled {
		return "down (proxy already disabled)", nil
	}
	if err := f.opts.journal.Applying(f.effects()[0]); err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	f.applied = true
	// The marker says that gameday disabled the proxy: Cleanup enables
	// proxies that carry one. Its noop toxic does nothing to the traffic.
	marker := f.ToxicName()
	err = f.call(ctx, func() error {
		if _, err := p.AddToxic(marker, "noop", Downstream, 0, toxiclient.Attributes{}); err != nil {
			return fmt.Errorf("add marker toxic %q: %w", marker, err)
		}
		if err := p.Disable(); err != nil {
			return fmt.Errorf("disable proxy: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return f.spec.Action, nil
}

// revert undoes what is applied: removes the toxic, or enables the proxy
// again if Inject disabled it. What is gone already counts as reverted.
func (f *Fault) revert(ctx context.Context) error {
	var err error
	if f.spec.Down {
		if f.wasEnabled {
			err = f.call(ctx, f.enable)
		}
	} else {
		err = f.call(ctx, f.removeToxics)
	}
	if err != nil {
		return err
	}
	f.applied = false
	for _, e := range f.effects() {
		if err := f.opts.journal.Undone(e); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	return nil
}

// removeToxics removes the fault's toxics; a missing toxic or proxy is not
// an error. It runs inside call: it reads only fields no method writes.
func (f *Fault) removeToxics() error {
	p := f.client.NewProxy()
	p.Name = f.spec.Link
	var errs []error
	for _, t := range f.spec.Toxics {
		if err := p.RemoveToxic(f.toxicName(t)); err != nil && !notFound(err) {
			errs = append(errs, fmt.Errorf("remove toxic %q: %w", f.toxicName(t), err))
		}
	}
	return errors.Join(errs...)
}

// enable enables the link's proxy; a missing proxy is not an error. It runs
// inside call: it reads only fields no method writes.
func (f *Fault) enable() error {
	p, err := f.client.Proxy(f.spec.Link)
	if notFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get proxy: %w", err)
	}
	if !p.Enabled {
		if err := p.Enable(); err != nil {
			return fmt.Errorf("enable proxy: %w", err)
		}
	}
	if err := p.RemoveToxic(f.ToxicName()); err != nil && !notFound(err) {
		return fmt.Errorf("remove marker toxic %q: %w", f.ToxicName(), err)
	}
	return nil
}

// lock takes the fault's semaphore and waits for an abandoned call, both
// within ctx.
func (f *Fault) lock(ctx context.Context) error {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if f.busy != nil {
		select {
		case <-f.busy:
			f.busy = nil
		case <-ctx.Done():
			f.unlock()
			return fmt.Errorf("wait for an earlier call: %w", ctx.Err())
		}
	}
	return nil
}

func (f *Fault) unlock() { <-f.sem }

// call runs fn, which cannot be cancelled, within ctx; if ctx ends first it
// keeps fn's completion in busy for the next lock to wait on.
func (f *Fault) call(ctx context.Context, fn func() error) error {
	done, err := await(ctx, fn)
	if done != nil {
		f.busy = done
	}
	return err
}

// await runs fn and returns its error, or ctx's error if ctx ends first,
// together with a channel closed when the abandoned fn returns.
func await(ctx context.Context, fn func() error) (abandoned <-chan struct{}, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	var fnErr error // written by fn's goroutine before it closes done
	go func() {
		defer close(done)
		fnErr = fn()
	}()
	select {
	case <-done:
		return nil, fnErr
	case <-ctx.Done():
		return done, ctx.Err()
	}
}

// notFound reports whether err is Toxiproxy's answer that the proxy or toxic
// does not exist.
func notFound(err error) bool {
	var apiErr *toxiclient.ApiError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}
