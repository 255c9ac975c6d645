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
	cpu     time.Duration // the generator process's user + system time
	maxRSS  int64         // KiB, the peak (VmHWM) gameday and vegeta-lib report; 0 for the others
}

// sustained reports whether the tool kept the rate asked: within 1 % of
// it, every request a success, nothing dropped.
func (t trial) sustained() bool {
	want := float64(t.rate) * t.du.Seconds()
	return float64(t.sent) >= 0.99*want && t.ok == t.sent && t.dropped == 0
}

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
	return fmt.Sprintf("%s rate %d: sent %d (%.0f/s), ok %d, dropped %d, %.1f cpu-µs/req, max RSS %d KiB",
		t.tool, t.rate, t.sent, t.reqPerSec(), t.ok, t.dropped, t.cpuPerReq(), t.maxRSS)
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
		t.sent, t.ok, t.dropped, t.maxRSS = g.Sent, g.OK, g.Dropped, g.MaxRSSKiB
	case "vegeta-cli":
		defer os.Remove(out)
		err := load.ReadResults(out, func(_, _ string, res *vegeta.Result) error {
			t.sent++
			if res.Error == "" && res.Code >= 200 && res.Code < 400 {
				t.ok++
			}
			return nil
		})
		if err != nil {
			return t, err
		}
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

// search finds the highest rate tool sustains: up from start by a quarter
// each step until a rate fails twice in a row, then two halvings of the
// gap between the last rate sustained and the first that failed.
func (r *runner) search(tool, url string, start int, du time.Duration, cpu string, log io.Writer) (trial, error) {
	try := func(rate int) (trial, bool, error) {
		for range 2 { // one retry: these machines are noisy
			t, err := r.attack(tool, url, rate, du, cpu)
			if err != nil {
				return t, false, err
			}
			fmt.Fprintln(log, "  ", t, map[bool]string{true: "sustained", false: "NOT sustained"}[t.sustained()])
			if t.sustained() {
				return t, true, nil
			}
		}
		return trial{}, false, nil
	}
	var best trial
	rate, failed := start, 0
	for rate <= 200000 {
		t, ok, err := try(rate)
		if err != nil {
			return best, err
		}
		if !ok {
			failed = rate
			break
		}
		best = t
		rate = rate * 5 / 4
	}
	if best.sent == 0 || failed == 0 {
		return best, nil
	}
	lo, hi := best.rate, failed
	for range 2 {
		mid := (lo + hi) / 2
		t, ok, err := try(mid)
		if err != nil {
			return best, err
		}
		if ok {
			best, lo = t, mid
		} else {
			hi = mid
		}
	}
	return best, nil
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
	defer os.RemoveAll(dir)
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
		best := map[string]trial{}
		at := map[string]trial{}
		for _, tool := range openLoop {
			fmt.Fprintf(stderr, " %s: searching\n", tool)
			t, err := r.search(tool, tg.url, *start, *du, genCPU, stderr)
			if err != nil {
				tg.stop()
				return err
			}
			best[tool] = t
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
		fmt.Fprintf(stdout, "| tool | highest rate sustained | cpu-µs/req there | cpu-µs/req at %d/s | gameday ÷ tool (rate) | gameday ÷ tool (cpu/req at the highest) |\n|---|---|---|---|---|---|\n", *common)
		g := best["gameday"]
		for _, tool := range append(openLoop, "wrk") {
			t := best[tool]
			rate := fmt.Sprintf("%d/s", t.rate)
			if tool == "wrk" {
				rate = fmt.Sprintf("%.0f/s (closed loop, -t1 -c64: its maximum)", t.reqPerSec())
			}
			common := "—"
			if c, ok := at[tool]; ok {
				common = fmt.Sprintf("%.1f", c.cpuPerReq())
				if !c.sustained() {
					common += " (not sustained)"
				}
			}
			ratio, cpuRatio := "—", "—"
			if tool != "gameday" && t.reqPerSec() > 0 {
				ratio = fmt.Sprintf("%.2f", g.reqPerSec()/t.reqPerSec())
				cpuRatio = fmt.Sprintf("%.2f", g.cpuPerReq()/t.cpuPerReq())
			}
			fmt.Fprintf(stdout, "| %s | %s | %.1f | %s | %s | %s |\n", tool, rate, t.cpuPerReq(), common, ratio, cpuRatio)
		}
	}
	return nil
}
