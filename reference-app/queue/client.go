package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Connection defaults of Connect.
const (
	// DefaultDialTimeout bounds one attempt to connect.
	DefaultDialTimeout = 2 * time.Second
	// DefaultReconnectWaitMin is the wait before the first reconnect
	// attempt; it doubles at every attempt up to DefaultReconnectWaitMax.
	DefaultReconnectWaitMin = 100 * time.Millisecond
	// DefaultReconnectWaitMax bounds the wait between reconnect attempts.
	DefaultReconnectWaitMax = 2 * time.Second
	// DefaultPingInterval is how often the client pings the server; after
	// DefaultMaxPingsOut unanswered pings the connection counts as broken
	// (a proxy that silently drops traffic is noticed within seconds).
	DefaultPingInterval = time.Second
	// DefaultMaxPingsOut is the unanswered pings that break a connection.
	DefaultMaxPingsOut = 3
)

// ConnectOptions are the nats.go options of every refapp client of the
// broker, named name in the server's view:
//   - it connects only to the URL it was given and ignores the addresses a
//     server advertises, so a client behind a proxy stays behind it;
//   - it retries the first connection and reconnects forever, waiting
//     DefaultReconnectWaitMin doubling up to DefaultReconnectWaitMax (with
//     jitter) between attempts;
//   - it buffers nothing while disconnected: a publish or a request then
//     fails at once instead of being sent late;
//   - it notices a dead connection after DefaultMaxPingsOut pings sent
//     DefaultPingInterval apart went unanswered.
//
// Connection changes are logged on log.
func ConnectOptions(name string, log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.Timeout(DefaultDialTimeout),
		nats.DontRandomize(),
		nats.IgnoreDiscoveredServers(),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(ReconnectDelay),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(DefaultPingInterval),
		nats.MaxPingsOutstanding(DefaultMaxPingsOut),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("nats connected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("nats error", "err", err)
		}),
	}
}

// ReconnectDelay is the wait before reconnect attempt attempts (from 1):
// DefaultReconnectWaitMin doubled per attempt, at most
// DefaultReconnectWaitMax, plus up to a quarter of it of jitter.
func ReconnectDelay(attempts int) time.Duration {
	d := DefaultReconnectWaitMax
	if attempts < 8 {
		d = min(DefaultReconnectWaitMin<<max(attempts-1, 0), DefaultReconnectWaitMax)
	}
	return d + rand.N(d/4+1) //nolint:gosec // G404: jitter needs no secrecy
}

// Connect connects to the broker at rawURL ("nats://host:port") with
// ConnectOptions plus extra. An unreachable broker is not an error: the
// connection keeps trying in the background (see nats.Conn.IsConnected).
func Connect(rawURL, name string, log *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("connect to broker: %w", err)
	}
	if u.Scheme != "nats" || u.Host == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("connect to broker: URL %q: want nats://host:port", rawURL)
	}
	nc, err := nats.Connect(rawURL, append(ConnectOptions(name, log), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to broker %s: %w", u.Redacted(), err)
	}
	return nc, nil
}

// Publisher publishes notification events to the stream.
type Publisher struct {
	js jetstream.JetStream
}

// NewPublisher returns a publisher over nc.
func NewPublisher(nc *nats.Conn) (*Publisher, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("new publisher: %w", err)
	}
	return &Publisher{js: js}, nil
}

// Publish publishes e on SubjectPost with the header Nats-Msg-Id = e's
// EventID and returns once the stream has stored it, or has recognised it
// as a duplicate of a publish within DuplicateWindow (which is no error:
// publishing an event is idempotent). It fails when ctx is done first, or
// at once while the connection is down; the caller retries. An event
// without an id gives an error wrapping ErrInvalidEvent.
func (p *Publisher) Publish(ctx context.Context, e Event) error {
	if e.EventID == "" {
		return fmt.Errorf("publish event: no event id: %w", ErrInvalidEvent)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("publish event %q: %w", e.EventID, err)
	}
	_, err = p.js.PublishMsg(ctx, &nats.Msg{Subject: SubjectPost, Data: data},
		jetstream.WithMsgID(e.EventID), jetstream.WithExpectStream(StreamName))
	if err != nil {
		return fmt.Errorf("publish event %q: %w", e.EventID, err)
	}
	return nil
}
