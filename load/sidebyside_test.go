package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// BenchmarkSideBySide compares, in one run and on the same in-process
// loopback target, three ways to send the same constant-rate GET load and
// record every result to a gob file:
//
//   - gameday: load.Run with the results file and the client metrics, as a
//     game day runs it;
//   - vegeta-lib: a bare vegeta.Attacker whose results go to a
//     vegeta.Encoder, with the same worker and connection settings;
//   - vegeta-cli: the Vegeta CLI (`vegeta attack -output FILE`) in a child
//     process, when $VEGETA names its binary (make bench-vegeta builds it).
//
// Each op is one scheduled request. cpu-µs/req counts this process and its
// children, so the target's share is in every figure alike; req/s is the rate
// reached (at 50 000/s, above what 2 cores sustain, it is the maximum).
//
//	make bench-vegeta
func BenchmarkSideBySide(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	const workers = 64 // all three alike, capped: Vegeta's unbounded default collapses under overload
	for _, rate := range []int{5000, 50000} {
		b.Run(fmt.Sprintf("rate=%d/gameday", rate), func(b *testing.B) {
			sideBySide(b, rate, func(dur time.Duration, out string) (uint64, error) {
				f, err := CreateResultsFile(out)
				if err != nil {
					return 0, err
				}
				c, err := NewCollector(prometheus.NewRegistry())
				if err != nil {
					return 0, err
				}
				sum, err := Run(context.Background(), Stream{
					Name: "bench", Rate: vegeta.Rate{Freq: rate, Per: time.Second}, Duration: dur,
					Timeout: 5 * time.Second, Workers: workers, MaxWorkers: workers, Connections: workers,
					Requests: []Request{{Name: "feed", Weight: 1, URL: "/v1/feed"}},
				}, srv.URL, c, f)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				return sum.Requests, err
			})
		})
		b.Run(fmt.Sprintf("rate=%d/vegeta-lib", rate), func(b *testing.B) {
			sideBySide(b, rate, func(dur time.Duration, out string) (uint64, error) {
				f, err := os.Create(out)
				if err != nil {
					return 0, err
				}
				defer f.Close()
				w := bufio.NewWriter(f)
				enc := vegeta.NewEncoder(w)
				a := vegeta.NewAttacker(vegeta.Workers(workers), vegeta.MaxWorkers(workers),
					vegeta.Connections(workers), vegeta.Timeout(5*time.Second), vegeta.KeepAlive(true))
				tr := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: srv.URL + "/v1/feed"})
				var n uint64
				for r := range a.Attack(tr, vegeta.Rate{Freq: rate, Per: time.Second}, dur, "bench") {
					n++
					if err := enc.Encode(r); err != nil {
						return n, err
					}
				}
				return n, w.Flush()
			})
		})
		b.Run(fmt.Sprintf("rate=%d/vegeta-cli", rate), func(b *testing.B) {
			bin := os.Getenv("VEGETA")
			if bin == "" {
				b.Skip("set VEGETA to the Vegeta CLI's binary (make bench-vegeta builds it)")
			}
			sideBySide(b, rate, func(dur time.Duration, out string) (uint64, error) {
				cmd := exec.Command(bin, "attack", "-rate", fmt.Sprint(rate), "-duration", dur.String(),
					"-workers", fmt.Sprint(workers), "-max-workers", fmt.Sprint(workers),
					"-connections", fmt.Sprint(workers), "-timeout", "5s", "-output", out)
				cmd.Stdin = strings.NewReader("GET " + srv.URL + "/v1/feed\n")
				cmd.Stderr = os.Stderr
				if err := cmd.Run(); err != nil {
					return 0, fmt.Errorf("vegeta attack: %w", err)
				}
				return countInFile, nil
			})
		})
	}
}

// countInFile is what an attack returns when the results it wrote must be
// counted in its file, after the measurement.
const countInFile = ^uint64(0)

// sideBySide times attack, which sends b.N requests at rate into the file it
// is given and returns how many results it wrote (or countInFile).
func sideBySide(b *testing.B, rate int, attack func(dur time.Duration, out string) (uint64, error)) {
	out := filepath.Join(b.TempDir(), "results.gob")
	dur := time.Duration(b.N) * time.Second / time.Duration(rate)
	cpu0 := totalCPU(b)
	b.ResetTimer()
	start := time.Now()
	n, err := attack(dur, out)
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := totalCPU(b) - cpu0
	if err != nil {
		b.Fatal(err)
	}
	if n == countInFile {
		n = 0
		if err := ReadResults(out, func(string, string, *vegeta.Result) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		if b.N >= 1000 {
			b.Fatal("no results")
		}
		return // the first, one-request round can end before a request is due
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/req")
}

// totalCPU is the user and system CPU time of this process and of its
// waited-for children.
func totalCPU(b *testing.B) time.Duration {
	var self, children syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		b.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children); err != nil {
		b.Fatal(err)
	}
	return time.Duration(self.Utime.Nano() + self.Stime.Nano() + children.Utime.Nano() + children.Stime.Nano())
}
