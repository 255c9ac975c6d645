package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/load"
)

// Workers, maximum workers and connections of every tool: Vegeta's
// unbounded default collapses under overload (docs/benchmarks.md).
const workers = 64

// genResult is what one attack reports, as a JSON line.
type genResult struct {
	Sent    uint64 `json:"sent"`
	OK      uint64 `json:"ok"`
	Dropped uint64 `json:"dropped"`
	// MaxRSSKiB is the process's peak resident set (VmHWM), in KiB.
	MaxRSSKiB int64 `json:"maxRSSKiB"`
	// Late is the schedule's share not sent on time (slots.missing).
	Late float64 `json:"late"`
}

// gen runs one attack in this process and prints its genResult.
func gen(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	tool := fs.String("tool", "gameday", "gameday or vegeta-lib")
	url := fs.String("url", "", "the target's base URL")
	rate := fs.Int("rate", 1000, "requests per second")
	du := fs.Duration("duration", 3*time.Second, "how long to attack")
	dir := fs.String("dir", os.TempDir(), "where the results file goes (removed after)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the attack to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close() //nolint:errcheck // StopCPUProfile has written it; a failed close loses a benchmark profile only
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	out := filepath.Join(*dir, fmt.Sprintf("peerbench-%d.gob", os.Getpid()))
	defer os.Remove(out) //nolint:errcheck // scratch file in a temporary directory
	var res genResult
	var err error
	sl := newSlots(time.Now(), *du)
	switch *tool {
	case "gameday":
		res, err = genGameday(*url, *rate, *du, out, sl)
	case "vegeta-lib":
		res, err = genVegetaLib(*url, *rate, *du, out, sl)
	default:
		return fmt.Errorf("unknown tool %q", *tool)
	}
	if err != nil {
		return err
	}
	res.MaxRSSKiB = vmHWM()
	res.Late = sl.missing(*rate)
	return json.NewEncoder(stdout).Encode(res)
}

// benchUsers is how many virtual users gameday's stream signs in.
const benchUsers = 100

// genGameday is a game day's stream: a session of benchUsers virtual users
// logged in before the load (the target answers every request with a
// token), a templated mix sending each request as its user
// ({{.User.Token}}, round robin) and re-logging a user in on a 401, every
// result streamed to a results file, the Prometheus client metrics and a
// live window on.
func genGameday(url string, rate int, du time.Duration, out string, sl *slots) (genResult, error) {
	ss, err := load.SetUp(context.Background(), load.Session{
		Name: "bench", Users: benchUsers,
		Login: load.AuthRequest{URL: "/v1/login", Body: `{"user":"{{.User.Name}}"}`, TokenJSON: "token"},
	}, url)
	if err != nil {
		return genResult{}, err
	}
	defer ss.Close()
	f, err := load.CreateResultsFile(out)
	if err != nil {
		return genResult{}, err
	}
	c, err := load.NewCollector(prometheus.NewRegistry())
	if err != nil {
		return genResult{}, err
	}
	w := load.NewWindow(10*time.Second, "", "")
	auth := map[string]string{"Authorization": "Bearer {{.User.Token}}", "X-Request-Id": "{{.ID}}"}
	sum, err := load.Run(context.Background(), load.Stream{
		Name: "bench", Rate: vegeta.Rate{Freq: rate, Per: time.Second}, Duration: du,
		Timeout: 5 * time.Second, Workers: workers, MaxWorkers: workers, Connections: workers,
		Session: ss,
		Requests: []load.Request{
			{Name: "feed", Weight: 7, URL: "/v1/feed?id={{.ID}}", Header: auth},
			{Name: "post", Weight: 3, Method: "POST", URL: "/v1/posts", Body: `{"text":"post {{.Seq}}"}`, Header: auth},
		},
	}, url, f, c, w, ss, load.SinkFunc(func(_, _ string, r *vegeta.Result) { sl.add(r.Timestamp) }))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return genResult{Sent: sum.Requests, OK: sum.Successes, Dropped: sum.Dropped}, err
}

// genVegetaLib is the bare library: one static target, results encoded to
// a file, the same workers and connections.
func genVegetaLib(url string, rate int, du time.Duration, out string, sl *slots) (genResult, error) {
	f, err := os.Create(out)
	if err != nil {
		return genResult{}, err
	}
	defer f.Close() //nolint:errcheck // Flush reports the write errors that matter here
	bw := bufio.NewWriter(f)
	enc := vegeta.NewEncoder(bw)
	a := vegeta.NewAttacker(vegeta.Workers(workers), vegeta.MaxWorkers(workers),
		vegeta.Connections(workers), vegeta.Timeout(5*time.Second), vegeta.KeepAlive(true))
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: url + "/v1/feed"})
	var res genResult
	for r := range a.Attack(tr, vegeta.Rate{Freq: rate, Per: time.Second}, du, "bench") {
		res.Sent++
		sl.add(r.Timestamp)
		if r.Error == "" && r.Code >= 200 && r.Code < 400 {
			res.OK++
		}
		if err := enc.Encode(r); err != nil {
			return res, err
		}
	}
	return res, bw.Flush()
}

// vmHWM is this process's peak resident set in KiB, from /proc/self/status;
// 0 when unknown.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	var kib int64
	for line := range strings.Lines(string(b)) {
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kib); err == nil {
			return kib
		}
	}
	return 0
}
