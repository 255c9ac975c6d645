package local

import (
	"context"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/load"
)

// BenchmarkGatewayThroughput measures, in one run, what the whole local
// topology sustains through the gateway (every edge through Toxiproxy, all
// processes on the same 2 cores as the load): cached feed reads, and post
// writes with the store in async and in sync replication. Each op is one
// request offered at a rate above what the system sustains, with 64
// workers: req/s is the throughput reached, ok the fraction of 2xx answers.
// The gateway's per-client rate limit is off.
//
//	make bench-refapp
func BenchmarkGatewayThroughput(b *testing.B) {
	noLimit := map[string][]string{"gateway": {"--rate-limit=0"}}
	feed := []load.Request{{Name: "feed", Weight: 1, URL: "/v1/feed?limit=20"}}
	post := []load.Request{{Name: "post", Weight: 1, Method: "POST", URL: "/v1/posts", Body: `{"text":"bench {{.Seq}}"}`,
		Header: map[string]string{"Authorization": "Bearer {{.Token}}", "Content-Type": "application/json"}}}
	for _, bc := range []struct {
		name        string
		replication string
		reqs        []load.Request
	}{
		{"feed-cached", "async", feed},
		{"posts-async", "async", post},
		{"posts-sync", "sync", post},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tg := startTopology(b, Refapp{APIReplicas: 3, Replication: bc.replication, RestartDelay: time.Second, ExtraArgs: noLimit})
			const rate = 20000
			s := load.Stream{
				Name: "bench", Rate: vegeta.Rate{Freq: rate, Per: time.Second},
				Duration: time.Duration(b.N) * time.Second / rate, Timeout: 5 * time.Second,
				Workers: 64, MaxWorkers: 64, Connections: 64, Token: tg.Token, Requests: bc.reqs,
			}
			b.ResetTimer()
			sum, err := load.Run(context.Background(), s, tg.BaseURL)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if sum.Requests == 0 {
				return
			}
			b.ReportMetric(float64(sum.Requests)/sum.Elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(sum.Successes)/float64(sum.Requests), "ok")
		})
	}
}
