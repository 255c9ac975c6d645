package load

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// slowServer answers every request after delay.
func slowServer(t *testing.T, delay time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(delay)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// goroutinePeak samples runtime.NumGoroutine every millisecond until stop
// is called, which returns the highest count seen.
func goroutinePeak() (stop func() int) {
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if n := int64(runtime.NumGoroutine()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() int {
		close(done)
		wg.Wait()
		return int(peak.Load())
	}
}

// dropCounter is a DropSink that counts drops and results per route, and
// checks the due times it is told.
type dropCounter struct {
	mu      sync.Mutex // guards drops, results, lastDue
	drops   map[string]uint64
	results map[string]uint64
	lastDue time.Time
}

func (c *dropCounter) Record(_, route string, _ *vegeta.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results[route]++
}

func (c *dropCounter) Drop(_, route string, due time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drops[route]++
	if due.After(c.lastDue) {
		c.lastDue = due
	}
}

// perWorkerGoroutines bounds the goroutines one busy worker costs in this
// process: Vegeta's worker, the transport's read and write loops of its
// connection, and the test server's goroutine for that connection.
const perWorkerGoroutines = 4

// TestRunSlowTargetBoundedAndDropped is an open-model stream against a
// target far slower than the rate: 200/s for 2 s, each answer taking 100
// ms, so the schedule wants 20 requests in flight. With MaxWorkers 4 the
// goroutines stay within a bound made of the cap, the hits no worker could
// take are dropped and counted everywhere (the Summary, every DropSink, the
// results file, the metric), and what was sent plus what was dropped is
// exactly what was due. The same stream with 64 workers breaks the bound
// of 4, which shows that the bound measures the cap.
func TestRunSlowTargetBoundedAndDropped(t *testing.T) {
	if testing.Short() {
		t.Skip("4 s of load")
	}
	const (
		rate     = 200
		duration = 2 * time.Second
		due      = rate * 2 // ConstantPacer: hit n is due at (n+1)/rate
		capped   = 4
	)
	srv := slowServer(t, 100*time.Millisecond)
	bound := func(maxWorkers int) int { return perWorkerGoroutines*maxWorkers + 16 }

	for _, tt := range []struct {
		name       string
		maxWorkers int
		// within: the goroutine peak must stay within bound(capped), or must
		// exceed it.
		within bool
	}{
		// The cap holds: hits are dropped instead of workers added.
		{"max workers 4", capped, true},
		// The control: enough workers for the schedule exceed the bound of 4.
		{"max workers 64", 64, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.gob")
			f, err := CreateResultsFile(path)
			if err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			col, err := NewCollector(reg)
			if err != nil {
				t.Fatal(err)
			}
			counter := &dropCounter{drops: map[string]uint64{}, results: map[string]uint64{}}

			base := runtime.NumGoroutine()
			stop := goroutinePeak()
			start := time.Now()
			sum, err := Run(context.Background(), Stream{
				Name: "s", Rate: vegeta.Rate{Freq: rate, Per: time.Second}, Duration: duration,
				Timeout: 5 * time.Second, Workers: min(tt.maxWorkers, 4), MaxWorkers: tt.maxWorkers,
				Requests: []Request{{Name: "slow", Weight: 1, URL: "/slow/{{.Seq}}"}},
			}, srv.URL, f, col, counter)
			peak := stop() - base
			if cerr := f.Close(); cerr != nil {
				t.Fatal(cerr)
			}
			if err != nil {
				t.Fatalf("Run() error: %v", err)
			}
			t.Logf("Run() = %+v; goroutine peak %d above the %d before (bound of %d workers: %d)", sum, peak, base, capped, bound(capped))

			if got := sum.Requests + sum.Dropped; got != due {
				t.Errorf("Run() sent %d + dropped %d = %d; want the %d due", sum.Requests, sum.Dropped, got, due)
			}
			if tt.within {
				if peak > bound(capped) {
					t.Errorf("goroutine peak = %d above the start; want at most %d for %d workers", peak, bound(capped), capped)
				}
				if sum.Dropped == 0 {
					t.Errorf("Run() dropped 0; want drops: 4 workers answer 40/s of the 200/s due")
				}
			} else {
				if peak <= bound(capped) {
					t.Errorf("goroutine peak = %d with %d workers; want above the bound of %d workers (%d): the bound would not see a missing cap", peak, tt.maxWorkers, capped, bound(capped))
				}
				// Enough workers: nothing dropped but what a stall of this
				// machine longer than MaxLateness costs (seen under a load
				// average of 10 on 2 cores: 3 of 400).
				if sum.Dropped > due/50 {
					t.Errorf("Run() dropped %d with %d workers; want at most %d (2 %%)", sum.Dropped, tt.maxWorkers, due/50)
				}
			}
			if rc := sum.Routes["slow"]; rc.Dropped != sum.Dropped || rc.Requests != sum.Requests {
				t.Errorf("Run() route counts = %+v; want the stream's %d requests and %d dropped", rc, sum.Requests, sum.Dropped)
			}

			counter.mu.Lock()
			if counter.drops["slow"] != sum.Dropped || counter.results["slow"] != sum.Requests {
				t.Errorf("DropSink told %d drops and %d results; want %d and %d", counter.drops["slow"], counter.results["slow"], sum.Dropped, sum.Requests)
			}
			if sum.Dropped > 0 && (counter.lastDue.Before(start) || counter.lastDue.After(start.Add(duration+50*time.Millisecond))) {
				t.Errorf("last drop due at %s after the start; want within the %s stream", counter.lastDue.Sub(start), duration)
			}
			counter.mu.Unlock()

			var fileResults, fileDrops uint64
			err = ReadResults(path, func(stream, route string, r *vegeta.Result) error {
				if stream != "s" || route != "slow" {
					t.Errorf("results file record of %s/%s; want s/slow", stream, route)
				}
				switch Outcome(r) {
				case OutcomeDropped:
					fileDrops++
				case OutcomeSuccess:
					fileResults++
				default:
					t.Errorf("results file record %+v: outcome %s; want success or dropped", r, Outcome(r))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fileResults != sum.Requests || fileDrops != sum.Dropped {
				t.Errorf("results file holds %d results and %d drops; want %d and %d", fileResults, fileDrops, sum.Requests, sum.Dropped)
			}
			if got := gather(t, reg)["gameday_dropped_total"]["route=slow,stream=s"]; uint64(got) != sum.Dropped {
				t.Errorf("gameday_dropped_total{stream=s,route=slow} = %g; want %d", got, sum.Dropped)
			}
		})
	}
}
