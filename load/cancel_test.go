package load

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// arrivals is a test server that counts requests and keeps when the last
// one arrived.
type arrivals struct {
	n    atomic.Int64
	last atomic.Int64 // Unix nanoseconds of the last arrival
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.last.Store(time.Now().UnixNano())
	a.n.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	_, _ = io.WriteString(w, "ok")
}

// cancelMidAttack runs an hour-long stream at 2000/s against a, cancels it
// once the target has seen 200 requests, and returns how long after the
// cancel the last request arrived and Run returned. It fails tb when Run
// does not return within 5 s of the cancel.
func cancelMidAttack(tb testing.TB, srv *httptest.Server, a *arrivals) (lastAfter, returnAfter time.Duration) {
	tb.Helper()
	before := a.n.Load()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan Summary, 1)
	go func() {
		sum, err := Run(ctx, Stream{
			Name: "s", Rate: vegeta.Rate{Freq: 2000, Per: time.Second}, Duration: time.Hour,
			Timeout: time.Hour, Workers: 64, MaxWorkers: 64, Connections: 64,
			Requests: []Request{{Name: "r", Weight: 1, URL: "/r/{{.Seq}}"}},
		}, srv.URL)
		if err != nil {
			tb.Errorf("Run() error: %v", err)
		}
		done <- sum
	}()
	deadline := time.Now().Add(20 * time.Second)
	for a.n.Load()-before < 200 {
		if time.Now().After(deadline) {
			tb.Fatal("gave up waiting for 200 requests")
		}
		time.Sleep(time.Millisecond)
	}
	canceledAt := time.Now()
	cancel()
	select {
	case sum := <-done:
		returnAfter = time.Since(canceledAt)
		if !sum.Interrupted {
			tb.Errorf("Run() after cancel = %+v; want interrupted", sum)
		}
	case <-time.After(5 * time.Second):
		tb.Fatal("Run() has not returned 5s after its context was canceled")
	}
	// Run has returned: its workers have ended, nothing more can be sent.
	return time.Unix(0, a.last.Load()).Sub(canceledAt), returnAfter
}

// TestRunCancelStopsSending cancels a stream mid-attack: requests stop
// and Run returns. The goal (within 100 ms) is measured by
// BenchmarkCancelStop; the bound here, a second, only catches a hang.
func TestRunCancelStopsSending(t *testing.T) {
	a := &arrivals{}
	srv := httptest.NewServer(a)
	defer srv.Close()
	lastAfter, returnAfter := cancelMidAttack(t, srv, a)
	t.Logf("last request arrived %s after the cancel; Run returned after %s", lastAfter, returnAfter)
	if lastAfter > time.Second || returnAfter > time.Second {
		t.Errorf("after the cancel: last request arrived after %s, Run returned after %s; want both within 1s", lastAfter, returnAfter)
	}
}

// BenchmarkCancelStop measures how soon a canceled stream stops sending
// (the last request the target saw, after the cancel; negative when it
// came before) and returns. The goal is 100 ms.
//
//	go test ./load -run '^$' -bench BenchmarkCancelStop -benchtime 10x
func BenchmarkCancelStop(b *testing.B) {
	a := &arrivals{}
	srv := httptest.NewServer(a)
	defer srv.Close()
	worstLast, worstReturn := time.Duration(math.MinInt64), time.Duration(0)
	for b.Loop() {
		lastAfter, returnAfter := cancelMidAttack(b, srv, a)
		worstLast, worstReturn = max(worstLast, lastAfter), max(worstReturn, returnAfter)
	}
	b.ReportMetric(float64(worstLast.Microseconds()), "worst-last-req-µs")
	b.ReportMetric(float64(worstReturn.Microseconds()), "worst-return-µs")
}
