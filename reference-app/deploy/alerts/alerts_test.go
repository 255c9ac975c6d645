package alerts_test

// The alerting rules tested the way promtool tests rules: synthetic series
// loaded into a test storage at virtual times (promqltest's load notation),
// every rule evaluated by Prometheus' own rules code at its group's interval
// up to the instant of the check, and the alert's state read then.

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
)

const rulesFile = "refapp-alerts.yaml"

// loadRules parses the rules file with Prometheus' rule parser (strict:
// unknown fields are errors) and returns its group interval and alerting
// rules.
func loadRules(t *testing.T) (time.Duration, []rulefmt.Rule) {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile(rulesFile, false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("parse %s: %v", rulesFile, errs)
	}
	if len(groups.Groups) != 1 {
		t.Fatalf("%s has %d groups; want 1", rulesFile, len(groups.Groups))
	}
	g := groups.Groups[0]
	var out []rulefmt.Rule
	for _, r := range g.Rules {
		if r.Alert == "" {
			t.Fatalf("%s: rule %q is not an alert", rulesFile, r.Record)
		}
		for _, k := range []string{"summary", "description"} {
			if r.Annotations[k] == "" {
				t.Errorf("alert %s has no %s", r.Alert, k)
			}
		}
		if s := r.Labels["severity"]; s != "page" && s != "ticket" {
			t.Errorf("alert %s: severity %q; want page or ticket", r.Alert, s)
		}
		out = append(out, r)
	}
	return time.Duration(g.Interval), out
}

// state evaluates rule on the series of load every interval until at
// (from the start of the series, time 0, or an hour before at), and
// returns its alert state at at (inactive, pending or firing), with the
// annotations of a firing alert.
func state(t *testing.T, rule rulefmt.Rule, interval time.Duration, load string, at time.Duration) (rules.AlertState, labels.Labels) {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	expr, err := p.ParseExpr(rule.Expr)
	if err != nil {
		t.Fatalf("alert %s: %v", rule.Alert, err)
	}
	storage := promqltest.LoadedStorage(t, load)
	t.Cleanup(func() { _ = storage.Close() })
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 1_000_000)
	query := rules.EngineQueryFunc(engine, storage)
	ar := rules.NewAlertingRule(rule.Alert, expr, time.Duration(rule.For), time.Duration(rule.KeepFiringFor),
		labels.FromMap(rule.Labels), labels.FromMap(rule.Annotations), labels.EmptyLabels(), "", false, slog.New(slog.DiscardHandler))
	// Long series: start an hour before the check (every `for` here is
	// shorter), as the state then depends only on the last hour.
	start := max(0, at-time.Hour)
	start -= start % interval
	for ts := start; ts <= at; ts += interval {
		if _, err := ar.Eval(context.Background(), 0, time.Unix(0, 0).UTC().Add(ts), query, nil, 0); err != nil {
			t.Fatalf("alert %s: eval at %v: %v", rule.Alert, ts, err)
		}
	}
	// The rule's own State() needs a rules group's bookkeeping: take the
	// highest state of its alerts.
	st, ann := rules.StateInactive, labels.EmptyLabels()
	for _, a := range ar.ActiveAlerts() {
		if a.State > st {
			st = a.State
		}
		if a.State == rules.StateFiring {
			ann = a.Annotations
		}
	}
	return st, ann
}

// series builds promqltest load text: "load STEP" and the series lines.
func series(step string, lines ...string) string {
	return "load " + step + "\n  " + strings.Join(lines, "\n  ") + "\n"
}

const gw = `role="gateway", method="GET"`

func TestAlertRules(t *testing.T) {
	interval, all := loadRules(t)
	if interval != 15*time.Second {
		t.Errorf("group interval = %v; want 15s", interval)
	}
	byName := map[string]rulefmt.Rule{}
	for _, r := range all {
		byName[r.Alert] = r
	}
	for _, tt := range cases {
		t.Run(tt.alert+"/"+tt.what, func(t *testing.T) {
			rule, ok := byName[tt.alert]
			if !ok {
				t.Fatalf("no alert %s in %s", tt.alert, rulesFile)
			}
			st, ann := state(t, rule, interval, tt.load, tt.at)
			if got := st == rules.StateFiring; got != tt.fires {
				t.Errorf("%s on %q at %v: state %v; want firing %v", tt.alert, tt.what, tt.at, st, tt.fires)
			}
			ann.Range(func(l labels.Label) {
				if strings.Contains(l.Value, "error expanding") || strings.Contains(l.Value, "<no value>") {
					t.Errorf("%s: annotation %s = %q: the template failed", tt.alert, l.Name, l.Value)
				}
			})
		})
	}
	// Every rule has a case that fires it and one that does not.
	for _, r := range all {
		for _, fires := range []bool{true, false} {
			if !slices.ContainsFunc(cases, func(c alertCase) bool { return c.alert == r.Alert && c.fires == fires }) {
				t.Errorf("alert %s has no case where firing is %v", r.Alert, fires)
			}
		}
	}
}

// alertCase is one synthetic series and whether an alert fires on it.
type alertCase struct {
	alert string
	what  string
	load  string
	at    time.Duration
	fires bool
}

