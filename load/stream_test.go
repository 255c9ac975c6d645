package load

import (
	"math"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestShareOf(t *testing.T) {
	tests := []struct {
		rate   vegeta.Rate
		w, sum int
		want   vegeta.Rate
	}{
		{vegeta.Rate{Freq: 100, Per: time.Second}, 7, 10, vegeta.Rate{Freq: 700, Per: 10 * time.Second}},
		{vegeta.Rate{Freq: 100, Per: time.Second}, 3, 10, vegeta.Rate{Freq: 300, Per: 10 * time.Second}},
		// reduced by the common divisor of weight and sum: 2/4 is 1/2
		{vegeta.Rate{Freq: 50, Per: time.Second}, 2, 4, vegeta.Rate{Freq: 50, Per: 2 * time.Second}},
		// a single entry keeps the whole rate
		{vegeta.Rate{Freq: 200, Per: time.Second}, 5, 5, vegeta.Rate{Freq: 200, Per: time.Second}},
		// a third of 1/s is exact, not 0.333/s
		{vegeta.Rate{Freq: 1, Per: time.Second}, 1, 3, vegeta.Rate{Freq: 1, Per: 3 * time.Second}},
	}
	for _, tt := range tests {
		if got := shareOf(tt.rate, tt.w, tt.sum); got != tt.want {
			t.Errorf("shareOf(%v, %d, %d) = %v; want %v", tt.rate, tt.w, tt.sum, got, tt.want)
		}
	}
}

func TestDeriveMaxWorkers(t *testing.T) {
	tests := []struct {
		peak    float64 // per second
		timeout time.Duration
		workers int
		want    int
	}{
		{100, 5 * time.Second, 10, 500},
		{1, time.Second, 10, 10},                             // at least workers
		{10000, 10 * time.Second, 10, DefaultMaxWorkersCap},  // capped
		{math.Inf(1), time.Second, 10, DefaultMaxWorkersCap}, // a ramp without end
		{1.5, 3 * time.Second, 1, 5},                         // 4.5 rounded up
	}
	for _, tt := range tests {
		if got := deriveMaxWorkers(tt.peak, tt.timeout, tt.workers); got != tt.want {
			t.Errorf("deriveMaxWorkers(%g, %s, %d) = %d; want %d", tt.peak, tt.timeout, tt.workers, got, tt.want)
		}
	}
}

func TestPlanDefaults(t *testing.T) {
	s := Stream{
		Name: "mobile",
		Rate: vegeta.Rate{Freq: 100, Per: time.Second},
		Requests: []Request{
			{Name: "feed", Weight: 7, URL: "/v1/feed"},
			{Name: "post", Weight: 3, Method: "POST", URL: "/v1/posts"},
		},
	}
	p, err := s.plan("http://127.0.0.1:1/", "x-")
	if err != nil {
		t.Fatalf("plan() error: %v", err)
	}
	if p.timeout != DefaultTimeout || p.maxBody != DefaultMaxBody {
		t.Errorf("plan() timeout, maxBody = %s, %d; want %s, %d", p.timeout, p.maxBody, DefaultTimeout, DefaultMaxBody)
	}
	// 100/s × 10 s = 1000 workers at most, one pool for both entries; connections for all.
	if p.connections != 1000 {
		t.Errorf("plan() connections = %d; want 1000", p.connections)
	}
	if p.maxWorkers != 1000 {
		t.Errorf("plan() max workers = %d; want 1000, shared by the entries", p.maxWorkers)
	}
	if p.workers != DefaultWorkers {
		t.Errorf("plan() workers = %d; want %d to start with", p.workers, DefaultWorkers)
	}
	want := []struct {
		attack      string
		url, method string
	}{
		{"mobile/feed", "http://127.0.0.1:1/v1/feed", "GET"},
		{"mobile/post", "http://127.0.0.1:1/v1/posts", "POST"},
	}
	for i, w := range want {
		e := p.entries[i]
		if e.attack != w.attack {
			t.Errorf("plan() entry %d = %s; want %s", i, e.attack, w.attack)
		}
		if e.targeter.static.URL != w.url || e.targeter.static.Method != w.method {
			t.Errorf("plan() entry %d target = %s %s; want %s %s", i, e.targeter.static.Method, e.targeter.static.URL, w.method, w.url)
		}
	}
}

func TestPlanRejects(t *testing.T) {
	ok := Stream{
		Name:     "s",
		Rate:     vegeta.Rate{Freq: 10, Per: time.Second},
		Duration: time.Second,
		Requests: []Request{{Name: "r", Weight: 1, URL: "{{.Base}}/x"}},
	}
	tests := []struct {
		name   string
		change func(*Stream)
		base   string
		want   string // in the error
	}{
		{"empty name", func(s *Stream) { s.Name = "" }, "", "name is empty"},
		{"slash in name", func(s *Stream) { s.Name = "a/b" }, "", `name "a/b" contains "/"`},
		{"zero rate", func(s *Stream) { s.Rate = vegeta.Rate{Per: time.Second} }, "", "rate 0/1s is not positive"},
		{"no rate", func(s *Stream) { s.Rate = nil }, "", "rate is missing"},
		{"zero ramp", func(s *Stream) { s.Rate = newRamps(piece{time.Second, 0, 0}) }, "", "peaks at 0 per second, not positive"},
		{"negative duration", func(s *Stream) { s.Duration = -1 }, "", "duration -1ns is negative"},
		{"no requests", func(s *Stream) { s.Requests = nil }, "", "no requests"},
		{"zero weight", func(s *Stream) { s.Requests[0].Weight = 0 }, "", "weight 0 is less than 1"},
		{"duplicate route", func(s *Stream) { s.Requests = append(s.Requests, s.Requests[0]) }, "", `duplicate name "r"`},
		{"relative base", func(s *Stream) {}, "127.0.0.1:80", "not an absolute http(s) URL"},
		{"unparsable template", func(s *Stream) { s.Requests[0].URL = "{{.Base" }, "", "parse url template"},
		{"unknown field", func(s *Stream) { s.Requests[0].Body = "{{.Nope}}" }, "", "can't evaluate field Nope"},
		{"bad header template", func(s *Stream) { s.Requests[0].Header = map[string]string{"x-a": "{{if}}"} }, "", "parse header X-A template"},
		{"URL without base", func(s *Stream) { s.Requests[0].URL = "v1/feed" }, "", `url "v1/feed" is not an absolute http(s) URL`},
		{"bad method", func(s *Stream) { s.Requests[0].Method = "GE T" }, "", "invalid method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			s.Requests = append([]Request(nil), ok.Requests...)
			tt.change(&s)
			base := tt.base
			if base == "" {
				base = "http://127.0.0.1:1"
			}
			_, err := s.plan(base, "x-")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("plan(%q) error = %v; want one containing %q", base, err, tt.want)
			}
		})
	}
}
