package externaltest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// ScrapeTarget is one endpoint for StartPrometheus to scrape.
type ScrapeTarget struct {
	// URL is the metrics endpoint, such as http://127.0.0.1:1234/metrics:
	// scheme, host and port, path (/metrics when empty) and query are all
	// honoured; user information and fragments are refused.
	URL string
	// Labels are attached to every series scraped from URL. A "job" label
	// replaces the job name, which is otherwise "target-N" for the Nth
	// target (from 0); "instance" is the URL's host:port unless set here.
	Labels map[string]string
}

// StartPrometheus starts the Prometheus server named by GAMEDAY_PROMETHEUS on
// 127.0.0.1 with an empty storage under t.TempDir(), scraping each target
// every scrapeInterval (the rule evaluation interval and the scrape timeout
// are the same), and returns its base URL, http://127.0.0.1:PORT, once
// /-/ready answers. The HTTP API is under /api/v1. It is stopped when the
// test ends.
//
// The first scrape comes about 5 s after it is ready (Prometheus hands
// discovered targets to its scrapers every 5 s): wait for up == 1 rather than
// assume it. scrapeInterval must be a positive whole number of milliseconds,
// and every target's URL valid; the test fails otherwise.
//
// It skips the test when the variable is unset or names no file, and fails it
// instead under GAMEDAY_REQUIRE_SERVERS=1.
func StartPrometheus(t testing.TB, scrapeInterval time.Duration, targets ...ScrapeTarget) string {
	t.Helper()
	bin := binary(t, EnvPrometheus)
	config, err := prometheusConfig(scrapeInterval, targets)
	if err != nil {
		t.Fatalf("prometheus: %v", err)
	}
	dir := t.TempDir()
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, config, 0o644); err != nil {
		t.Fatalf("prometheus: write config: %v", err)
	}
	return start(t, prometheusLaunch(bin, configPath, dir))
}

// prometheusLaunch runs the prometheus binary bin with the configuration file
// configPath and a fresh storage under dir for every start.
func prometheusLaunch(bin, configPath, dir string) launch {
	return launch{
		name: "prometheus",
		bin:  bin,
		args: func(port int) []string {
			return []string{
				"--config.file=" + configPath,
				"--storage.tsdb.path=" + filepath.Join(dir, "data-"+strconv.Itoa(port)),
				"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
			}
		},
		readyPath: "/-/ready",
	}
}

// The configuration file's shape, the part of it StartPrometheus writes.
type (
	promConfig struct {
		Global        promGlobal     `json:"global"`
		ScrapeConfigs []scrapeConfig `json:"scrape_configs"`
	}
	promGlobal struct {
		ScrapeInterval     string `json:"scrape_interval"`
		ScrapeTimeout      string `json:"scrape_timeout"`
		EvaluationInterval string `json:"evaluation_interval"`
	}
	scrapeConfig struct {
		JobName       string         `json:"job_name"`
		Scheme        string         `json:"scheme"`
		MetricsPath   string         `json:"metrics_path"`
		Params        url.Values     `json:"params,omitempty"`
		StaticConfigs []staticConfig `json:"static_configs"`
	}
	staticConfig struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels,omitempty"`
	}
)

// prometheusConfig returns a Prometheus configuration file with one job per
// target, or every problem with the arguments. It writes JSON, which is YAML
// too, so that encoding/json quotes every string.
func prometheusConfig(interval time.Duration, targets []ScrapeTarget) ([]byte, error) {
	var problems []error
	if interval <= 0 || interval%time.Millisecond != 0 {
		problems = append(problems, fmt.Errorf("scrape interval %v: want a positive whole number of milliseconds", interval))
	}
	every := fmt.Sprintf("%dms", interval.Milliseconds())
	c := promConfig{
		Global:        promGlobal{ScrapeInterval: every, ScrapeTimeout: every, EvaluationInterval: every},
		ScrapeConfigs: []scrapeConfig{},
	}
	for i, target := range targets {
		u, err := url.Parse(target.URL)
		switch {
		case err != nil:
		case u.Scheme != "http" && u.Scheme != "https":
			err = fmt.Errorf("scheme %q: want http or https", u.Scheme)
		case u.Host == "":
			err = errors.New("no host")
		case u.User != nil:
			err = errors.New("user information is not supported")
		case u.Fragment != "":
			err = errors.New("a fragment is not supported")
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("targets[%d].URL %q: %w", i, target.URL, err))
			continue
		}
		path := u.Path
		if path == "" {
			path = "/metrics"
		}
		job := scrapeConfig{
			JobName:       "target-" + strconv.Itoa(i),
			Scheme:        u.Scheme,
			MetricsPath:   path,
			StaticConfigs: []staticConfig{{Targets: []string{u.Host}, Labels: target.Labels}},
		}
		if u.RawQuery != "" {
			job.Params = u.Query()
		}
		c.ScrapeConfigs = append(c.ScrapeConfigs, job)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return append(b, '\n'), nil
}
