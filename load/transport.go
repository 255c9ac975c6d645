package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/valyala/fasthttp"
)

// ErrStopped is the error of a request that Run cut short because its
// context ended: the request was in flight, or about to connect.
var ErrStopped = errors.New("load stream stopped")

// ErrCanceled starts the Error of every result of a request Run cut when
// its context ended (an interrupt, an abort, the run stopping the load):
// Run rewrites such a result's Error to "<ErrCanceled>: <the error>", and
// Outcome returns OutcomeCanceled for it. A target's own failures never
// start with it: status errors start with the code ("503 Service
// Unavailable"), transport errors with the method ("Get \"http://…\": …").
var ErrCanceled = errors.New("canceled by gameday")

// Canceled reports whether r is the result of a request Run cut (see
// ErrCanceled): no complete response, and an Error Run marked.
func Canceled(r *vegeta.Result) bool {
	return (r.Code == 0 || (r.Code >= 200 && r.Code < 400)) &&
		len(r.Error) > len(canceledMark) && r.Error[:len(canceledMark)] == canceledMark
}

// canceledMark starts a canceled result's Error.
var canceledMark = ErrCanceled.Error() + ": "

// markCanceled marks r as cut by Run when it is: a request without a
// complete response (no status, or an error after a 2xx/3xx) that ended at
// or after stopAt, the moment Run began cutting. A request that ended
// before (a refused connection, the target's timeout) keeps its failure; a
// status the target sent (a 5xx) is its answer, whenever it came.
func markCanceled(r *vegeta.Result, stopAt time.Time) {
	if Canceled(r) || r.Error == "" || (r.Code != 0 && (r.Code < 200 || r.Code >= 400)) {
		return
	}
	if r.Timestamp.Add(r.Latency).Before(stopAt) {
		return
	}
	r.Error = canceledMark + r.Error
}

// connPool is the dialer of one stream's HTTP client. It remembers every
// connection it opened so that stopping the stream can close them all:
// a request in flight (fasthttp's carry no context) ends when its
// connection closes, at once rather than at its timeout.
type connPool struct {
	dialer net.Dialer

	mu      sync.Mutex // guards conns and stopped
	conns   map[*poolConn]struct{}
	stopped bool
}

func newConnPool() *connPool {
	return &connPool{
		dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		conns:  make(map[*poolConn]struct{}),
	}
}

// dial opens a connection, or fails with ErrStopped once the pool is stopped.
func (p *connPool) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if p.isStopped() {
		return nil, ErrStopped
	}
	c, err := p.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	pc := &poolConn{Conn: c, pool: p}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		_ = c.Close() // never used: its close error says nothing
		return nil, ErrStopped
	}
	p.conns[pc] = struct{}{}
	return pc, nil
}

func (p *connPool) isStopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// stop closes every connection, idle or busy, and refuses new ones.
func (p *connPool) stop() {
	p.mu.Lock()
	p.stopped = true
	conns := make([]*poolConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.cut.Store(true)
		_ = c.Close() // cut on purpose: reads and writes report ErrStopped
	}
}

// poolConn is a connection of a connPool. After the pool cut it, its reads
// and writes fail with ErrStopped.
type poolConn struct {
	net.Conn
	pool *connPool
	cut  atomic.Bool
	once sync.Once
}

func (c *poolConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && c.cut.Load() {
		err = ErrStopped
	}
	return n, err
}

func (c *poolConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil && c.cut.Load() {
		err = ErrStopped
	}
	return n, err
}

func (c *poolConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		c.pool.mu.Lock()
		delete(c.pool.conns, c)
		c.pool.mu.Unlock()
		err = c.Conn.Close()
	})
	return err
}

// newTransport is the HTTP transport of one stream, shared by its entries:
// HTTP/1.1 with keep-alive, idle connections up to conns, no proxy (the
// target is on loopback; nothing here reads the environment).
func newTransport(pool *connPool, conns int) *http.Transport {
	return &http.Transport{
		DialContext:         pool.dial,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig:     &tls.Config{},
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
}

// newLoadClient is the HTTP client of one stream's workers:
// github.com/valyala/fasthttp's, chosen over net/http because a load
// generator spends most of its CPU in its client: fasthttp writes the
// request and reads the response in the worker's own goroutine, with
// reused buffers, where net/http hands each request to two goroutines per
// connection and allocates its request, headers and response
// (docs/benchmarks.md measures both). HTTP/1.1 with keep-alive, at most
// conns connections per host (a worker waits for one at most timeout), no
// proxy (nothing here reads the environment), the response body streamed
// so that a worker keeps only what Stream.MaxBody says. A request is tried
// again once, on a new connection, only when the target closed the
// connection before answering a GET, HEAD, OPTIONS or TRACE: the race of
// a keep-alive connection the target closed as it was reused, which
// net/http retries too; any other failure is the target's, and counted.
func newLoadClient(pool *connPool, conns int, timeout time.Duration, rootCAs *x509.CertPool) *fasthttp.Client {
	return &fasthttp.Client{
		Name: "gameday",
		DialTimeout: func(addr string, d time.Duration) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			return pool.dial(ctx, "tcp", addr)
		},
		TLSConfig:                     &tls.Config{RootCAs: rootCAs},
		MaxConnsPerHost:               conns,
		MaxConnWaitTimeout:            timeout,
		MaxIdleConnDuration:           90 * time.Second,
		ReadBufferSize:                16 << 10, // the longest response header it can read
		StreamResponseBody:            true,
		DisableHeaderNamesNormalizing: true, // the scenario's names are canonical already
		MaxIdemponentCallAttempts:     2,
		RetryIfErr:                    retryClosedIdle,
	}
}

// retryClosedIdle retries, once, a replayable request the target closed
// the connection of before any answer (see newLoadClient).
func retryClosedIdle(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	h := &req.Header
	replayable := h.IsGet() || h.IsHead() || h.IsOptions() || h.IsTrace()
	closed := errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed)
	return false, attempts == 1 && replayable && closed
}
