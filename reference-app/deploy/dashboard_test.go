package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

const dashboardFile = "grafana/refapp-dashboard.json"

// targetLabels are the labels Prometheus adds to every scraped series:
// instance and job always, namespace and pod from the usual Kubernetes pod
// discovery relabelling. A query may use them on any metric.
var targetLabels = map[string]bool{"instance": true, "job": true, "namespace": true, "pod": true}

// grafanaBuiltins are Grafana's own variables, with a value that makes an
// expression parse.
var grafanaBuiltins = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "1m",
	"__range":         "1h",
}

// requiredMetrics must each appear in some panel: the signals a game day
// watches, one or more per role of ARCHITECTURE.md (and README.md for the
// HTTP metrics every process serves).
var requiredMetrics = []string{
	// gateway: request rate by code, p99 latency, upstreams, ejections,
	// retries, rate limiting
	"refapp_http_requests_total",
	"refapp_http_request_duration_seconds_bucket",
	"refapp_gateway_upstream_up",
	"refapp_gateway_upstream_outstanding",
	"refapp_gateway_ejections_total",
	"refapp_gateway_retries_total",
	"refapp_gateway_rate_limited_total",
	// api: breakers, feed by source, outbox
	"refapp_api_breaker_state",
	"refapp_api_feed_served_total",
	"refapp_api_outbox_pending",
	// store: sequences, lag, epoch, discarded writes; sentinel: failovers
	"refapp_store_last_sequence",
	"refapp_store_applied_sequence",
	"refapp_store_replication_lag_entries",
	"refapp_store_replication_lag_seconds",
	"refapp_store_epoch",
	"refapp_store_discarded_writes_total",
	"refapp_sentinel_failovers_total",
	// cache: hit ratio
	"refapp_cache_requests_total",
	// queue, worker, push
	"refapp_queue_stream_messages",
	"refapp_queue_consumer_pending",
	"refapp_worker_deliveries_total",
	"refapp_push_received_total",
	"refapp_push_duplicates_total",
}

// The parts of Grafana's dashboard model that the checks read. Grafana
// keeps many more fields; they are not decoded.
type (
	dashboard struct {
		UID           string  `json:"uid"`
		Title         string  `json:"title"`
		SchemaVersion int     `json:"schemaVersion"`
		Panels        []panel `json:"panels"`
		Templating    struct {
			List []variable `json:"list"`
		} `json:"templating"`
	}
	panel struct {
		ID         int            `json:"id"`
		Type       string         `json:"type"`
		Title      string         `json:"title"`
		Datasource *datasourceRef `json:"datasource"`
		GridPos    *gridPos       `json:"gridPos"`
		Targets    []target       `json:"targets"`
		Panels     []panel        `json:"panels"` // a collapsed row's
	}
	datasourceRef struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	gridPos struct {
		H, W, X, Y int
	}
	target struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	}
	variable struct {
		Name       string `json:"name"`
		Type       string `json:"type"`
		Query      any    `json:"query"` // a string, or {"query": "..."}
		Definition string `json:"definition"`
	}
)

