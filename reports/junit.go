package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"
)

// JUnit XML, as CI systems read it (the Jenkins/Surefire dialect): one
// test suite for the run, one test case per check and injection (SLO, RTO,
// RPO), a failure for a check that did not pass carrying the measured value,
// the objective and the path of the HTML report, and an error test case
// named "run" when the run was interrupted or aborted.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// junitText is a text element, kept readable as CDATA.
type junitText struct {
	Text string `xml:",cdata"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// seconds renders d as JUnit's time attribute.
func seconds(d time.Duration) string { return strconv.FormatFloat(max(d, 0).Seconds(), 'f', 3, 64) }

// HTMLPath is where the HTML report of r is: in its run directory.
func (r *Report) HTMLPath() string { return path.Join(r.Dir, FileHTML) }

// WriteJUnit writes r as JUnit XML: one test case per check.
func WriteJUnit(w io.Writer, r *Report) error {
	html := r.HTMLPath()
	class := "gameday." + r.Scenario
	var cases []junitCase
	add := func(kind, name string, passed bool, measured, objective, detail, out string) {
		c := junitCase{Name: name, Classname: class + "." + kind, Time: seconds(0), SystemOut: &junitText{Text: out}}
		if !passed {
			msg := fmt.Sprintf("%s %s: measured %s, objective %s", kind, name, orNone(measured), objective)
			text := msg + "\n"
			if detail != "" {
				text += detail + "\n"
			}
			text += "report: " + html + "\n"
			c.Failure = &junitProblem{Message: msg, Type: kind, Text: text}
		}
		cases = append(cases, c)
	}
	for _, c := range r.Checks {
		out := fmt.Sprintf("SLI: %s\nduring: %s (%s)\nsamples: %d\n", c.SLI, strings.Join(c.During, ", "), c.Mode, c.Samples)
		add("slo", c.Name, c.Passed, c.MeasuredText, c.Objective, c.Detail, out)
	}
	for _, c := range r.RTO {
		add("rto", c.label(), c.Passed, c.Measured, c.Objective, c.Detail, fmt.Sprintf("fault: %s\nrecovered means: %s\n", c.Fault, c.Condition))
	}
	for _, c := range r.RPO {
		out := fmt.Sprintf("fault: %s\nwrite probe: %s\n", c.Fault, c.Probe)
		if l := c.Loss; l != nil {
			out += fmt.Sprintf("acknowledged: %d, lost: %d, split brain: %d, unverified: %d\n", l.Acknowledged, l.Lost, l.SplitBrain, l.Unverified)
		}
		add("rpo", c.label(), c.Passed, c.Measured, c.Objective, c.Detail, out)
	}
	errs := 0
	if r.Status == StatusAborted || r.Status == StatusInterrupted {
		errs = 1
		cases = append(cases, junitCase{Name: "run", Classname: class, Time: seconds(r.End.Sub(r.Start)), Error: &junitProblem{
			Message: string(r.Status) + ": " + r.Reason, Type: string(r.Status),
			Text: string(r.Status) + ": " + r.Reason + "\nreport: " + html + "\n",
		}})
	}
	failures := 0
	for _, c := range cases {
		if c.Failure != nil {
			failures++
		}
	}
	total := seconds(r.End.Sub(r.Start))
	doc := junitSuites{
		Name: "gameday " + r.Scenario, Tests: len(cases), Failures: failures, Errors: errs, Time: total,
		Suites: []junitSuite{{
			Name: r.Scenario, Tests: len(cases), Failures: failures, Errors: errs, Time: total,
			Timestamp: r.Start.UTC().Format("2006-01-02T15:04:05"),
			Properties: []junitProperty{
				{Name: "status", Value: string(r.Status)},
				{Name: "run_dir", Value: r.Dir},
				{Name: "report", Value: html},
			},
			Cases: cases,
		}},
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("write junit.xml: %w", err)
	}
	if _, err := io.WriteString(w, xml.Header+string(b)+"\n"); err != nil {
		return fmt.Errorf("write junit.xml: %w", err)
	}
	return nil
}
