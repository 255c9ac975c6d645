package reports

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// offset renders t relative to the start of the load: "+12.3s".
func (r *Report) offset(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := t.Sub(r.Start)
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return sign + d.Round(10*time.Millisecond).String()
}

// mark renders a verdict's outcome.
func mark(passed bool) string {
	if passed {
		return "PASS"
	}
	return "FAIL"
}

// cell escapes a value for a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// WriteMarkdown writes r as a short Markdown summary, fit for a CI step
// summary or a pull-request comment: the verdict of every check, the
// failures' details, one line per stream and fault, and where the full
// report is.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	passed, total := r.Counts()
	fmt.Fprintf(&b, "### gameday `%s`: %s, %d of %d checks passed\n\n", r.Scenario, strings.ToUpper(string(r.Status)), passed, total)
	if r.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", r.Description)
	}
	if r.Proves != "" {
		fmt.Fprintf(&b, "**What it proves:** %s\n\n", r.Proves)
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, "**%s:** %s\n\n", r.Status, r.Reason)
	}
	if total > 0 {
		b.WriteString("| check | kind | result | measured | objective | during |\n|---|---|---|---|---|---|\n")
		for _, c := range r.Checks {
			fmt.Fprintf(&b, "| %s | SLO | %s | %s | %s | %s |\n", cell(c.Name), mark(c.Passed), cell(c.MeasuredText), cell(c.Objective), cell(strings.Join(c.During, ", ")))
		}
		for _, c := range r.RTO {
			fmt.Fprintf(&b, "| %s | RTO | %s | %s | %s | fault %s |\n", cell(c.label()), mark(c.Passed), cell(orNone(c.Measured)), cell(c.Objective), cell(c.Fault))
		}
		for _, c := range r.RPO {
			fmt.Fprintf(&b, "| %s | RPO | %s | %s | %s | fault %s |\n", cell(c.label()), mark(c.Passed), cell(orNone(c.Measured)), cell(c.Objective), cell(c.Fault))
		}
		b.WriteString("\n")
	}
	var details []string
	for _, c := range r.Failed() {
		if c.Detail != "" {
			details = append(details, fmt.Sprintf("- `%s`: %s\n", c.Name, cell(c.Detail)))
		}
	}
	for _, c := range r.RTO {
		if !c.Passed && c.Detail != "" {
			details = append(details, fmt.Sprintf("- `%s`: %s\n", c.label(), cell(c.Detail)))
		}
	}
	for _, c := range r.RPO {
		if !c.Passed && c.Detail != "" {
			details = append(details, fmt.Sprintf("- `%s`: %s\n", c.label(), cell(c.Detail)))
		}
	}
	if len(details) > 0 {
		b.WriteString(strings.Join(details, "") + "\n")
	}
	fmt.Fprintf(&b, "Load from %s for %s:\n", r.Start.UTC().Format(time.RFC3339), r.End.Sub(r.Start).Round(time.Millisecond))
	for _, s := range r.Load {
		line := fmt.Sprintf("- `%s/%s`: %d requests, %.2f%% success, %.1f/s, p99 %s", s.Stream, s.Route, s.Requests, 100*s.SuccessRatio, s.Throughput, ms(s.P99))
		if s.Dropped > 0 {
			line += fmt.Sprintf(" (%d more due, dropped: every worker busy)", s.Dropped)
		}
		b.WriteString(line + "\n")
	}
	for _, f := range r.Faults {
		line := fmt.Sprintf("- fault `%s` on %s: injected %s, recovered %s", f.Name, cell(f.Target), r.offset(f.InjectedAt), r.offset(f.RecoveredAt))
		if f.Error != "" {
			line += ", error: " + cell(f.Error)
		}
		if len(f.Steps) > 0 {
			parts := make([]string, len(f.Steps))
			for i, st := range f.Steps {
				parts[i] = st.Name + " " + since(st.At, f.InjectedAt)
				if st.Detail != "" {
					parts[i] += " (" + st.Detail + ")"
				}
			}
			line += "; " + cell(strings.Join(parts, ", "))
		}
		b.WriteString(line + "\n")
	}
	fmt.Fprintf(&b, "\nFull report: `%s`\n", r.HTMLPath())
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report.md: %w", err)
	}
	return nil
}

// ms renders a latency with a precision fit for a table.
func ms(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// codes renders a status code histogram: "200×412 503×3".
func codes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// label names a check of one injection: "rto-failover", "rto-failover#2"
// for a repeated fault's second injection.
func (c RecoveryCheck) label() string { return injectionLabel(c.Name, c.Injection) }

func (c DataLossCheck) label() string { return injectionLabel(c.Name, c.Injection) }

func injectionLabel(name string, n int) string {
	if n > 1 {
		return fmt.Sprintf("%s#%d", name, n)
	}
	return name
}

// orNone renders a measurement that could not be made.
func orNone(s string) string {
	if s == "" {
		return "no data"
	}
	return s
}

// since renders t relative to the injection t0: "+1.2s"; "—" when zero.
func since(t, t0 time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return "+" + t.Sub(t0).Round(10*time.Millisecond).String()
}
