package load

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestOutcome(t *testing.T) {
	tests := []struct {
		code uint16
		err  string
		want string
	}{
		{200, "", OutcomeSuccess},
		{204, "", OutcomeSuccess},
		{302, "", OutcomeSuccess}, // redirects are not followed: a 3xx is the answer
		{404, "404 Not Found", OutcomeClientError},
		{429, "429 Too Many Requests", OutcomeClientError},
		{500, "500 Internal Server Error", OutcomeServerError},
		{503, "503 Service Unavailable", OutcomeServerError},
		{0, "dial tcp 127.0.0.1:1: connect: connection refused", OutcomeTransportError},
		{0, "", OutcomeTransportError},
		{200, "context deadline exceeded (Client.Timeout or context cancellation while reading body)", OutcomeTransportError},
		{101, "101 Switching Protocols", OutcomeTransportError},
		{600, "600 ", OutcomeTransportError},
		{0, "canceled by gameday: Get \"http://x/\": load stream stopped", OutcomeCanceled},
		{200, "canceled by gameday: unexpected EOF", OutcomeCanceled},             // the body was cut
		{503, "canceled by gameday: 503 Service Unavailable", OutcomeServerError}, // never marked: a status is the target's answer
		{0, "canceled by gameday", OutcomeTransportError},                         // the mark is the text and ": "
		{0, "Get \"http://x/\": canceled by gameday: x", OutcomeTransportError},   // only a prefix marks
		{0, "dropped by gameday: every worker busy", OutcomeDropped},              // a results file's record of a dropped hit
		{0, "dropped by gameday", OutcomeTransportError},                          // the mark is the text and ": "
	}
	for _, tt := range tests {
		r := &vegeta.Result{Code: tt.code, Error: tt.err}
		if got := Outcome(r); got != tt.want {
			t.Errorf("Outcome(code %d, error %q) = %s; want %s", tt.code, tt.err, got, tt.want)
		}
	}
}

// series is one gathered sample: its labels and value (counter value or
// histogram count).
type series map[string]float64

func gather(t *testing.T, reg *prometheus.Registry) map[string]series {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() error: %v", err)
	}
	out := map[string]series{}
	for _, mf := range mfs {
		s := series{}
		for _, m := range mf.GetMetric() {
			s[labelString(m.GetLabel())] = m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
		out[mf.GetName()] = s
	}
	return out
}

func labelString(lps []*dto.LabelPair) string {
	var parts []string
	for _, lp := range lps {
		parts = append(parts, lp.GetName()+"="+lp.GetValue())
	}
	return strings.Join(parts, ",")
}

func TestCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, err := NewCollector(reg)
	if err != nil {
		t.Fatalf("NewCollector() error: %v", err)
	}
	record := func(route string, code uint16, errText string, n int) {
		for i := range n {
			c.Record("mobile", route, &vegeta.Result{
				Code: code, Error: errText, Latency: 20 * time.Millisecond,
				URL: "http://127.0.0.1:1/v1/posts/" + strings.Repeat("x", i), // never a label
			})
		}
	}
	record("feed", 200, "", 5)
	record("feed", 503, "503 Service Unavailable", 2)
	record("feed", 0, "connection refused", 1)
	record("post", 404, "404 Not Found", 3)
	record("post", 200, "timeout while reading body", 4)
	record("post", 0, "canceled by gameday: read: load stream stopped", 2)
	record("post", 200, "canceled by gameday: unexpected EOF", 1)

	got := gather(t, reg)
	wantRequests := series{
		"code=200,outcome=success,route=feed,stream=mobile":         5,
		"code=503,outcome=server_error,route=feed,stream=mobile":    2,
		"code=0,outcome=transport_error,route=feed,stream=mobile":   1,
		"code=404,outcome=client_error,route=post,stream=mobile":    3,
		"code=200,outcome=transport_error,route=post,stream=mobile": 4,
		"code=0,outcome=canceled,route=post,stream=mobile":          2,
		"code=200,outcome=canceled,route=post,stream=mobile":        1,
	}
	checkSeries(t, "gameday_requests_total", got["gameday_requests_total"], wantRequests)
	checkSeries(t, "gameday_request_duration_seconds", got["gameday_request_duration_seconds"], series{
		"route=feed,stream=mobile": 8,
		"route=post,stream=mobile": 10,
	})

	// A second collector on the same registry is refused, not a panic.
	if _, err := NewCollector(reg); err == nil {
		t.Errorf("NewCollector(same registry) error = nil; want already registered")
	} else if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
		t.Errorf("NewCollector(same registry) error = %v; want an AlreadyRegisteredError", err)
	}
}

func checkSeries(t *testing.T, name string, got, want series) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s has %d series %v; want %d %v", name, len(got), got, len(want), want)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s{%s} = %v (present %t); want %v", name, k, g, ok, w)
		}
	}
}

func BenchmarkCollectorRecord(b *testing.B) {
	c, err := NewCollector(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	r := &vegeta.Result{Code: 200, Latency: 3 * time.Millisecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Record("mobile", "GET /v1/feed", r)
		}
	})
}

// TestMarkCanceled: Run marks as canceled exactly the results without a
// complete response that ended once it had begun cutting.
func TestMarkCanceled(t *testing.T) {
	stop := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)
	before, after := stop.Add(-time.Second), stop.Add(-500*time.Millisecond)
	tests := []struct {
		code    uint16
		err     string
		start   time.Time
		latency time.Duration
		want    string
	}{
		// In flight when the stop came, cut: no response.
		{0, "read: load stream stopped", after, time.Second, OutcomeCanceled},
		// Dialled after the stop: refused by the stopped pool.
		{0, "dial: load stream stopped", stop.Add(time.Millisecond), 0, OutcomeCanceled},
		// A 200 whose body was cut by the stop.
		{200, "unexpected EOF", after, time.Second, OutcomeCanceled},
		// Ended exactly at the stop: cut.
		{0, "EOF", before, time.Second, OutcomeCanceled},
		// The target's timeout, before the stop: its failure.
		{0, "Client.Timeout exceeded", before, 999 * time.Millisecond, OutcomeTransportError},
		// A 503 that arrived after the stop is the target's answer.
		{503, "503 Service Unavailable", after, time.Second, OutcomeServerError},
		// A success after the stop stays a success.
		{200, "", after, time.Second, OutcomeSuccess},
		// A 404 is an answer too.
		{404, "404 Not Found", after, time.Second, OutcomeClientError},
	}
	for _, tt := range tests {
		r := &vegeta.Result{Code: tt.code, Error: tt.err, Timestamp: tt.start, Latency: tt.latency}
		markCanceled(r, stop)
		markCanceled(r, stop) // marking twice is marking once
		if got := Outcome(r); got != tt.want {
			t.Errorf("markCanceled(code %d, error %q, ended %s after the stop): Outcome = %s (error %q); want %s",
				tt.code, tt.err, tt.start.Add(tt.latency).Sub(stop), got, r.Error, tt.want)
		}
		if strings.Count(r.Error, ErrCanceled.Error()) > 1 {
			t.Errorf("markCanceled twice: error %q; want one mark", r.Error)
		}
	}
}
