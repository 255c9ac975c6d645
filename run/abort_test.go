package run

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/scenarios"
)

// fixedAnswer is a metrics.Querier that answers every query with the same
// series, or an error.
type fixedAnswer struct {
	series []metrics.Series
	err    error
}

func (a fixedAnswer) Query(context.Context, string, time.Time) ([]metrics.Series, error) {
	return a.series, a.err
}

func (a fixedAnswer) QueryRange(context.Context, string, time.Time, time.Time, time.Duration) ([]metrics.Series, error) {
	return a.series, a.err
}

var _ metrics.Querier = fixedAnswer{}

// TestAbortConditionMeasure: what a condition measures, and when it has
// no data (which is never a trip).
func TestAbortConditionMeasure(t *testing.T) {
	now := time.Date(2026, 11, 28, 9, 15, 10, 0, time.UTC)
	one := func(v float64) []metrics.Series {
		return []metrics.Series{{Labels: map[string]string{}, Points: []metrics.Point{{T: now, V: v}}}}
	}
	ratio := scenarios.Abort{Name: "a", Client: &scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio}, Window: 5 * time.Second}
	tests := []struct {
		name    string
		spec    scenarios.Abort
		results []vegeta.Result // started 1s before now
		q       metrics.Querier
		want    string // measured text; "" for no data
		wantErr bool
	}{
		{"client, no request in the window: no data", ratio, nil, nil, "", false},
		{"client success ratio", ratio, []vegeta.Result{{Code: 200}, {Code: 500, Error: "500 Internal Server Error"}}, nil, "0.5000", false},
		{"client, only canceled requests: no data", ratio, []vegeta.Result{{Code: 0, Error: "canceled by gameday: EOF"}}, nil, "", false},
		{"latency without a success: no data", scenarios.Abort{Client: &scenarios.ClientSLI{SLI: scenarios.SLILatency, Quantile: 0.9}, Window: time.Second},
			[]vegeta.Result{{Code: 0, Error: "connection refused"}}, nil, "", false},
		{"throughput", scenarios.Abort{Client: &scenarios.ClientSLI{SLI: scenarios.SLIThroughput}, Window: 2 * time.Second},
			[]vegeta.Result{{Code: 200}, {Code: 200}, {Code: 200}, {Code: 200}}, nil, "2.0/s", false},
		{"promql, one series", scenarios.Abort{PromQL: "x"}, nil, fixedAnswer{series: one(0.25)}, "0.25", false},
		{"promql, no series: no data", scenarios.Abort{PromQL: "x"}, nil, fixedAnswer{}, "", false},
		{"promql, NaN: no data", scenarios.Abort{PromQL: "x"}, nil, fixedAnswer{series: one(math.NaN())}, "", false},
		{"promql, two series: an error, not a trip", scenarios.Abort{PromQL: "x"}, nil, fixedAnswer{series: append(one(1), one(2)...)}, "", true},
		{"promql, a failed query: an error, not a trip", scenarios.Abort{PromQL: "x"}, nil, fixedAnswer{err: errors.New("down")}, "", true},
	}
	for _, tt := range tests {
		r := &runner{s: &scenarios.Scenario{Checks: scenarios.Checks{Abort: []scenarios.Abort{tt.spec}}}}
		c := r.buildAborts()[0]
		for _, res := range tt.results {
			res.Timestamp, res.Latency = now.Add(-time.Second), 10*time.Millisecond
			c.window.Record("l", "root", &res)
		}
		_, text, ok, err := c.measure(context.Background(), tt.q, now)
		if (err != nil) != tt.wantErr || ok != (tt.want != "") || text != tt.want {
			t.Errorf("%s: measure() = %q, ok %t, err %v; want %q, error %t", tt.name, text, ok, err, tt.want, tt.wantErr)
		}
	}
}
