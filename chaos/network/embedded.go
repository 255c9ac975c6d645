package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"
)

// silenceToxics mutes Toxiproxy's toxics: they log through zerolog's global
// logger, at trace level, to the process's stderr ("BandwidthToxic was
// interrupted" for every connection a bandwidth toxic carried), which
// would land among gameday's own output. Nothing else in gameday uses
// zerolog's global logger.
var silenceToxics = sync.OnceFunc(func() { zlog.Logger = zerolog.Nop() })

// EmbeddedToxiproxy is a Toxiproxy server running inside gameday, its HTTP
// API served on a loopback port of its own.
type EmbeddedToxiproxy struct {
	// URL is the base URL of its HTTP API.
	URL string

	server *toxiproxy.ApiServer
	http   *http.Server
	done   chan struct{}
}

// StartToxiproxy starts an embedded Toxiproxy server with its API on
// 127.0.0.1 and a free port.
func StartToxiproxy() (*EmbeddedToxiproxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start embedded toxiproxy: %w", err)
	}
	silenceToxics()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	t := &EmbeddedToxiproxy{
		URL:    "http://" + ln.Addr().String(),
		server: server,
		// Routes may be called only once per server.
		http: &http.Server{Handler: server.Routes(), ReadHeaderTimeout: 5 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(t.done)
		_ = t.http.Serve(ln)
	}()
	return t, nil
}

// Close stops every proxy of the server and its API.
func (t *EmbeddedToxiproxy) Close() error {
	err := t.server.Collection.Clear()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := t.http.Shutdown(ctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	<-t.done
	if err != nil {
		return fmt.Errorf("stop embedded toxiproxy: %w", err)
	}
	return nil
}
