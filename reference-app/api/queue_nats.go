package api

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultNATSReconnectWait is the time between two attempts to reconnect
// to a lost NATS server.
const DefaultNATSReconnectWait = 250 * time.Millisecond

// NATSPublisher is a Publisher to NATS JetStream. It stays connected for
// as long as it lives, reconnecting without end, and it buffers nothing
// while disconnected: a publication then fails at once, with
// ErrUnavailable, and the outbox keeps the event.
type NATSPublisher struct {
	nc *nats.Conn
	js jetstream.JetStream
}

var _ Publisher = (*NATSPublisher)(nil)

// DialNATS connects to the NATS server at url (nats://host:port). The
// server need not be up yet: the connection is retried in the background.
func DialNATS(url string, log *slog.Logger) (*NATSPublisher, error) {
	nc, err := nats.Connect(url,
		nats.Name("refapp-api"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(DefaultNATSReconnectWait),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream on %s: %w", url, err)
	}
	return &NATSPublisher{nc: nc, js: js}, nil
}

// Publish publishes data on subject with header Nats-Msg-Id: msgID and
// waits for the stream's acknowledgement (a duplicate the stream dropped
// is acknowledged too).
func (p *NATSPublisher) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	if !p.nc.IsConnected() {
		return fmt.Errorf("publish %s: nats %s: %w", msgID, p.nc.Status(), ErrUnavailable)
	}
	msg := nats.NewMsg(subject)
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	msg.Data = data
	if _, err := p.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publish %s: %w: %w", msgID, ErrUnavailable, err)
	}
	return nil
}

// Close closes the connection.
func (p *NATSPublisher) Close() { p.nc.Close() }

// Ping checks the connection with a round trip to the broker.
func (p *NATSPublisher) Ping(ctx context.Context) error {
	if !p.nc.IsConnected() {
		return fmt.Errorf("queue ping: nats %s: %w", p.nc.Status(), ErrUnavailable)
	}
	if err := p.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("queue ping: %w: %w", ErrUnavailable, err)
	}
	return nil
}
