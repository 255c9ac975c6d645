// Package worker is refapp's push-notification worker: it consumes the
// notification events of the queue and delivers each to the push
// provider, once.
//
//	NOTIFICATIONS ──durable pull consumer push-worker (explicit ack)──▶ Worker
//	   for each message, one at a time:
//	     event id in the ledger?   yes → ack (a duplicate)
//	     POST {push-url}/v1/push, Idempotency-Key: <eventId>
//	        2xx              → record in the ledger (bbolt, synced) → ack
//	        5xx/408/429/error → nak with a growing delay: redelivered later
//	        other 4xx        → term: the provider will never take it
//
// Delivery is at least once from the broker's side (a message is acked
// only after its delivery was recorded) and exactly once as the provider
// sees it, except in one window: a worker killed between the provider's
// answer and the ledger's commit delivers that event again after the
// restart, with the same Idempotency-Key, which lets the provider drop it.
package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameday/gameday/reference-app/queue"
)

// Wire contract.
const (
	// ConsumerName is the durable consumer of the NOTIFICATIONS stream.
	ConsumerName = "push-worker"
	// PushPath is where events are delivered, under the push URL.
	PushPath = "/v1/push"
	// IdempotencyHeader carries the event id on every delivery.
	IdempotencyHeader = "Idempotency-Key"
)

// Defaults of New's options.
const (
	// DefaultAckWait is how long the broker waits for an ack before it
	// redelivers a message.
	DefaultAckWait = 5 * time.Second
	// DefaultPushTimeout bounds one delivery to the push provider.
	DefaultPushTimeout = 2 * time.Second
	// DefaultBatch is the most messages one fetch asks for.
	DefaultBatch = 16
	// DefaultFetchWait is how long one fetch waits for messages.
	DefaultFetchWait = time.Second
	// DefaultRetryMin is the delay before a failed delivery is retried;
	// it doubles per delivery attempt up to DefaultRetryMax.
	DefaultRetryMin = 100 * time.Millisecond
	// DefaultRetryMax bounds the delay before a retry, and the wait
	// between attempts to set up the consumer or to fetch.
	DefaultRetryMax = 5 * time.Second
)

type options struct {
	ackWait     time.Duration
	pushTimeout time.Duration
	batch       int
	fetchWait   time.Duration
	retryMin    time.Duration
	retryMax    time.Duration
	hc          *http.Client
	reg         prometheus.Registerer
	log         *slog.Logger
	ack         func(jetstream.Msg) error // acks a handled message; tests lose acks with it
}

// Option configures a Worker.
type Option func(*options)

// WithAckWait sets the consumer's ack wait (default DefaultAckWait).
func WithAckWait(d time.Duration) Option { return func(o *options) { o.ackWait = d } }

// WithPushTimeout bounds one delivery (default DefaultPushTimeout); it must
// be below the ack wait.
func WithPushTimeout(d time.Duration) Option { return func(o *options) { o.pushTimeout = d } }

// WithBatch sets how many messages one fetch asks for (default
// DefaultBatch).
func WithBatch(n int) Option { return func(o *options) { o.batch = n } }

// WithFetchWait sets how long one fetch waits for messages (default
// DefaultFetchWait); it also bounds how long Run takes to notice that its
// context is done while idle.
func WithFetchWait(d time.Duration) Option { return func(o *options) { o.fetchWait = d } }

// WithRetryDelay sets the delay before a failed delivery is retried: min,
// doubled per attempt, at most max (defaults DefaultRetryMin,
// DefaultRetryMax).
func WithRetryDelay(min, max time.Duration) Option {
	return func(o *options) { o.retryMin, o.retryMax = min, max }
}

// WithHTTPClient sets the client deliveries go through (default: one with
// its own keep-alive pool); WithPushTimeout still bounds each delivery.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithRegisterer sets where the worker registers its metrics (default: a
// private registry nobody scrapes).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Worker delivers notification events to the push provider. Run does the
// work; Ready tells whether it can.
type Worker struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	ledger  Ledger
	pushURL string // {push-url}/v1/push
	opts    options
	metrics *metrics
	ready   atomic.Bool // the consumer is set up and fetching
}

