package deploy

import (
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The documents that define refapp's contract: roles, flags and metrics.
// Other engineers implement the roles to exactly these documents, so the
// manifests and the dashboard are checked against them, not against code.
const (
	architectureDoc = "../ARCHITECTURE.md"
	readmeDoc       = "../README.md"
)

// contract is what the documents say about refapp's command line and
// metrics.
type contract struct {
	// flags maps a role to the flags it accepts, the common ones included.
	flags map[string]map[string]bool
	// metrics maps a metric name to its documented label names.
	metrics map[string]map[string]bool
}

var (
	backquotedFlag   = regexp.MustCompile("`(--[a-z][a-z0-9-]*)")
	backquotedMetric = regexp.MustCompile("`(refapp_[a-z0-9_]+)(?:\\{([a-z_,]+)\\})?`")
	backquotedWord   = regexp.MustCompile("`([a-z_]+)`")
	// "## store — durable, replicated key-value store"
	roleSection = regexp.MustCompile(`^## ([a-z]+) — `)
	// "| `--upstreams` | gateway | (required) | ..."
	readmeFlagRow = regexp.MustCompile("^\\| `(--[a-z][a-z0-9-]*)` \\| ([a-z, ]+) \\|")
	// "| `refapp_http_requests_total` | counter | `role`, `route` |"
	readmeMetricRow = regexp.MustCompile("^\\| `(refapp_[a-z0-9_]+)` \\|[^|]*\\|([^|]*)\\|")
)

var (
	contractOnce sync.Once
	contractVal  contract
	contractErr  error
)

// refappContract parses the documents once per test binary.
func refappContract(t *testing.T) contract {
	t.Helper()
	contractOnce.Do(func() {
		arch, err := os.ReadFile(architectureDoc)
		if err != nil {
			contractErr = err
			return
		}
		readme, err := os.ReadFile(readmeDoc)
		if err != nil {
			contractErr = err
			return
		}
		contractVal = parseContract(string(arch), string(readme))
	})
	if contractErr != nil {
		t.Fatal(contractErr)
	}
	return contractVal
}

// parseContract reads the flags and metrics out of ARCHITECTURE.md and
// README.md:
//   - a role is a "## NAME — ..." section of ARCHITECTURE.md; its flags are
//     the backquoted --flags in that section; the flags of section "Common
//     to every role" belong to every role;
//   - README.md's flag table adds flags by role ("all" for every role);
//   - a metric is a backquoted refapp_* name, with its labels in braces
//     (ARCHITECTURE.md) or in the labels column of README.md's tables.
func parseContract(arch, readme string) contract {
	c := contract{flags: map[string]map[string]bool{}, metrics: map[string]map[string]bool{}}
	common := map[string]bool{}
	section := ""
	for line := range strings.Lines(arch) {
		if strings.HasPrefix(line, "## ") {
			section = ""
			if m := roleSection.FindStringSubmatch(line); m != nil {
				section = m[1]
				c.flags[section] = map[string]bool{}
			} else if strings.HasPrefix(line, "## Common to every role") {
				section = "*"
			}
		}
		for _, m := range backquotedFlag.FindAllStringSubmatch(line, -1) {
			switch section {
			case "":
			case "*":
				common[m[1]] = true
			default:
				c.flags[section][m[1]] = true
			}
		}
		for _, m := range backquotedMetric.FindAllStringSubmatch(line, -1) {
			c.addMetric(m[1], strings.Split(m[2], ","))
		}
	}
	for line := range strings.Lines(readme) {
		if m := readmeFlagRow.FindStringSubmatch(line); m != nil {
			for role := range strings.SplitSeq(m[2], ",") {
				role = strings.TrimSpace(role)
				if role == "all" {
					common[m[1]] = true
				} else if c.flags[role] != nil {
					c.flags[role][m[1]] = true
				}
			}
		}
		if m := readmeMetricRow.FindStringSubmatch(line); m != nil {
			// Only the label names, not the values explained in parentheses.
			labels, _, _ := strings.Cut(m[2], "(")
			var names []string
			for _, l := range backquotedWord.FindAllStringSubmatch(labels, -1) {
				names = append(names, l[1])
			}
			c.addMetric(m[1], names)
			continue
		}
		for _, m := range backquotedMetric.FindAllStringSubmatch(line, -1) {
			c.addMetric(m[1], strings.Split(m[2], ","))
		}
	}
	for role := range c.flags {
		for f := range common {
			c.flags[role][f] = true
		}
	}
	return c
}

func (c contract) addMetric(name string, labels []string) {
	if c.metrics[name] == nil {
		c.metrics[name] = map[string]bool{}
	}
	for _, l := range labels {
		if l = strings.TrimSpace(l); l != "" {
			c.metrics[name][l] = true
		}
	}
}

// metricLabels returns the labels a series of name may carry, and whether
// name is documented. A histogram's _bucket, _sum and _count series are
// documented by its base name; _bucket adds le.
func (c contract) metricLabels(name string) (map[string]bool, bool) {
	if l, ok := c.metrics[name]; ok {
		return l, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		if l, ok := c.metrics[base]; ok {
			out := map[string]bool{}
			for k := range l {
				out[k] = true
			}
			if suffix == "_bucket" {
				out["le"] = true
			}
			return out, true
		}
	}
	return nil, false
}

// TestContractParse guards the parser: if the documents change shape and
// it finds nothing, every check built on it would pass vacuously.
func TestContractParse(t *testing.T) {
	c := refappContract(t)
	roles := []string{"store", "sentinel", "cache", "queue", "worker", "pushmock", "api", "gateway"}
	for _, r := range roles {
		if c.flags[r] == nil {
			t.Errorf("no role %q found in %s", r, architectureDoc)
			continue
		}
		for _, f := range []string{"--role", "--listen", "--instance", "--drain-timeout", "--log-level"} {
			if !c.flags[r][f] {
				t.Errorf("role %s lacks common flag %s", r, f)
			}
		}
	}
	// One flag per source: a role section, the README's table, and one that
	// must not leak into another role.
	for _, tt := range []struct {
		role, flag string
		want       bool
	}{
		{"store", "--data-dir", true},
		{"sentinel", "--client-urls", true},
		{"api", "--jwt-secret-file", true},
		{"gateway", "--upstreams", true},  // README.md flag table
		{"gateway", "--rate-limit", true}, // ARCHITECTURE.md gateway section
		{"api", "--upstreams", false},     // gateway only
		{"cache", "--data-dir", false},    // the cache keeps nothing on disk
		{"store", "--mode-from-ordinal", false},
	} {
		if got := c.flags[tt.role][tt.flag]; got != tt.want {
			t.Errorf("flags[%s][%s] = %v; want %v", tt.role, tt.flag, got, tt.want)
		}
	}
	for _, tt := range []struct {
		metric, label string
	}{
		{"refapp_http_requests_total", "code"},                 // README.md table
		{"refapp_http_request_duration_seconds_bucket", "le"},  // histogram series
		{"refapp_store_writes_total", "result"},                // ARCHITECTURE.md braces
		{"refapp_cache_requests_total", "op"},                  // two labels in braces
		{"refapp_gateway_upstream_requests_total", "upstream"}, // README.md table with values in parentheses
	} {
		labels, ok := c.metricLabels(tt.metric)
		if !ok || !labels[tt.label] {
			t.Errorf("metricLabels(%s) = %v, %v; want documented with label %s", tt.metric, labels, ok, tt.label)
		}
	}
	if labels, _ := c.metricLabels("refapp_gateway_upstream_requests_total"); labels["timeout"] {
		t.Errorf("metricLabels(refapp_gateway_upstream_requests_total) has label timeout, a value")
	}
	if _, ok := c.metricLabels("refapp_store_lag"); ok {
		t.Error("metricLabels(refapp_store_lag) is documented; want not")
	}
}
