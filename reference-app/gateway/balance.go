package gateway

import (
	"fmt"
	"time"
)

// Balance is how the gateway chooses, among the upstreams it may route to,
// the one for a new request.
type Balance int

const (
	// LeastOutstanding picks the upstream with the fewest requests in
	// flight through this gateway; ties are broken round robin, so that
	// load spreads when the upstreams are equally busy (and, one request at
	// a time, it behaves exactly like RoundRobin).
	LeastOutstanding Balance = iota
	// RoundRobin takes the upstreams in turn.
	RoundRobin
)

var balanceNames = map[Balance]string{LeastOutstanding: "least-outstanding", RoundRobin: "round-robin"}

// String returns the flag spelling of b: "least-outstanding" or
// "round-robin".
func (b Balance) String() string {
	if s, ok := balanceNames[b]; ok {
		return s
	}
	return fmt.Sprintf("Balance(%d)", int(b))
}

// ParseBalance parses the flag spelling of a Balance.
func ParseBalance(s string) (Balance, error) {
	for b, name := range balanceNames {
		if s == name {
			return b, nil
		}
	}
	return 0, fmt.Errorf("balance %q: want least-outstanding or round-robin", s)
}

// MarshalText implements encoding.TextMarshaler (for flag.TextVar).
func (b Balance) MarshalText() ([]byte, error) {
	if _, ok := balanceNames[b]; !ok {
		return nil, fmt.Errorf("marshal %v: unknown balance", b)
	}
	return []byte(b.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (for flag.TextVar).
func (b *Balance) UnmarshalText(text []byte) error {
	v, err := ParseBalance(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// pick returns the upstream for an attempt at now, or nil when there is
// none: among the candidates (see candidates) other than exclude, the next
// in turn (RoundRobin) or the least busy, ties in turn (LeastOutstanding).
// Only first attempts (exclude nil) advance the turn, so that retries do
// not skew the rotation.
func (g *Gateway) pick(now time.Time, exclude *upstream) *upstream {
	var buf [16]*upstream
	cands := g.candidates(buf[:0], now, exclude)
	if len(cands) == 0 {
		return nil
	}
	n := uint64(len(cands))
	var start uint64
	if exclude == nil {
		start = g.next.Add(1) - 1
	} else {
		start = g.next.Load()
	}
	best := cands[start%n]
	if g.opts.balance == RoundRobin {
		return best
	}
	least := best.outstanding.Load()
	for i := uint64(1); i < n; i++ {
		c := cands[(start+i)%n]
		if o := c.outstanding.Load(); o < least {
			best, least = c, o
		}
	}
	return best
}

// candidates appends to dst the upstreams that may take an attempt at now,
// exclude left out: the healthy ones that are not ejected; or, when every
// healthy upstream is ejected (panic: ejection must never leave the gateway
// with nowhere to send), every healthy one.
func (g *Gateway) candidates(dst []*upstream, now time.Time, exclude *upstream) []*upstream {
	members := g.set.Load().members
	panicking := true
	for _, u := range members {
		if u.routable(now) {
			panicking = false
			break
		}
	}
	for _, u := range members {
		if u != exclude && u.healthy() && (panicking || !u.ejected(now)) {
			dst = append(dst, u)
		}
	}
	return dst
}
