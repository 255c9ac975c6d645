// Command peerbench measures gameday's load generator against its peers
// (Vegeta's library, the Vegeta CLI, wrk) and its memory over long runs,
// each tool in a process of its own against a target server in another:
//
//	peerbench target                       a fast static 200 server on 127.0.0.1:0; prints its URL
//	peerbench gen -tool T -url U -rate N -duration D
//	                                       one attack by gameday or vegeta-lib; prints a JSON line
//	peerbench peers -vegeta BIN -wrk BIN   the highest rate each tool sustains, pinned and unpinned
//	peerbench memory -rate N -durations 1m,10m
//	                                       gameday's peak RSS for runs of each duration
//
// make bench-peers and make bench-memory run it; docs/benchmarks.md has the
// figures. It is a benchmark tool, not part of gameday.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "peerbench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: peerbench target|gen|peers|memory [flags]")
	}
	switch args[0] {
	case "target":
		return serveTarget(stdout)
	case "gen":
		return gen(args[1:], stdout)
	case "peers":
		return peers(args[1:], stdout, stderr)
	case "memory":
		return memory(args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown command %q", args[0])
}
