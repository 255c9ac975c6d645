package gateway

import (
	"sync"
	"time"
)

// RetryBudgetWindow is how far back the retry budget counts requests and
// retries.
const RetryBudgetWindow = 10 * time.Second

// budgetSlots is the number of one-second slots in RetryBudgetWindow.
const budgetSlots = int64(RetryBudgetWindow / time.Second)

// retryBudget bounds retries, as Finagle's and Envoy's retry budgets do, so
// that retries cannot multiply the load on upstreams that are failing
// anyway. Retries may number ratio × the requests of the last
// RetryBudgetWindow, plus minPerSecond in every clock second: a retry is
// charged to the first allowance while it lasts, else to the second.
// Requests are first attempts; retries do not earn more retries.
type retryBudget struct {
	ratio        float64
	minPerSecond int

	mu    sync.Mutex // guards slots
	slots [budgetSlots]budgetSlot
}

// budgetSlot counts one clock second.
type budgetSlot struct {
	sec      int64 // Unix second counted; other seconds are stale
	requests int   // first attempts
	retries  int   // retries charged to the ratio allowance
	floor    int   // retries charged to the per-second minimum
}

func newRetryBudget(ratio float64, minPerSecond int) *retryBudget {
	return &retryBudget{ratio: ratio, minPerSecond: minPerSecond}
}

// request records a first attempt at now.
func (b *retryBudget) request(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slot(now.Unix()).requests++
}

// allowRetry reports whether a retry at now is within the budget, and if
// so records it.
func (b *retryBudget) allowRetry(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	sec := now.Unix()
	cur := b.slot(sec)
	var requests, retries int
	for i := range b.slots {
		if s := &b.slots[i]; s.sec > sec-budgetSlots && s.sec <= sec {
			requests += s.requests
			retries += s.retries
		}
	}
	switch {
	case float64(retries+1) <= b.ratio*float64(requests):
		cur.retries++
	case cur.floor < b.minPerSecond:
		cur.floor++
	default:
		return false
	}
	return true
}

// slot returns the slot of Unix second sec, emptied if it held an older
// second; b.mu must be held.
func (b *retryBudget) slot(sec int64) *budgetSlot {
	s := &b.slots[(sec%budgetSlots+budgetSlots)%budgetSlots]
	if s.sec != sec {
		*s = budgetSlot{sec: sec}
	}
	return s
}
