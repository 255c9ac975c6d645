package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/load"
)

// trial is one attack by one tool at one rate.
type trial struct {
	tool    string
	rate    int // asked; 0 for a closed loop (wrk)
	du      time.Duration
	sent    uint64
	ok      uint64
	dropped uint64
	late    float64       // the schedule's share not sent on time, by 100 ms buckets (see slots)
	cpu     time.Duration // the generator process's user + system time
	maxRSS  int64         // KiB, the peak (VmHWM) gameday and vegeta-lib report; 0 for the others
}

// sustained reports whether the tool kept the rate asked: within 1 % of
// it, every request a success (a hit gameday dropped is one not sent).
func (t trial) sustained() bool {
	want := float64(t.rate) * t.du.Seconds()
	return float64(t.sent) >= 0.99*want && t.ok == t.sent
}

// onTime reports whether the tool also kept the schedule: at most 1 % of
// it missing from its 100 ms buckets (dropped, or sent late in a burst).
func (t trial) onTime() bool { return t.sustained() && t.late <= 0.01 }

// reqPerSec is what was sent per second of the attack.
func (t trial) reqPerSec() float64 { return float64(t.sent) / t.du.Seconds() }

// cpuPerReq is the generator's CPU time per request sent, in µs.
func (t trial) cpuPerReq() float64 {
	if t.sent == 0 {
		return 0
	}
	return float64(t.cpu.Microseconds()) / float64(t.sent)
}

func (t trial) String() string {
	return fmt.Sprintf("%s rate %d: sent %d (%.0f/s), ok %d, dropped %d, late %.2f%%, %.1f cpu-µs/req, max RSS %d KiB",
		t.tool, t.rate, t.sent, t.reqPerSec(), t.ok, t.dropped, 100*t.late, t.cpuPerReq(), t.maxRSS)
}

// runner starts one tool's attack as a process of its own.
type runner struct {
	self, vegeta, wrk string
	dir               string // scratch space for results files
}

// attack runs tool at rate for du against url, on core cpu when not "".
func (r *runner) attack(tool, url string, rate int, du time.Duration, cpu string) (trial, error) {
	t := trial{tool: tool, rate: rate, du: du}
	var argv []string
	out := filepath.Join(r.dir, "vegeta-cli.gob")
	switch tool {
	case "gameday", "vegeta-lib":
		argv = []string{r.self, "gen", "-tool", tool, "-url", url, "-rate", strconv.Itoa(rate), "-duration", du.String(), "-dir", r.dir}
	case "vegeta-cli":
		argv = []string{r.vegeta, "attack", "-rate", strconv.Itoa(rate), "-duration", du.String(),
			"-workers=64", "-max-workers=64", "-connections=64", "-timeout", "5s", "-output", out}
	case "wrk":
		argv = []string{r.wrk, "-t1", "-c64", "-d" + strconv.Itoa(int(du.Seconds())) + "s", url + "/v1/feed"}
	default:
		return t, fmt.Errorf("unknown tool %q", tool)
	}
	if cpu != "" {
		argv = append([]string{"taskset", "-c", cpu}, argv...) // taskset execs: the rusage is the tool's
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if tool == "vegeta-cli" {
		cmd.Stdin = strings.NewReader("GET " + url + "/v1/feed\n")
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return t, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	t.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	// Not ru.Maxrss: Linux counts in it the parent's memory the child
	// shared before its exec (every tool showed this process's 20 MB).
	switch tool {
	case "gameday", "vegeta-lib":
		var g genResult
		if err := json.Unmarshal(stdout.Bytes(), &g); err != nil {
			return t, fmt.Errorf("%s output %q: %w", tool, stdout.String(), err)
		}
		t.sent, t.ok, t.dropped, t.maxRSS, t.late = g.Sent, g.OK, g.Dropped, g.MaxRSSKiB, g.Late
	case "vegeta-cli":
		defer os.Remove(out) //nolint:errcheck // scratch file
		var first time.Time
		err := load.ReadResults(out, func(_, _ string, res *vegeta.Result) error {
			if first.IsZero() || res.Timestamp.Before(first) {
				first = res.Timestamp
			}
			return nil
		})
		if err != nil {
			return t, err
		}
		sl := newSlots(first, du)
		err = load.ReadResults(out, func(_, _ string, res *vegeta.Result) error {
			t.sent++
			if res.Error == "" && res.Code >= 200 && res.Code < 400 {
				t.ok++
			}
			sl.add(res.Timestamp)
			return nil
		})
		if err != nil {
			return t, err
		}
		t.late = sl.missing(rate)
	case "wrk":
		if err := parseWrk(stdout.String(), &t); err != nil {
			return t, err
		}
	}
	return t, nil
}

var (
	wrkTotal  = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(ms|s|m)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads wrk's summary: the requests and the time they took (the
// trial's duration becomes wrk's own), the failures.
func parseWrk(out string, t *trial) error {
	m := wrkTotal.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("wrk output without a total: %q", out)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	d, err := time.ParseDuration(m[2] + m[3])
	if err != nil {
		return fmt.Errorf("wrk duration %q: %w", m[2]+m[3], err)
	}
	t.sent, t.ok, t.du = n, n, d
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		bad, _ := strconv.ParseUint(m[1], 10, 64)
		t.ok -= min(bad, t.ok)
	}
	if m := wrkErrors.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			bad, _ := strconv.ParseUint(s, 10, 64)
			t.ok -= min(bad, t.ok)
		}
	}
	return nil
}