// New returns a worker that consumes through nc (see queue.Connect),
// records deliveries in ledger and delivers to the push provider at
// pushURL ("http://host:port").
func New(nc *nats.Conn, ledger Ledger, pushURL string, opts ...Option) (*Worker, error) {
	o := options{
		ackWait:     DefaultAckWait,
		pushTimeout: DefaultPushTimeout,
		batch:       DefaultBatch,
		fetchWait:   DefaultFetchWait,
		retryMin:    DefaultRetryMin,
		retryMax:    DefaultRetryMax,
		log:         slog.New(slog.DiscardHandler),
		ack:         func(m jetstream.Msg) error { return m.Ack() },
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	if o.hc == nil {
		o.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}}
	}
	u, err := url.Parse(pushURL)
	if err != nil {
		return nil, fmt.Errorf("new worker: push URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("new worker: push URL %q: want http(s)://host:port", pushURL)
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("new worker: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("new worker: %w", err)
	}
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, fmt.Errorf("new worker: %w", err)
	}
	return &Worker{
		nc: nc, js: js, ledger: ledger, opts: o, metrics: m,
		pushURL: u.Scheme + "://" + u.Host + PushPath,
	}, nil
}

func (o options) validate() error {
	var errs []error
	if o.ackWait <= 0 {
		errs = append(errs, fmt.Errorf("ack wait %v: want > 0", o.ackWait))
	}
	if o.pushTimeout <= 0 || o.pushTimeout >= o.ackWait {
		errs = append(errs, fmt.Errorf("push timeout %v: want > 0 and below the ack wait %v", o.pushTimeout, o.ackWait))
	}
	if o.batch < 1 {
		errs = append(errs, fmt.Errorf("batch %d: want >= 1", o.batch))
	}
	if o.fetchWait < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("fetch wait %v: want >= 10ms", o.fetchWait))
	}
	if o.retryMin <= 0 || o.retryMax < o.retryMin {
		errs = append(errs, fmt.Errorf("retry delay %v..%v: want 0 < min <= max", o.retryMin, o.retryMax))
	}
	return errors.Join(errs...)
}

// ConsumerConfig is the configuration of the durable consumer with the
// given ack wait: explicit acks, every message of the stream, no limit on
// redeliveries.
func ConsumerConfig(ackWait time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    -1,
	}
}

// Ready returns nil while the worker is connected to the broker with its
// consumer set up.
func (w *Worker) Ready(context.Context) error {
	if !w.nc.IsConnected() {
		return errors.New("not connected to the broker")
	}
	if !w.ready.Load() {
		return fmt.Errorf("consumer %s not set up", ConsumerName)
	}
	return nil
}

// Run sets up the consumer and delivers events until ctx is done, then
// returns ctx's error. It outlives the broker going away: it keeps
// retrying, and resumes where the consumer stands when the broker is
// back. When ctx is done it finishes the delivery in progress (bounded by
// the push timeout) and hands the messages it fetched but had not started
// back to the broker.
func (w *Worker) Run(ctx context.Context) error {
	defer w.ready.Store(false)
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, w.opts.fetchWait)
		cons, err := w.js.CreateOrUpdateConsumer(sctx, queue.StreamName, ConsumerConfig(w.opts.ackWait))
		cancel()
		if err == nil {
			attempt = 0
			w.ready.Store(true)
			w.opts.log.Info("consuming", "stream", queue.StreamName, "consumer", ConsumerName, "ack_wait", w.opts.ackWait.String())
			err = w.consume(ctx, cons)
			w.ready.Store(false)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.logRetry("set up consumer", err)
		if !sleep(ctx, w.delay(max(attempt, 1))) {
			return ctx.Err()
		}
	}
}

// consume fetches and handles messages until ctx is done (nil error) or
// the consumer is gone (its error).
func (w *Worker) consume(ctx context.Context, cons jetstream.Consumer) error {
	failures := 0
	for ctx.Err() == nil {
		err := w.fetch(ctx, cons)
		switch {
		case err == nil:
			failures = 0
			continue
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound),
			errors.Is(err, jetstream.ErrStreamNotFound):
			return err
		}
		failures++
		w.logRetry("fetch", err)
		if !sleep(ctx, w.delay(failures)) {
			return nil
		}
	}
	return nil
}

