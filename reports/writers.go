package reports

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriterFunc renders a report in one format.
type WriterFunc func(w io.Writer, r *Report) error

// Format is one report format: the name `gameday report --format` takes,
// the file it is written to in the run directory, and its writer.
type Format struct {
	Name  string
	File  string
	Write WriterFunc
}

// The files of the report formats in a run directory.
const (
	FileJSON     = "report.json"
	FileMarkdown = "report.md"
	FileJUnit    = "junit.xml"
	FileHTML     = "report.html"
)

// Formats returns the table of report formats, in the order a run writes
// them. Adding a format is one writer file and one row here.
func Formats() []Format {
	return []Format{
		{Name: "json", File: FileJSON, Write: WriteJSON},
		{Name: "md", File: FileMarkdown, Write: WriteMarkdown},
		{Name: "junit", File: FileJUnit, Write: WriteJUnit},
		{Name: "html", File: FileHTML, Write: WriteHTML},
	}
}

// FormatNames returns the names of the formats, comma-separated, for help
// texts and errors.
func FormatNames() string {
	var names []string
	for _, f := range Formats() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ",")
}

// SelectFormats returns the formats named in a comma-separated list, in
// the table's order; "" and "all" select every format. An unknown name is
// an error that lists the known ones.
func SelectFormats(list string) ([]Format, error) {
	all := Formats()
	if list == "" || list == "all" {
		return all, nil
	}
	var want []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.ContainsFunc(all, func(f Format) bool { return f.Name == name }) {
			return nil, fmt.Errorf("unknown report format %q (want a comma-separated list of %s, or all)", name, FormatNames())
		}
		want = append(want, name)
	}
	var out []Format
	for _, f := range all {
		if slices.Contains(want, f.Name) {
			out = append(out, f)
		}
	}
	return out, nil
}
