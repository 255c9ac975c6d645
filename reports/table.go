package reports

import (
	"fmt"
	"io"
	"strings"
)

// TableWidth is the most columns a line of the verdict table takes.
const TableWidth = 100

// cut shortens s to at most n runes, ending in "…" when it was cut, and
// puts any line break on one line.
func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// wrap breaks s into lines of at most width runes at spaces (a word
// longer than a line stays whole), each after the first starting with
// indent, and ends it with a newline.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		n := len([]rune(word))
		switch {
		case i == 0:
		case line+1+n > width:
			b.WriteString("\n" + indent)
			line = len(indent)
		default:
			b.WriteString(" ")
			line++
		}
		if i == 0 && strings.HasPrefix(s, " ") {
			lead := len(s) - len(strings.TrimLeft(s, " "))
			b.WriteString(s[:lead])
			line += lead
		}
		b.WriteString(word)
		line += n
	}
	return b.String() + "\n"
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
	// Every column but the last is as wide as its widest value, up to its
	// cap; the last (the SLI, long PromQL) gets what is left of
	// TableWidth. Cut values end in "…"; the reports have them whole.
	caps := []int{24, 6, 10, 10, 16}
	widths := make([]int, len(rows[0]))
	used := 0
	for i := range caps {
		for _, row := range rows {
			widths[i] = max(widths[i], min(len([]rune(row[i])), caps[i]))
		}
		used += widths[i] + 2
	}
	last := max(TableWidth-used, 12)
	var b strings.Builder
	for _, row := range rows {
		for i, v := range row {
			if i == len(row)-1 {
				b.WriteString(cut(v, last))
				continue
			}
			fmt.Fprintf(&b, "%-*s  ", widths[i], cut(v, widths[i]))
		}
		b.WriteString("\n")
	}
	for _, c := range r.Failed() {
		if c.Detail != "" {
			b.WriteString(wrap("  "+c.Name+": "+c.Detail, TableWidth, "    "))
		}
	}
	for _, c := range r.RTO {
		if !c.Passed && c.Detail != "" {
			b.WriteString(wrap("  "+c.label()+": "+c.Detail, TableWidth, "    "))
		}
	}
	for _, c := range r.RPO {
		if !c.Passed && c.Detail != "" {
			b.WriteString(wrap("  "+c.label()+": "+c.Detail, TableWidth, "    "))
		}
	}
	passed, total := r.Counts()
	fmt.Fprintf(&b, "\n%s: %d of %d checks passed", strings.ToUpper(string(r.Status)), passed, total)
	if r.Reason != "" {
		fmt.Fprintf(&b, " (%s)", r.Reason)
	}
	fmt.Fprintf(&b, "\nreport: %s\n", r.HTMLPath())
	_, err := io.WriteString(w, b.String())
	return err
}