var cases = []alertCase{
	// Availability: 100 requests/s, of which 5/s are 503 (4.8 %): fires
	// once that has lasted 5 minutes past the first 5-minute window.
	{"RefappAvailabilityLow", "5 % errors", series("1m",
		`refapp_http_requests_total{`+gw+`, route="GET /v1/feed", code="200"} 0+6000x30`,
		`refapp_http_requests_total{`+gw+`, route="GET /v1/feed", code="503"} 0+300x30`), 15 * time.Minute, true},
	// 0.5 % errors, under the 1 %.
	{"RefappAvailabilityLow", "0.5 % errors", series("1m",
		`refapp_http_requests_total{`+gw+`, route="GET /v1/feed", code="200"} 0+6000x30`,
		`refapp_http_requests_total{`+gw+`, route="GET /v1/feed", code="503"} 0+30x30`), 15 * time.Minute, false},
	// Errors only on the metrics endpoint do not count.
	{"RefappAvailabilityLow", "errors only on /metrics", series("1m",
		`refapp_http_requests_total{`+gw+`, route="GET /v1/feed", code="200"} 0+6000x30`,
		`refapp_http_requests_total{`+gw+`, route="GET /metrics", code="500"} 0+6000x30`), 15 * time.Minute, false},
	// 5 % errors for only 4 minutes: pending, not firing.
	{"RefappAvailabilityLow", "a short burst", series("1m",
		`refapp_http_requests_total{`+gw+`, route="GET /v1/feed", code="200"} 0+6000x30`,
		`refapp_http_requests_total{`+gw+`, route="GET /v1/feed", code="503"} 0x10 0+600x4 2400x16`), 15 * time.Minute, false},

	// Latency: every request between 0.5 s and 1 s: p99 about 0.99 s.
	{"RefappLatencyHigh", "p99 near 1 s", series("1m",
		`refapp_http_request_duration_seconds_bucket{`+gw+`, route="GET /v1/feed", le="0.1"} 0x30`,
		`refapp_http_request_duration_seconds_bucket{`+gw+`, route="GET /v1/feed", le="0.5"} 0x30`,
		`refapp_http_request_duration_seconds_bucket{`+gw+`, route="GET /v1/feed", le="1"} 0+600x30`,
		`refapp_http_request_duration_seconds_bucket{`+gw+`, route="GET /v1/feed", le="+Inf"} 0+600x30`), 20 * time.Minute, true},
	// Every request under 100 ms.
	{"RefappLatencyHigh", "p99 under 100 ms", series("1m",
		`refapp_http_request_duration_seconds_bucket{`+gw+`, route="GET /v1/feed", le="0.1"} 0+600x30`,
		`refapp_http_request_duration_seconds_bucket{`+gw+`, route="GET /v1/feed", le="0.5"} 0+600x30`,
		`refapp_http_request_duration_seconds_bucket{`+gw+`, route="GET /v1/feed", le="1"} 0+600x30`,
		`refapp_http_request_duration_seconds_bucket{`+gw+`, route="GET /v1/feed", le="+Inf"} 0+600x30`), 20 * time.Minute, false},

	// Replication lag: 10 s from minute 5 on.
	{"RefappReplicationLagHigh", "10 s of lag", series("1m",
		`refapp_store_replication_lag_seconds{instance="store-2"} 0x5 10x15`), 10 * time.Minute, true},
	// 2 s of lag, steadily: under the 5 s.
	{"RefappReplicationLagHigh", "2 s of lag", series("1m",
		`refapp_store_replication_lag_seconds{instance="store-2"} 2x20`), 10 * time.Minute, false},
	// A 1-minute spike of 30 s: shorter than the 2 minutes.
	{"RefappReplicationLagHigh", "a spike", series("1m",
		`refapp_store_replication_lag_seconds{instance="store-2"} 0x5 30 0x14`), 10 * time.Minute, false},

	// Queue backlog: growing by 200 a minute to 6000.
	{"RefappQueueBacklogHigh", "a growing backlog", series("1m",
		`refapp_queue_consumer_pending{consumer="push-worker"} 0+200x30`), 30 * time.Minute, true},
	// A large backlog that drains (not growing).
	{"RefappQueueBacklogHigh", "a large backlog draining", series("1m",
		`refapp_queue_consumer_pending{consumer="push-worker"} 6000-100x30`), 30 * time.Minute, false},
	// Growing, but small.
	{"RefappQueueBacklogHigh", "a small backlog", series("1m",
		`refapp_queue_consumer_pending{consumer="push-worker"} 0+10x30`), 30 * time.Minute, false},

	// Backup age: the last backup at time 0, checked 27 h later.
	{"RefappBackupTooOld", "a 27 h old backup", series("1m",
		`refapp_store_backup_last_timestamp_seconds{instance="store-1"} 0x1700`), 27 * time.Hour, true},
	// A backup every minute.
	{"RefappBackupTooOld", "fresh backups", series("1m",
		`refapp_store_backup_last_timestamp_seconds{instance="store-1"} 0+60x1700`), 27 * time.Hour, false},
	// No backup metric at all.
	{"RefappBackupTooOld", "no backup ever", series("1m",
		`refapp_store_last_sequence{instance="store-1"} 0+1x60`), 30 * time.Minute, true},

	// A failed backup at minute 30.
	{"RefappBackupFailing", "a failure", series("1m",
		`refapp_store_backups_total{instance="store-1", result="error"} 0x30 1x30`), 40 * time.Minute, true},
	{"RefappBackupFailing", "no failure", series("1m",
		`refapp_store_backups_total{instance="store-1", result="error"} 0x60`), 40 * time.Minute, false},
}
