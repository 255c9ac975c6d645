package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestKillOneOfThreeUnderIdempotentLoad is the acceptance check "no failed
// idempotent request": 8 workers send GETs and POSTs with an
// Idempotency-Key through the gateway with its default balancing, ejection
// and retry budget; a third of the way in, one of the three replicas dies
// abruptly (listener closed, every connection cut, requests in flight
// included). Health checks are off, so only passive detection and retries
// can save the requests. Every request must succeed.
func TestKillOneOfThreeUnderIdempotentLoad(t *testing.T) {
	const workers, perWorker = 8, 60
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-0"), newAPI(t, "api-1"), newAPI(t, "api-2")},
		WithHealthInterval(forever))
	victim := h.backends[1]

	var (
		done     atomic.Int64
		third    = make(chan struct{})
		once     sync.Once
		mu       sync.Mutex // guards failures and answered
		failures []string
		answered = map[string]int{}
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				var a answer
				var err error
				if i%2 == 0 {
					a, err = h.do("GET", "/v1/feed?limit=5", "", nil)
				} else {
					id := fmt.Sprintf("w%d-%d", w, i)
					a, err = h.do("POST", "/v1/posts", `{"text":"hi `+id+`"}`, map[string]string{IdempotencyKeyHeader: id})
				}
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case a.status != http.StatusOK && a.status != http.StatusCreated:
					failures = append(failures, fmt.Sprintf("%d from %q: %s", a.status, a.instance, a.body))
				default:
					answered[a.instance]++
				}
				mu.Unlock()
				if done.Add(1) == workers*perWorker/3 {
					once.Do(func() { close(third) })
				}
			}
		})
	}
	<-third
	victim.Listener.Close()
	victim.CloseClientConnections()
	wg.Wait()

	if len(failures) > 0 {
		t.Errorf("%d of %d idempotent requests failed after killing api-1; want none. First: %s", len(failures), workers*perWorker, failures[0])
	}
	if answered["api-0"] == 0 || answered["api-1"] == 0 || answered["api-2"] == 0 {
		t.Errorf("answers by replica %v; want all three before the kill", answered)
	}
	if got := h.attempts("api-1", codeError); got < 1 {
		t.Errorf("attempts on api-1 with a connection error = %v; want at least 1 (the kill must have been met)", got)
	}
	if st := h.g.Status()[1]; st.Up {
		t.Errorf("api-1 after its death = %+v; want not up (ejected)", st)
	}
	t.Logf("answers %v; retries: retried %v, budget exhausted %v; api-1 ejections %v",
		answered, h.retriesBy(RetryRetried), h.retriesBy(RetryBudgetExhausted), h.ejections("api-1", ReasonConnectionError))
}
