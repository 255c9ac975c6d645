package load

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// BenchmarkRun measures the generator against an in-process trivial server
// on loopback (no proxy in the path; the server shares the process, so the
// CPU and allocation figures include it). Each op is one scheduled request at
// 50 000/s, above what 2 cores sustain: req/s is the highest rate reached.
//
//	go test ./load -run '^$' -bench BenchmarkRun -benchtime 3s
func BenchmarkRun(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	static := []Request{
		{Name: "feed", Weight: 7, URL: "/v1/feed"},
		{Name: "post", Weight: 3, Method: "POST", URL: "/v1/posts", Body: `{"text":"hi"}`},
	}
	templated := []Request{
		{Name: "feed", Weight: 7, URL: "{{.Base}}/v1/feed?id={{.ID}}"},
		{Name: "post", Weight: 3, Method: "POST", URL: "/v1/posts", Body: `{"text":"post {{.Seq}}"}`,
			Header: map[string]string{"X-Request-Id": "{{.ID}}"}},
	}
	const rate = 50000
	for _, bc := range []struct {
		name  string
		reqs  []Request
		sinks bool
	}{
		{"static", static, false},
		{"templated+sinks", templated, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var sinks []Sink
			if bc.sinks {
				c, err := NewCollector(prometheus.NewRegistry())
				if err != nil {
					b.Fatal(err)
				}
				f, err := CreateResultsFile(filepath.Join(b.TempDir(), "r.gob"))
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				sinks = []Sink{c, f}
			}
			s := Stream{
				Name:     "bench",
				Rate:     vegeta.Rate{Freq: rate, Per: time.Second},
				Duration: time.Duration(b.N) * time.Second / rate,
				Timeout:  5 * time.Second,
				Requests: bc.reqs,
			}
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			cpu0 := cpuTime(b)
			b.ReportAllocs()
			b.ResetTimer()
			sum, err := Run(context.Background(), s, srv.URL, sinks...)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			cpu := cpuTime(b) - cpu0
			runtime.ReadMemStats(&ms1)
			if sum.Requests == 0 {
				return
			}
			n := float64(sum.Requests)
			b.ReportMetric(n/sum.Elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/req")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/req")
			b.ReportMetric(float64(sum.Successes)/n, "success")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
