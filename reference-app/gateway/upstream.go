package gateway

import (
	"net/url"
	"sync"
	"sync/atomic"
)

// upstream is one replica and the gateway's view of its health.
type upstream struct {
	name      string
	url       *url.URL
	healthURL string
	m         *metrics

	up    atomic.Bool // read on every request; written under mu
	mu    sync.Mutex  // guards fails, oks and writes to up
	fails int         // consecutive failed checks (or a passive failure)
	oks   int         // consecutive successful checks
}

func newUpstream(u Upstream, m *metrics) *upstream {
	up := &upstream{name: u.Name, url: u.URL, healthURL: u.URL.JoinPath(HealthPath).String(), m: m}
	m.setUp(up.name, false)
	return up
}

func (u *upstream) isUp() bool { return u.up.Load() }

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
			u.set(true)
		}
	} else {
		u.fails++
		u.oks = 0
		if was && u.fails >= unhealthy {
			u.set(false)
		}
	}
	return was != u.up.Load(), u.up.Load()
}

// markDown takes u out of rotation at once, as if unhealthy checks had
// failed in a row. It reports whether u was up.
func (u *upstream) markDown(unhealthy int) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.oks = 0
	u.fails = max(u.fails, unhealthy)
	was := u.up.Load()
	if was {
		u.set(false)
	}
	return was
}

// set records the new state; u.mu must be held.
func (u *upstream) set(up bool) {
	u.up.Store(up)
	u.m.setUp(u.name, up)
}