// varRef finds $name, ${name} and [[name]] in an expression.
var varRef = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// labelValues is the variable query label_values(metric, label).
var labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*(\w+)\s*\)$`)

// checkDashboard returns what is wrong with a dashboard: JSON, layout,
// data sources, and every PromQL expression, which must parse and use only
// documented metrics and labels; and which required metrics no panel shows.
func checkDashboard(data []byte, c contract) []string {
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return []string{fmt.Sprintf("%s: %v", dashboardFile, err)}
	}
	var p problems
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		p.add("dashboard uid %q, title %q, schemaVersion %d: want all set", d.UID, d.Title, d.SchemaVersion)
	}

	// Variables: one Prometheus data source variable; the others' values.
	values := maps.Clone(grafanaBuiltins)
	dsVar := ""
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			if v.Query != "prometheus" {
				p.add("variable %s: data source type %v; want prometheus", v.Name, v.Query)
			}
			dsVar = v.Name
		case "query":
			// Grafana keeps the query twice: as typed and as sent.
			queries := []string{v.Definition}
			switch q := v.Query.(type) {
			case string:
				queries = append(queries, q)
			case map[string]any:
				s, _ := q["query"].(string)
				queries = append(queries, s)
			}
			for _, q := range queries {
				m := labelValues.FindStringSubmatch(q)
				if m == nil {
					p.add("variable %s: query %q; want label_values(METRIC, LABEL)", v.Name, q)
					continue
				}
				checkMetricLabels(c, "variable "+v.Name, m[1], []string{m[2]}, &p)
			}
		}
		values[v.Name] = "refapp"
	}
	if dsVar == "" {
		p.add("no data source variable: panels would be bound to one Grafana's data source uid")
	}

	// Panels, rows' nested panels included.
	var all []panel
	for _, pn := range d.Panels {
		all = append(all, pn)
		all = append(all, pn.Panels...)
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	var placed []panel
	for _, pn := range all {
		where := fmt.Sprintf("panel %d %q", pn.ID, pn.Title)
		if ids[pn.ID] {
			p.add("%s: id used twice", where)
		}
		ids[pn.ID] = true
		if pn.GridPos == nil || pn.GridPos.W < 1 || pn.GridPos.H < 1 || pn.GridPos.X < 0 || pn.GridPos.X+pn.GridPos.W > 24 {
			p.add("%s: gridPos %+v outside the 24-column grid", where, pn.GridPos)
		} else {
			for _, o := range placed {
				if overlap(*o.GridPos, *pn.GridPos) {
					p.add("%s: overlaps panel %d %q", where, o.ID, o.Title)
				}
			}
			placed = append(placed, pn)
		}
		if pn.Type == "row" {
			continue
		}
		wantDS := datasourceRef{Type: "prometheus", UID: "${" + dsVar + "}"}
		if pn.Datasource == nil || *pn.Datasource != wantDS {
			p.add("%s: datasource %+v; want %+v", where, pn.Datasource, wantDS)
		}
		if len(pn.Targets) == 0 {
			p.add("%s: no targets", where)
		}
		refIDs := map[string]bool{}
		for _, t := range pn.Targets {
			tw := fmt.Sprintf("%s target %s", where, t.RefID)
			if t.RefID == "" || refIDs[t.RefID] {
				p.add("%s: empty or repeated refId", tw)
			}
			refIDs[t.RefID] = true
			if t.Datasource == nil || *t.Datasource != wantDS {
				p.add("%s: datasource %+v; want %+v", tw, t.Datasource, wantDS)
			}
			if strings.TrimSpace(t.Expr) == "" {
				p.add("%s: no expr", tw)
				continue
			}
			for _, name := range checkExpr(c, tw, t.Expr, values, &p) {
				used[name] = true
			}
		}
	}
	for _, m := range requiredMetrics {
		if !used[m] {
			p.add("no panel shows %s", m)
		}
	}
	return p
}

func overlap(a, b gridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// checkExpr substitutes the variables of expr, parses it as PromQL and
// checks its metrics and labels against the contract; it returns the metric
// names used.
func checkExpr(c contract, where, expr string, values map[string]string, p *problems) []string {
	unknown := false
	expanded := varRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		v, ok := values[name]
		if !ok {
			p.add("%s: unknown variable %s", where, ref)
			unknown = true
		}
		return v
	})
	if unknown {
		return nil
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expanded)
	if err != nil {
		p.add("%s: %q: %v", where, expr, err)
		return nil
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			if n.Name == "" {
				p.add("%s: a selector without a metric name", where)
				return nil
			}
			names = append(names, n.Name)
			var ls []string
			for _, m := range n.LabelMatchers {
				if m.Name != "__name__" {
					ls = append(ls, m.Name)
				}
			}
			checkMetricLabels(c, where, n.Name, ls, p)
		case *parser.AggregateExpr:
			if n.Without {
				return nil
			}
			// A grouping label must exist on what is aggregated.
			parser.Inspect(n.Expr, func(inner parser.Node, _ []parser.Node) error {
				if vs, ok := inner.(*parser.VectorSelector); ok && vs.Name != "" {
					checkMetricLabels(c, where+" by ("+strings.Join(n.Grouping, ", ")+")", vs.Name, n.Grouping, p)
				}
				return nil
			})
		}
		return nil
	})
	return names
}

// checkMetricLabels: name is a documented metric and every label is one of
// its documented labels or a target label.
func checkMetricLabels(c contract, where, name string, ls []string, p *problems) {
	documented, ok := c.metricLabels(name)
	if !ok {
		p.add("%s: metric %s is not documented in ARCHITECTURE.md or README.md", where, name)
		return
	}
	for _, l := range ls {
		if !documented[l] && !targetLabels[l] {
			p.add("%s: %s has no label %q (documented: %v)", where, name, l, slices.Sorted(maps.Keys(documented)))
		}
	}
}

func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatalf("%s is not valid JSON", dashboardFile)
	}
	for _, p := range checkDashboard(data, refappContract(t)) {
		t.Error(p)
	}
}

// TestDashboardChecksCatch breaks the dashboard one way at a time.
func TestDashboardChecksCatch(t *testing.T) {
	orig, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new string
		want           string
	}{
		{"invalid JSON", `"panels": [`, `"panels": [,`, "invalid character"},
		{"misspelt metric", "refapp_gateway_rate_limited_total", "refapp_gateway_ratelimited_total",
			"metric refapp_gateway_ratelimited_total is not documented"},
		{"required metric gone", "refapp_gateway_rate_limited_total", "refapp_gateway_retries_total",
			"no panel shows refapp_gateway_rate_limited_total"},
		{"undocumented label", "sum by (code) (rate(refapp_http_requests_total", "sum by (status) (rate(refapp_http_requests_total",
			`refapp_http_requests_total has no label "status"`},
		{"undocumented matcher", `refapp_cache_requests_total{result=\"hit\"`, `refapp_cache_requests_total{outcome=\"hit\"`,
			`refapp_cache_requests_total has no label "outcome"`},
		{"bad PromQL", "histogram_quantile(0.99, sum by (le, route)", "histogram_quantile(0.99, sum by (le, route",
			"parse error"},
		{"unknown variable", `namespace=~\"$namespace\"`, `namespace=~\"$ns\"`, "unknown variable $ns"},
		{"panel without datasource", `"datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos"`, `"gridPos"`, "datasource <nil>"},
		{"panel without targets", `"targets": [`, `"targets": [], "x": [`, "no targets"},
		{"duplicate refId", `"refId": "B"`, `"refId": "A"`, "empty or repeated refId"},
		{"overlap", `"x": 8,`, `"x": 4,`, "overlaps panel"},
		{"variable on an unknown metric", "label_values(refapp_http_requests_total, namespace)", "label_values(refapp_requests_total, namespace)",
			"variable namespace: metric refapp_requests_total is not documented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := strings.Replace(string(orig), tt.old, tt.new, 1)
			if broken == string(orig) {
				t.Fatalf("%s has no %q to replace", dashboardFile, tt.old)
			}
			got := checkDashboard([]byte(broken), refappContract(t))
			for _, p := range got {
				if strings.Contains(p, tt.want) {
					return
				}
			}
			t.Errorf("checkDashboard found %q; want a problem containing %q", got, tt.want)
		})
	}
}
