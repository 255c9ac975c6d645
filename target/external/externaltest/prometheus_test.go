package externaltest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPrometheusConfig(t *testing.T) {
	got, err := prometheusConfig(250*time.Millisecond, []ScrapeTarget{
		{URL: "http://127.0.0.1:1234/metrics", Labels: map[string]string{"role": "api", "job": "refapp"}},
		// no path: Prometheus's default; a query becomes params
		{URL: "https://127.0.0.1:5678?format=text&x=1&x=2"},
		// a path with a space is written unescaped: Prometheus escapes it
		{URL: "http://[::1]:9/a%20b/metrics"},
	})
	if err != nil {
		t.Fatalf("prometheusConfig: %v", err)
	}
	want := `{
  "global": {
    "scrape_interval": "250ms",
    "scrape_timeout": "250ms",
    "evaluation_interval": "250ms"
  },
  "scrape_configs": [
    {
      "job_name": "target-0",
      "scheme": "http",
      "metrics_path": "/metrics",
      "static_configs": [
        {
          "targets": [
            "127.0.0.1:1234"
          ],
          "labels": {
            "job": "refapp",
            "role": "api"
          }
        }
      ]
    },
    {
      "job_name": "target-1",
      "scheme": "https",
      "metrics_path": "/metrics",
      "params": {
        "format": [
          "text"
        ],
        "x": [
          "1",
          "2"
        ]
      },
      "static_configs": [
        {
          "targets": [
            "127.0.0.1:5678"
          ]
        }
      ]
    },
    {
      "job_name": "target-2",
      "scheme": "http",
      "metrics_path": "/a b/metrics",
      "static_configs": [
        {
          "targets": [
            "[::1]:9"
          ]
        }
      ]
    }
  ]
}
`
	if string(got) != want {
		t.Errorf("prometheusConfig =\n%s\nwant\n%s", got, want)
	}
}

func TestPrometheusConfigRefuses(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		url      string
		want     string // in the error
	}{
		// zero and sub-millisecond intervals cannot be written
		{0, "http://127.0.0.1:1/metrics", "scrape interval 0s: want a positive whole number of milliseconds"},
		{1500 * time.Microsecond, "http://127.0.0.1:1/metrics", "scrape interval 1.5ms: want a positive"},
		// a URL Prometheus cannot scrape as written
		{time.Second, "127.0.0.1:1/metrics", `targets[0].URL "127.0.0.1:1/metrics": `},
		{time.Second, "ftp://127.0.0.1:1/metrics", `scheme "ftp": want http or https`},
		{time.Second, "http:///metrics", "no host"},
		{time.Second, "http://u:p@127.0.0.1:1/metrics", "user information is not supported"},
		{time.Second, "http://127.0.0.1:1/metrics#x", "a fragment is not supported"},
	} {
		_, err := prometheusConfig(tc.interval, []ScrapeTarget{{URL: tc.url}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("prometheusConfig(%v, %q) error = %v; want one containing %q", tc.interval, tc.url, err, tc.want)
		}
	}
}

func TestServersPrometheusScrapes(t *testing.T) {
	var scrapes atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /custom/metrics", func(w http.ResponseWriter, r *http.Request) {
		n := scrapes.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP gameday_test_scrapes_total Scrapes served.\n"+
			"# TYPE gameday_test_scrapes_total counter\n"+
			"gameday_test_scrapes_total %d\n", n)
	})
	backend := httptest.NewServer(mux)
	defer backend.Close()

	started := time.Now()
	base := StartPrometheus(t, 200*time.Millisecond, ScrapeTarget{
		URL:    backend.URL + "/custom/metrics",
		Labels: map[string]string{"role": "api"},
	})
	t.Logf("prometheus ready at %s after %v", base, time.Since(started))

	instance := strings.TrimPrefix(backend.URL, "http://")
	want := map[string]string{"job": "target-0", "instance": instance, "role": "api"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		up, err := instantQuery(base, "up")
		if err != nil {
			t.Fatal(err)
		}
		if len(up) == 1 && up[0].value == "1" {
			if !sameLabels(up[0].labels, want, "__name__") {
				t.Fatalf("up labels = %v; want %v", up[0].labels, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("up = %v after 30s; want one series at 1", up)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	t.Logf("up == 1 after %v", time.Since(started))

	counter, err := instantQuery(base, "gameday_test_scrapes_total")
	if err != nil {
		t.Fatal(err)
	}
	if len(counter) != 1 || !sameLabels(counter[0].labels, want, "__name__") || counter[0].value == "0" {
		t.Errorf("gameday_test_scrapes_total = %v; want one series labelled %v, above 0", counter, want)
	}
	if scrapes.Load() == 0 {
		t.Errorf("backend served no scrape on /custom/metrics")
	}
}

// sample is one element of an instant vector.
type sample struct {
	labels map[string]string
	value  string // as the API writes it
}

func (s sample) String() string { return fmt.Sprintf("%v=%s", s.labels, s.value) }

// instantQuery evaluates query now through Prometheus's HTTP API at base.
func instantQuery(base, query string) ([]sample, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"` // [unix seconds, "value"]
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %q: decode %s answer: %w", query, resp.Status, err)
	}
	if body.Status != "success" || body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: %s: status %q, result type %q, error %q", query, resp.Status, body.Status, body.Data.ResultType, body.Error)
	}
	var out []sample
	for _, r := range body.Data.Result {
		v, ok := r.Value[1].(string)
		if !ok {
			return nil, fmt.Errorf("query %q: value %v is not a string", query, r.Value[1])
		}
		out = append(out, sample{labels: r.Metric, value: v})
	}
	return out, nil
}

// sameLabels reports whether got equals want once the names in ignore are
// removed from got.
func sameLabels(got, want map[string]string, ignore ...string) bool {
	n := 0
	for name, v := range got {
		if slices.Contains(ignore, name) {
			continue
		}
		if want[name] != v {
			return false
		}
		n++
	}
	return n == len(want)
}
