// Package server runs a refapp process's HTTP server: liveness and
// readiness probes, and a graceful shutdown that drains in-flight requests.
//
//	ctx done ──▶ Drain started: /readyz answers 503 "draining"
//	          ──▶ drain delay (default 0): still serving, keep-alives off,
//	              so that load balancers see the 503 and stop sending
//	          ──▶ listener closed, in-flight requests finish (drain timeout)
//	          ──▶ Serve returns
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Defaults of Serve's options.
const (
	// DefaultDrainTimeout bounds how long Serve waits for in-flight
	// requests once asked to stop.
	DefaultDrainTimeout = 5 * time.Second
	// DefaultReadHeaderTimeout bounds how long a client may take to send
	// its request headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes keep-alive connections idle for this long.
	// Clients that keep connections should drop them sooner.
	DefaultIdleTimeout = 90 * time.Second
)

// ErrDrainTimeout is returned, wrapped, when in-flight requests outlived
// the drain timeout and their connections were closed.
var ErrDrainTimeout = errors.New("drain timeout")

// ErrDraining is the readiness error of a process that is draining.
var ErrDraining = errors.New("draining")

// Drain records whether a server has begun to drain. Serve starts it (see
// WithDrain) as soon as its context is done; readiness checks read it. The
// zero value has not started. A Drain is safe for concurrent use.
type Drain struct {
	started atomic.Bool
}

// Start marks the drain as begun; later calls do nothing.
func (d *Drain) Start() { d.started.Store(true) }

// Started reports whether the drain has begun.
func (d *Drain) Started() bool { return d.started.Load() }

// Ready returns a ReadyFunc that reports ErrDraining once the drain has
// begun and ready's answer before (nil ready counts as always ready).
func (d *Drain) Ready(ready ReadyFunc) ReadyFunc {
	return func(ctx context.Context) error {
		if d.Started() {
			return ErrDraining
		}
		if ready == nil {
			return nil
		}
		return ready(ctx)
	}
}

type options struct {
	drain      time.Duration
	drainDelay time.Duration
	state      *Drain
	log        *slog.Logger
	after      func(time.Duration) <-chan time.Time // the drain delay's timer; tests replace it
}

// Option configures Serve.
type Option func(*options)

// WithDrainTimeout sets how long Serve waits for in-flight requests after
// its context is done (default DefaultDrainTimeout).
func WithDrainTimeout(d time.Duration) Option { return func(o *options) { o.drain = d } }

// WithDrainDelay sets how long Serve keeps serving, listener open, after
// its context is done and before it starts to close (default 0). During the
// delay /readyz (through Drain.Ready) answers 503 and responses ask clients
// to close their connections, so that whoever routes traffic here can stop
// before connections are refused. The drain timeout starts after the delay.
func WithDrainDelay(d time.Duration) Option { return func(o *options) { o.drainDelay = d } }

// WithDrain sets the Drain that Serve starts as soon as its context is done.
func WithDrain(d *Drain) Option { return func(o *options) { o.state = d } }

// WithLogger sets the logger for the server's own errors (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Serve serves h on ln until ctx is done, then shuts down gracefully: it
// starts the Drain given by WithDrain, keeps serving for the drain delay
// (none by default), then closes ln (new connections are refused), lets
// in-flight requests finish for up to the drain timeout, and closes what
// remains. It returns nil after a clean drain, an error wrapping
// ErrDrainTimeout when requests had to be cut, or the error that stopped
// serving early. Serve closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ...Option) error {
	o := options{drain: DefaultDrainTimeout, log: slog.New(slog.DiscardHandler), after: time.After}
	for _, opt := range opts {
		opt(&o)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		ErrorLog:          slog.NewLogLogger(o.log.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	select {
	case err := <-done:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	if o.state != nil {
		o.state.Start()
	}
	if o.drainDelay > 0 {
		o.log.Info("draining: not ready, still serving", "delay", o.drainDelay.String())
		srv.SetKeepAlivesEnabled(false)
		select {
		case <-o.after(o.drainDelay):
		case err := <-done:
			return fmt.Errorf("serve %s: %w", ln.Addr(), err)
		}
	}
	o.log.Info("draining", "timeout", o.drain.String())
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.drain)
	defer cancel()
	err := srv.Shutdown(drainCtx)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		// Serve returns ErrServerClosed as soon as Shutdown starts; any
		// other error is a failure of its own, raced with the shutdown.
		err = errors.Join(err, fmt.Errorf("serve %s: %w", ln.Addr(), serveErr))
	}
	if err != nil {
		closeErr := srv.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			err = ErrDrainTimeout
		}
		return errors.Join(fmt.Errorf("shut down %s: %w", ln.Addr(), err), closeErr)
	}
	return nil
}

// Healthz is the liveness probe: 200 "ok" for as long as the process
// serves HTTP at all.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok")
}

// ReadyFunc reports whether the process can serve traffic now; a non-nil
// error says why not.
type ReadyFunc func(ctx context.Context) error

// Readyz returns the readiness probe: 200 "ready" when ready returns nil,
// else 503 with the reason.
func Readyz(ready ReadyFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: "+err.Error())
			return
		}
		_, _ = io.WriteString(w, "ready")
	})
}