// fetch asks for a batch and handles its messages as they arrive.
func (w *Worker) fetch(ctx context.Context, cons jetstream.Consumer) error {
	fctx, cancel := context.WithTimeout(ctx, w.opts.fetchWait)
	defer cancel()
	batch, err := cons.Fetch(w.opts.batch, jetstream.FetchContext(fctx))
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	for msg := range batch.Messages() {
		if ctx.Err() != nil {
			_ = msg.Nak() // back to the broker at once, for the next run
			continue
		}
		w.handle(ctx, msg)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}

// logRetry logs a failure the worker retries: quietly while the
// connection is down (the disconnection itself is logged once).
func (w *Worker) logRetry(op string, err error) {
	if !w.nc.IsConnected() {
		w.opts.log.Debug(op+" failed; retrying", "err", err)
		return
	}
	w.opts.log.Warn(op+" failed; retrying", "err", err)
}

// handle delivers one message's event unless already delivered, and acks,
// naks or terminates the message accordingly. A delivery started is
// finished even if ctx is done meanwhile.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	ev, err := decodeEvent(msg)
	if err != nil {
		w.metrics.deliveries.WithLabelValues(resultDropped).Inc()
		w.opts.log.Error("dropping a malformed event", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	log := w.opts.log.With("event_id", ev.EventID)
	done, err := w.ledger.Delivered(ev.EventID)
	if err != nil {
		w.retry(msg, log, err)
		return
	}
	if done {
		w.metrics.deliveries.WithLabelValues(resultDuplicate).Inc()
		log.Debug("already delivered; acking the duplicate")
		if err := w.opts.ack(msg); err != nil {
			log.Warn("ack of a duplicate failed", "err", err)
		}
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.pushTimeout)
	err = w.push(dctx, ev)
	cancel()
	var perm permanentError
	switch {
	case errors.As(err, &perm):
		w.metrics.deliveries.WithLabelValues(resultDropped).Inc()
		log.Error("push provider refused the event for good; dropping it", "err", err)
		_ = msg.Term()
		return
	case err != nil:
		w.retry(msg, log, err)
		return
	}
	if err := w.ledger.Record(ev.EventID); err != nil {
		// Delivered but not recorded: the redelivery will push it again,
		// with the same Idempotency-Key.
		w.retry(msg, log, err)
		return
	}
	w.metrics.deliveries.WithLabelValues(resultDelivered).Inc()
	log.Debug("delivered")
	if err := w.opts.ack(msg); err != nil {
		log.Warn("ack failed; the redelivery will be acked as a duplicate", "err", err)
	}
}

// retry counts a failed delivery and hands msg back for a later attempt.
func (w *Worker) retry(msg jetstream.Msg, log *slog.Logger, err error) {
	w.metrics.deliveries.WithLabelValues(resultFailed).Inc()
	attempt := 1
	if md, merr := msg.Metadata(); merr == nil {
		attempt = int(min(md.NumDelivered, 64))
	}
	d := w.delay(attempt)
	log.Warn("delivery failed; will retry", "attempt", attempt, "retry_in", d.String(), "err", err)
	if nerr := msg.NakWithDelay(d); nerr != nil {
		log.Debug("nak failed; the broker redelivers after the ack wait", "err", nerr)
	}
}

// delay is the wait before attempt n+1 (n from 1): retryMin doubled per
// attempt, at most retryMax.
func (w *Worker) delay(n int) time.Duration {
	d := w.opts.retryMin
	for i := 1; i < n && d < w.opts.retryMax; i++ {
		d *= 2
	}
	return min(d, w.opts.retryMax)
}

// sleep waits d or until ctx is done, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// decodeEvent reads the event of msg; the event id falls back to the
// message's Nats-Msg-Id.
func decodeEvent(msg jetstream.Msg) (queue.Event, error) {
	var ev queue.Event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		return ev, fmt.Errorf("decode event: %w", err)
	}
	if ev.EventID == "" {
		ev.EventID = msg.Headers().Get(jetstream.MsgIDHeader)
	}
	if ev.EventID == "" {
		return ev, fmt.Errorf("decode event: %w", queue.ErrInvalidEvent)
	}
	return ev, nil
}

// pushRequest is the body of a delivery.
type pushRequest struct {
	EventID string `json:"eventId"`
	UserID  string `json:"userId"`
	Title   string `json:"title"`
}

// permanentError is a refusal by the push provider that a retry cannot fix.
type permanentError struct{ error }

// push delivers ev to the push provider.
func (w *Worker) push(ctx context.Context, ev queue.Event) error {
	body, err := json.Marshal(pushRequest{EventID: ev.EventID, UserID: ev.UserID, Title: ev.Title})
	if err != nil {
		return fmt.Errorf("push %q: %w", ev.EventID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.pushURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("push %q: %w", ev.EventID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(IdempotencyHeader, ev.EventID)
	start := time.Now()
	resp, err := w.opts.hc.Do(req)
	w.metrics.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("push %q: %w", ev.EventID, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("push %q: status %d: %s", ev.EventID, code, bytes.TrimSpace(msg))
	default:
		return permanentError{fmt.Errorf("push %q: status %d: %s", ev.EventID, code, bytes.TrimSpace(msg))}
	}
}
