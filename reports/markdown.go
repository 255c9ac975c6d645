package reports

import (
	"fmt"
	"io"
	"slices"
	"strconv"
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

	writeRecoveries(&b, r)
	writeDataLoss(&b, r)

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
		writeSteps(&b, r)
	}
	if len(r.Processes) > 0 {
		b.WriteString("\n## Processes\n\n| instance | starts | exits |\n|---|---|---|\n")
		for _, p := range r.Processes {
			fmt.Fprintf(&b, "| %s | %d | %d |\n", p.Instance, p.Starts, p.Exits)
		}
	}
	b.WriteString("\n## Load\n\n| stream | route | requests | success | throughput | p50 | p90 | p99 | max | codes |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Load {
		requests := strconv.Itoa(s.Requests)
		if s.Canceled > 0 {
			requests += fmt.Sprintf(" (%d canceled by gameday)", s.Canceled)
		}
		if s.Dropped > 0 {
			requests += fmt.Sprintf(" (%d more due, dropped: every worker busy)", s.Dropped)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f%% | %.1f/s | %s | %s | %s | %s | %s |\n", cell(s.Stream), cell(s.Route),
			requests, 100*s.SuccessRatio, s.Throughput, ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max), codes(s.Codes))
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

// writeSteps lists, under the faults table, the recovery timeline of each
// fault whose kind watches one (a pod's), each step from the injection:
// "killed +0s, replacement created +30ms (api-7d9f-x2), ...".
func writeSteps(b *strings.Builder, r *Report) {
	first := true
	for _, f := range r.Faults {
		if len(f.Steps) == 0 {
			continue
		}
		if first {
			b.WriteString("\nRecovery steps, from each injection:\n")
			first = false
		}
		parts := make([]string, len(f.Steps))
		for i, st := range f.Steps {
			parts[i] = st.Name + " " + since(st.At, f.InjectedAt)
			if st.Detail != "" {
				parts[i] += " (" + st.Detail + ")"
			}
		}
		fmt.Fprintf(b, "\n- `%s` on %s: %s", f.Name, cell(f.Target), cell(strings.Join(parts, ", ")))
	}
	if !first {
		b.WriteString("\n")
	}
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
	for _, c := range r.RTO {
		rows = append(rows, []string{c.label(), mark(c.Passed), orNone(c.Measured), c.Objective, "fault " + c.Fault, "RTO: " + c.Condition})
	}
	for _, c := range r.RPO {
		sli := "RPO: write probe " + c.Probe
		if l := c.Loss; l != nil {
			sli += fmt.Sprintf(", %d of %d acknowledged writes lost", l.Lost, l.Acknowledged)
		}
		rows = append(rows, []string{c.label(), mark(c.Passed), orNone(c.Measured), c.Objective, "fault " + c.Fault, sli})
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
	for _, c := range r.RTO {
		if !c.Passed && c.Detail != "" {
			fmt.Fprintf(&b, "  %s: %s\n", c.label(), c.Detail)
		}
	}
	for _, c := range r.RPO {
		if !c.Passed && c.Detail != "" {
			fmt.Fprintf(&b, "  %s: %s\n", c.label(), c.Detail)
		}
	}
	passed, total := r.Counts()
	fmt.Fprintf(&b, "\n%s: %d of %d checks passed", strings.ToUpper(string(r.Status)), passed, total)
	if r.Reason != "" {
		fmt.Fprintf(&b, " (%s)", r.Reason)
	}
	fmt.Fprintf(&b, "\nreport: %s\n", r.Dir)
	_, err := io.WriteString(w, b.String())
	return err
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

// writeRecoveries writes the RTO section: per check and injection, the
// fault's timeline (injected, detected, recovered, stable, reverted) and
// the Prometheus view beside the raw one.
func writeRecoveries(b *strings.Builder, r *Report) {
	if len(r.RTO) == 0 {
		return
	}
	b.WriteString("\n## Recovery (RTO)\n\n")
	b.WriteString("| check | fault | result | RTO | objective | injected | detected | recovered | stable | reverted | impact | Prometheus view |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.RTO {
		injected, detected, recovered, stable, reverted, impact, prom := "—", "—", "—", "—", "—", "—", "—"
		if v := c.Recovery; v != nil {
			injected = r.offset(v.Injected)
			detected = since(v.Detected, v.Injected)
			recovered = since(v.RecoveredAt, v.Injected)
			stable = since(v.Stable(), v.Injected)
			reverted = since(v.Reverted, v.Injected)
			impact = v.Impact.Round(time.Millisecond).String()
		}
		if v := c.Prometheus; v != nil {
			prom = "unbounded"
			if v.Recovered {
				prom = v.RTO.String()
			}
			prom += " at " + v.Resolution.String()
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(c.label()), cell(c.Fault), mark(c.Passed),
			orNone(c.Measured), cell(c.Objective), injected, detected, recovered, stable, reverted, impact, prom)
	}
	b.WriteString("\nTimes after *injected* count from the injection. ")
	b.WriteString("Recovered means: ")
	seen := map[string]bool{}
	var conds []string
	for _, c := range r.RTO {
		if !seen[c.Name] {
			seen[c.Name] = true
			conds = append(conds, fmt.Sprintf("`%s`: %s", c.Name, cell(c.Condition)))
		}
	}
	b.WriteString(strings.Join(conds, "; ") + ".\n")
	for _, c := range r.RTO {
		if !c.Passed && c.Detail != "" {
			fmt.Fprintf(b, "\n- `%s`: %s", c.label(), cell(c.Detail))
		}
	}
	b.WriteString("\n")
}

// writeDataLoss writes the RPO section.
func writeDataLoss(b *strings.Builder, r *Report) {
	if len(r.RPO) == 0 {
		return
	}
	b.WriteString("\n## Data loss (RPO)\n\n")
	b.WriteString("| check | fault | result | RPO | objective | acknowledged | lost | lost window | split brain | unverified | replication lag |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.RPO {
		acked, lost, window, split, unverified, lag := "—", "—", "—", "—", "—", "—"
		if l := c.Loss; l != nil {
			acked = fmt.Sprint(l.Acknowledged)
			lost = fmt.Sprint(l.Lost)
			if l.Lost > 0 {
				window = r.offset(l.LostFrom) + " … " + r.offset(l.LostTo)
			}
			split = fmt.Sprint(l.SplitBrain)
			unverified = fmt.Sprint(l.Unverified)
			if l.ReplicationLag != nil {
				lag = strconv.FormatFloat(*l.ReplicationLag, 'g', 6, 64)
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(c.label()), cell(c.Fault), mark(c.Passed),
			orNone(c.Measured), cell(c.Objective), acked, lost, window, split, unverified, lag)
	}
	for _, c := range r.RPO {
		if l := c.Loss; l != nil && l.Lost > 0 {
			ids := l.LostIDs
			more := ""
			if len(ids) > 10 {
				ids, more = ids[:10], fmt.Sprintf(" and %d more", len(l.LostIDs)-10)
			}
			fmt.Fprintf(b, "\n- `%s` lost: %s%s", c.label(), cell(strings.Join(ids, ", ")), more)
		}
		if !c.Passed && c.Detail != "" {
			fmt.Fprintf(b, "\n- `%s`: %s", c.label(), cell(c.Detail))
		}
	}
	b.WriteString("\n")
}
