package gateway

import (
	"fmt"
	"math"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// rateLimiter is a token bucket per client key (see ClientKey): each
// client may send perSecond requests a second on average and burst at
// once. It tracks at most maxClients clients, least recently seen dropped
// first; a dropped client starts again with a full bucket, which loses
// nothing for a client idle long enough to have refilled (burst/perSecond).
type rateLimiter struct {
	limit   rate.Limit
	burst   int
	clients *lru.Cache[string, *rate.Limiter] // safe for concurrent use
}

func newRateLimiter(perSecond float64, burst, maxClients int) (*rateLimiter, error) {
	clients, err := lru.New[string, *rate.Limiter](maxClients)
	if err != nil {
		return nil, fmt.Errorf("new rate limiter: %w", err)
	}
	return &rateLimiter{limit: rate.Limit(perSecond), burst: burst, clients: clients}, nil
}

// admit reports whether client may send a request at now, and takes a
// token if so. When not, wait is how long until it may: the delay the
// limiter would have imposed on a reservation (which is then cancelled, so
// a refused request costs the client nothing).
func (l *rateLimiter) admit(client string, now time.Time) (ok bool, wait time.Duration) {
	lim, found := l.clients.Get(client)
	if !found {
		lim = rate.NewLimiter(l.limit, l.burst)
		if prev, had, _ := l.clients.PeekOrAdd(client, lim); had {
			lim = prev // another request of the same client got there first
		}
	}
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second // cannot happen: burst >= 1 is validated
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// tracked returns how many clients have a bucket.
func (l *rateLimiter) tracked() int { return l.clients.Len() }

// retryAfterSeconds is the Retry-After value for a wait: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(wait time.Duration) int64 {
	return max(1, int64(math.Ceil(wait.Seconds())))
}