// try runs tool at rate, once more when it fails (these machines are
// noisy), and logs each attack.
func (r *runner) try(tool, url string, rate int, du time.Duration, cpu string, log io.Writer) (trial, bool, error) {
	var t trial
	for range 2 {
		var err error
		if t, err = r.attack(tool, url, rate, du, cpu); err != nil {
			return t, false, err
		}
		fmt.Fprintln(log, "  ", t, map[bool]string{true: "sustained", false: "NOT sustained"}[t.sustained()])
		if t.sustained() {
			return t, true, nil
		}
	}
	return t, false, nil
}

// searchAll finds the highest rate each tool sustains, the tools taking
// turns at each rate so that the machine's moods fall on all alike: up
// from start by a quarter each step until a tool fails a rate twice, then
// two halvings of the gap between its last rate sustained and the first
// that failed. onTime is the highest rate tried that a tool also kept on
// time (trial.onTime).
func (r *runner) searchAll(tools []string, url string, start int, du time.Duration, cpu string, log io.Writer) (best, onTime map[string]trial, err error) {
	best, onTime = map[string]trial{}, map[string]trial{}
	failed := map[string]int{}
	record := func(t trial, ok bool) {
		if ok && t.rate > best[t.tool].rate {
			best[t.tool] = t
		}
		if ok && t.onTime() && t.rate > onTime[t.tool].rate {
			onTime[t.tool] = t
		}
	}
	alive := append([]string(nil), tools...)
	for rate := start; len(alive) > 0 && rate <= 200000; rate = rate * 5 / 4 {
		var next []string
		for _, tool := range alive {
			t, ok, err := r.try(tool, url, rate, du, cpu, log)
			if err != nil {
				return best, onTime, err
			}
			record(t, ok)
			if ok {
				next = append(next, tool)
			} else {
				failed[tool] = rate
			}
		}
		alive = next
	}
	for range 2 {
		for _, tool := range tools {
			lo, hi := best[tool].rate, failed[tool]
			if lo == 0 || hi == 0 || hi-lo < 2 {
				continue
			}
			mid := (lo + hi) / 2
			t, ok, err := r.try(tool, url, mid, du, cpu, log)
			if err != nil {
				return best, onTime, err
			}
			record(t, ok)
			if !ok {
				failed[tool] = mid
			}
		}
	}
	return best, onTime, nil
}

