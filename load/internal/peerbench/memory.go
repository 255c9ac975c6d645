package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// memory runs gameday's attack (the same stream as in peers) at one rate
// for each duration, each in a fresh process, and prints its peak RSS.
func memory(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("memory", flag.ContinueOnError)
	rate := fs.Int("rate", 2000, "requests per second")
	durations := fs.String("durations", "1m,10m", "comma-separated run lengths")
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "peerbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir) //nolint:errcheck // scratch directory
	tg, err := startTarget("")
	if err != nil {
		return err
	}
	defer tg.stop()
	r := &runner{self: self, dir: dir}
	fmt.Fprintf(stdout, "| duration | rate asked | sent | ok | dropped | peak RSS (VmHWM) | cpu-µs/req |\n|---|---|---|---|---|---|---|\n")
	for _, s := range strings.Split(*durations, ",") {
		du, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		t, err := r.attack("gameday", tg.url, *rate, du, "")
		if err != nil {
			return err
		}
		fmt.Fprintln(stderr, t)
		fmt.Fprintf(stdout, "| %s | %d/s | %d | %d | %d | %.1f MiB | %.1f |\n", du, *rate, t.sent, t.ok, t.dropped, float64(t.maxRSS)/1024, t.cpuPerReq())
	}
	return nil
}
