package gateway

import (
	"io"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// upstream is one replica and the gateway's view of it: the active health
// checks' verdict, the passive outlier state, and the requests in flight.
type upstream struct {
	name      string
	url       *url.URL
	healthURL string

	outstanding  atomic.Int64 // attempts in flight through this gateway
	up           atomic.Bool  // health checks' verdict; read on every request, written under mu
	ejectedUntil atomic.Int64 // Unix ns until which it is ejected; written under the Gateway's ejectMu
	probation    atomic.Bool  // back (or due back) from an ejection; written under ejectMu
	streak       atomic.Int64 // consecutive failed attempts; written under ejectMu

	mu    sync.Mutex // guards fails, oks and writes to up
	fails int        // consecutive failed checks
	oks   int        // consecutive successful checks

	// Guarded by the Gateway's ejectMu.
	ejections    int  // ejections since it last passed probation: the next one lasts base × 2^ejections
	probationOKs int  // successful attempts in a row while on probation
	spared       bool // the current failure streak was spared ejection (logged once)
}

func newUpstream(u Upstream) *upstream {
	return &upstream{name: u.Name, url: u.URL, healthURL: u.URL.JoinPath(HealthPath).String()}
}

// healthy reports the active health checks' verdict.
func (u *upstream) healthy() bool { return u.up.Load() }

// ejected reports whether passive outlier detection keeps u out at now.
func (u *upstream) ejected(now time.Time) bool { return now.UnixNano() < u.ejectedUntil.Load() }

// routable reports whether new requests may go to u at now: healthy and
// not ejected.
func (u *upstream) routable(now time.Time) bool { return u.healthy() && !u.ejected(now) }

// observe applies one health check outcome. It reports whether the state
// changed, and the state now.
func (u *upstream) observe(ok bool, healthy, unhealthy int) (changed, up bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	was := u.up.Load()
	if ok {
		u.oks++
		u.fails = 0
		if !was && u.oks >= healthy {
			u.up.Store(true)
		}
	} else {
		u.fails++
		u.oks = 0
		if was && u.fails >= unhealthy {
			u.up.Store(false)
		}
	}
	return was != u.up.Load(), u.up.Load()
}

// trackedBody is an upstream response body that counts as outstanding on
// its upstream until it is closed; done is then called once.
type trackedBody struct {
	io.ReadCloser
	u      *upstream
	done   func()
	closed atomic.Bool
}

func (b *trackedBody) Close() error {
	if b.closed.CompareAndSwap(false, true) {
		b.u.outstanding.Add(-1)
		b.done()
	}
	return b.ReadCloser.Close()
}
