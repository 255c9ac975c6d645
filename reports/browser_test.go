package reports

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds a headless-capable Chromium: GAMEDAY_CHROMIUM, else the
// Debian package's binary on PATH. Without one the test is skipped, unless
// GAMEDAY_REQUIRE_BROWSER=1 (make test-browser), where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GAMEDAY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GAMEDAY_REQUIRE_BROWSER") == "1" {
		t.Fatal("GAMEDAY_REQUIRE_BROWSER=1 and no chromium on PATH (make browser-tools installs the Debian package)")
	}
	t.Skip("no chromium on PATH: make test-browser installs and runs it")
	return ""
}

// chartState is what the page says of one chart, read through the DOM.
type chartState struct {
	Chart      string   `json:"chart"`
	Drawn      string   `json:"drawn"`
	Points     int      `json:"points"`
	Painted    int      `json:"painted"` // canvas pixels in the first stream's colour
	Height     float64  `json:"height"`  // of the plot area, CSS pixels
	Faults     []string `json:"faults"`
	FaultWidth []int    `json:"faultWidth"`
	Objectives []string `json:"objectives"`
	ObjTop     []int    `json:"objTop"`
	Marks      []string `json:"marks"`
	Phases     []string `json:"phases"`
}

const inspectCharts = `(() => Array.from(document.querySelectorAll('.chart')).map(el => {
  const c = el.querySelector('canvas');
  let painted = 0;
  if (c) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i+3] > 128 && Math.abs(d[i]-0x15) < 40 && Math.abs(d[i+1]-0x65) < 40 && Math.abs(d[i+2]-0xc0) < 40) painted++;
    }
  }
  const over = el.querySelector('.u-over');
  const all = (sel) => Array.from(el.querySelectorAll(sel));
  return {
    chart: el.dataset.chart, drawn: el.dataset.drawn || '', points: +(el.dataset.points || 0), painted,
    height: over ? over.getBoundingClientRect().height : 0,
    faults: all('.fault-window').map(f => f.dataset.fault),
    faultWidth: all('.fault-window').map(f => Math.round(f.getBoundingClientRect().width)),
    objectives: all('.objective-line').map(o => o.dataset.check),
    objTop: all('.objective-line').map(o => Math.round(parseFloat(o.style.top))),
    marks: all('.mark, .rpo-lost').map(m => m.dataset.kind + ':' + m.dataset.check),
    phases: all('.phase').map(p => p.dataset.phase),
  };
}))()`

// browserCase is a report to render and what its charts must show.
type browserCase struct {
	name   string
	report *Report
	// faults are the fault windows of every chart; objectives the
	// objective lines per chart; marks the RTO and RPO marks of every
	// chart; steps the recovery-step marks per fault; phases the shaded
	// phases, in time order; status the page's status.
	faults     []string
	objectives map[string][]string
	marks      []string
	steps      map[string]int
	phases     string
	status     string
}

