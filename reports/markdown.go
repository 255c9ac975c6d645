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

// WriteMarkdown writes r as a Markdown document, fit for a pull request.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Game day: %s — %s\n\n", r.Scenario, strings.ToUpper(string(r.Status)))
	if r.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", r.Description)
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, "**%s:** %s\n\n", r.Status, r.Reason)
	}
	fmt.Fprintf(&b, "Load from %s for %s. Run directory: `%s`.\n\n",
		r.Start.UTC().Format(time.RFC3339), r.End.Sub(r.Start).Round(time.Millisecond), r.Dir)

	b.WriteString("## Checks\n\n| check | result | SLI | measured | objective | during | mode | detail |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			cell(c.Name), mark(c.Passed), cell("`"+c.SLI+"`"), cell(c.MeasuredText), cell(c.Objective),
			cell(strings.Join(c.During, ", ")), c.Mode, cell(c.Detail))
	}

	b.WriteString("\n## Timeline\n\n| phase | from | to |\n|---|---|---|\n")
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", p.Name, r.offset(p.Start), r.offset(p.End))
	}
	if len(r.Faults) > 0 {
		b.WriteString("\n## Faults\n\n| fault | kind | target | action | injected | recovered | note |\n|---|---|---|---|---|---|---|\n")
		for _, f := range r.Faults {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", cell(f.Name), f.Kind, cell(f.Target),
				cell(f.Action), r.offset(f.InjectedAt), r.offset(f.RecoveredAt), cell(f.Error))
		}
	}
	if len(r.Processes) > 0 {
		b.WriteString("\n## Processes\n\n| instance | starts | exits |\n|---|---|---|\n")
		for _, p := range r.Processes {
			fmt.Fprintf(&b, "| %s | %d | %d |\n", p.Instance, p.Starts, p.Exits)
		}
	}
	b.WriteString("\n## Load\n\n| stream | route | requests | success | throughput | p50 | p90 | p99 | max | codes |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Load {
		fmt.Fprintf(&b, "| %s | %s | %d | %.2f%% | %.1f/s | %s | %s | %s | %s | %s |\n", cell(s.Stream), cell(s.Route),
			s.Requests, 100*s.SuccessRatio, s.Throughput, ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max), codes(s.Codes))
	}
	for _, s := range r.Load {
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "\n- `%s/%s`: %d × %s", s.Stream, s.Route, e.Count, cell(e.Error))
		}
	}
	b.WriteString("\n")
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

// WriteTable writes the verdict table for a terminal: one line per check
// and a closing line with the run's status.
func WriteTable(w io.Writer, r *Report) error {
	rows := [][]string{{"CHECK", "RESULT", "MEASURED", "OBJECTIVE", "DURING", "SLI"}}
	for _, c := range r.Checks {
		rows = append(rows, []string{c.Name, mark(c.Passed), c.MeasuredText, c.Objective, strings.Join(c.During, ","), c.SLI})
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, v := range row[:len(row)-1] {
			widths[i] = max(widths[i], len([]rune(v)))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, v := range row {
			if i == len(row)-1 {
				b.WriteString(v)
				continue
			}
			fmt.Fprintf(&b, "%-*s  ", widths[i], v)
		}
		b.WriteString("\n")
	}
	for _, c := range r.Failed() {
		if c.Detail != "" {
			fmt.Fprintf(&b, "  %s: %s\n", c.Name, c.Detail)
		}
	}
	fmt.Fprintf(&b, "\n%s: %d of %d checks passed", strings.ToUpper(string(r.Status)), len(r.Checks)-len(r.Failed()), len(r.Checks))
	if r.Reason != "" {
		fmt.Fprintf(&b, " (%s)", r.Reason)
	}
	fmt.Fprintf(&b, "\nreport: %s\n", r.Dir)
	_, err := io.WriteString(w, b.String())
	return err
}