// peers runs every tool against one target, pinned (generator on core 0,
// target on core 1) and unpinned, and prints the tables.
func peers(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	vegetaBin := fs.String("vegeta", "bin/vegeta", "the Vegeta CLI's binary")
	wrkBin := fs.String("wrk", "wrk", "wrk's binary")
	du := fs.Duration("duration", 3*time.Second, "each trial's length")
	start := fs.Int("start", 4000, "the first rate tried")
	common := fs.Int("common", 5000, "a rate every tool sustains, for CPU per request side by side")
	modes := fs.String("modes", "pinned,unpinned", "pinned, unpinned or both")
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
	r := &runner{self: self, vegeta: *vegetaBin, wrk: *wrkBin, dir: dir}
	openLoop := []string{"gameday", "vegeta-lib", "vegeta-cli"}

	for _, mode := range strings.Split(*modes, ",") {
		genCPU, targetCPU := "", ""
		if mode == "pinned" {
			genCPU, targetCPU = "0", "1"
		}
		tg, err := startTarget(targetCPU)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s: target %s\n", mode, tg.url)
		best, onTime, err := r.searchAll(openLoop, tg.url, *start, *du, genCPU, stderr)
		if err != nil {
			tg.stop()
			return err
		}
		at := map[string]trial{}
		for _, tool := range openLoop {
			if at[tool], err = r.attack(tool, tg.url, *common, *du, genCPU); err != nil {
				tg.stop()
				return err
			}
			fmt.Fprintln(stderr, "   at the common rate:", at[tool])
		}
		w, err := r.attack("wrk", tg.url, 0, *du, genCPU)
		tg.stop()
		if err != nil {
			return err
		}
		fmt.Fprintln(stderr, "  ", w)
		best["wrk"] = w

		fmt.Fprintf(stdout, "\n%s (%s trials):\n\n", mode, *du)
		fmt.Fprintf(stdout, "| tool | highest rate sustained | cpu-µs/req there | highest rate on time | cpu-µs/req at %d/s | gameday ÷ tool (sustained) | gameday ÷ tool (on time) | gameday ÷ tool (cpu/req at %d/s) |\n|---|---|---|---|---|---|---|---|\n", *common, *common)
		g, gOn, gAt := best["gameday"], onTime["gameday"], at["gameday"]
		for _, tool := range append(openLoop, "wrk") {
			t := best[tool]
			rate := fmt.Sprintf("%d/s", t.rate)
			on, common := "—", "—"
			if tool == "wrk" {
				rate = fmt.Sprintf("%.0f/s (closed loop, -t1 -c64: its maximum)", t.reqPerSec())
			} else {
				on = fmt.Sprintf("%d/s", onTime[tool].rate)
				c := at[tool]
				common = fmt.Sprintf("%.1f", c.cpuPerReq())
				if !c.sustained() {
					common += " (not sustained)"
				}
			}
			ratio, onRatio, cpuRatio := "—", "—", "—"
			if tool != "gameday" && t.reqPerSec() > 0 {
				ratio = fmt.Sprintf("%.2f", g.reqPerSec()/t.reqPerSec())
				if tool == "wrk" {
					onRatio = fmt.Sprintf("%.2f", float64(gOn.rate)/t.reqPerSec())
					cpuRatio = fmt.Sprintf("%.2f", gAt.cpuPerReq()/t.cpuPerReq())
				} else {
					if onTime[tool].rate > 0 {
						onRatio = fmt.Sprintf("%.2f", float64(gOn.rate)/float64(onTime[tool].rate))
					}
					cpuRatio = fmt.Sprintf("%.2f", gAt.cpuPerReq()/at[tool].cpuPerReq())
				}
			}
			fmt.Fprintf(stdout, "| %s | %s | %.1f | %s | %s | %s | %s | %s |\n", tool, rate, t.cpuPerReq(), on, common, ratio, onRatio, cpuRatio)
		}
	}
	return nil
}

// slots counts sends per 100 ms from an attack's start, to tell whether a
// constant-rate schedule was kept: late hits leave a bucket short and pile
// into a later one; dropped hits leave it short.
type slots struct {
	start time.Time
	n     []atomic.Uint64
}

const slotWidth = 100 * time.Millisecond

func newSlots(start time.Time, du time.Duration) *slots {
	return &slots{start: start, n: make([]atomic.Uint64, int(du/slotWidth)+1)}
}

// add counts a send at t. Safe for concurrent use.
func (s *slots) add(t time.Time) {
	i := int(t.Sub(s.start) / slotWidth)
	if i >= 0 && i < len(s.n) {
		s.n[i].Add(1)
	}
}

// missing is the share of the schedule at rate that the buckets lack: the
// sum over the full buckets (neither the first nor the last, which the
// attack's start and end cut) of what each has fewer than rate/10, over
// what they should hold.
func (s *slots) missing(rate int) float64 {
	want := float64(rate) * slotWidth.Seconds()
	var short, all float64
	for i := 1; i < len(s.n)-1; i++ {
		all += want
		if got := float64(s.n[i].Load()); got < want-1 { // ±1: a bucket's edge
			short += want - got
		}
	}
	if all == 0 {
		return 0
	}
	return short / all
}