// TestBrowserHTMLReport renders report.html in headless Chromium over
// file:// (no network), saves a screenshot of each in the test's artifact
// directory, and checks through the DOM that every chart drew its data
// and carries every fault window, every objective of its SLI, the RTO and
// RPO marks, the recovery steps and the phases: for the sample report
// (every kind of mark, and a fault whose injection failed, which has no
// window), and for the report of a real run of the reference backend
// (testdata/run.report.json: a latency toxic, then a process kill).
func TestBrowserHTMLReport(t *testing.T) {
	exe := chromium(t)
	withFailed := sample()
	withFailed.Faults = append(withFailed.Faults, Fault{Name: "never", Error: "inject never: connection refused", InjectedAt: withFailed.Start.Add(5 * time.Second)})
	f, err := os.Open(filepath.Join("testdata", "run.report.json"))
	if err != nil {
		t.Fatal(err)
	}
	real, err := ReadJSON(f)
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	cases := []browserCase{
		{
			name: "sample", report: withFailed,
			faults:     []string{"slow-api-1", "kill-api-2", "kill-pod"},
			objectives: map[string][]string{"throughput": nil, "ratio": {"availability", "empty"}, "latency": {"p99|pipe"}},
			marks:      []string{"rto-detected:api-recovers", "rto-recovered:api-recovers", "rto-detected:slow-recovers", "rpo-lost:no-loss"},
			steps:      map[string]int{"kill-pod": 5},
			phases:     "[warmup fault recovery]",
			status:     "FAILED",
		},
		{
			name: "a real run", report: real,
			faults:     []string{"slow", "kill"},
			objectives: map[string][]string{"throughput": nil, "ratio": {"availability"}, "latency": {"p99"}},
			marks:      []string{"rto-recovered:back"},
			phases:     "[warmup fault between fault recovery]",
			status:     "FAILED",
		},
	}

	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1200, 900),
		chromedp.Flag("proxy-server", "127.0.0.1:9"), // nothing may leave the machine
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkInBrowser(t, bctx, tc) })
	}
}

func checkInBrowser(t *testing.T, bctx context.Context, tc browserCase) {
	page := filepath.Join(t.TempDir(), FileHTML)
	if err := os.WriteFile(page, render(t, WriteHTML, tc.report), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx,
		chromedp.Navigate("file://"+page),
		// The script sets it last: a page whose script threw never does.
		chromedp.WaitVisible(chromedp.CSS(`body[data-charts-ready="true"]`)),
	); err != nil {
		t.Fatalf("render %s: %v", page, err)
	}
	status, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("status")))
	if err != nil {
		t.Fatal(err)
	}
	charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartState](inspectCharts))
	if err != nil {
		t.Fatalf("inspect the charts: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shotPath := filepath.Join(t.ArtifactDir(), "report.png")
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shotPath, len(shot))
	if status != tc.status {
		t.Errorf("#status = %q; want %s", status, tc.status)
	}
	if len(charts) != 3 {
		t.Fatalf("the page has %d charts; want 3 (throughput, ratio, latency)", len(charts))
	}
	for _, c := range charts {
		if c.Drawn != "true" || c.Points == 0 || c.Painted < 50 {
			t.Errorf("chart %s: drawn %q, %d points, %d pixels of the stream's colour; want its data drawn", c.Chart, c.Drawn, c.Points, c.Painted)
		}
		if !slices.Equal(c.Faults, tc.faults) {
			t.Errorf("chart %s: fault windows %v; want %v", c.Chart, c.Faults, tc.faults)
		}
		for i, w := range c.FaultWidth {
			if w < 1 {
				t.Errorf("chart %s: fault window %s is %d px wide; want it drawn", c.Chart, c.Faults[i], w)
			}
		}
		if want := tc.objectives[c.Chart]; !slices.Equal(c.Objectives, want) {
			t.Errorf("chart %s: objective lines %v; want %v", c.Chart, c.Objectives, want)
		}
		for i, top := range c.ObjTop {
			if top < 0 || float64(top) > c.Height {
				t.Errorf("chart %s: objective %s at y=%d, outside the plot (0..%.0f)", c.Chart, c.Objectives[i], top, c.Height)
			}
		}
		for _, m := range tc.marks {
			if !slices.Contains(c.Marks, m) {
				t.Errorf("chart %s: marks %v; want %s among them", c.Chart, c.Marks, m)
			}
		}
		for fault, n := range tc.steps {
			if got := countPrefix(c.Marks, "step:"+fault); got != n {
				t.Errorf("chart %s: %d recovery-step marks of %s; want %d", c.Chart, got, fault, n)
			}
		}
		if got := fmt.Sprint(c.Phases); got != tc.phases {
			t.Errorf("chart %s: phases %s; want %s", c.Chart, got, tc.phases)
		}
	}
}

func countPrefix(ss []string, prefix string) int {
	n := 0
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}
