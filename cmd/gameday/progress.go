package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/gameday/gameday/run"
	"github.com/gameday/gameday/rundir"
)

// How often the live view hears of the load: on a terminal its status line
// is redrawn at every status; elsewhere (CI logs) a plain status line is
// printed every plainEvery of the load.
const (
	ttyEvery   = 250 * time.Millisecond
	plainEvery = 5 * time.Second
)

// liveView shows a run as it plays: the events people follow, one a line
// with its offset from the start of the load, and the load's status
// (elapsed / total, rate, success ratio, p99, dropped hits, the faults
// active). On a terminal the status is one line under the events, redrawn
// in place and cleared when the run ends, before the verdict table;
// elsewhere it is a plain line every plainEvery, and nothing the view
// prints holds a control character.
type liveView struct {
	mu     sync.Mutex // guards everything below
	w      io.Writer
	tty    bool
	width  int       // of the terminal; the status line is cut to it
	t0     time.Time // the start of the load; zero before
	active []string  // faults injected and not yet recovered, in injection order
	shown  bool      // a status line is on the screen (tty)
	next   time.Duration
}

// newLiveView returns the view for w; tty says whether w is a terminal
// (see isTerminal).
func newLiveView(w io.Writer, tty bool, width int) *liveView {
	return &liveView{w: w, tty: tty, width: max(width, 40), next: plainEvery}
}

// isTerminal reports whether w is a terminal, and its width (100 when
// unknown). TERM=dumb is no terminal to redraw on.
func isTerminal(w io.Writer, getenv func(string) string) (bool, int) {
	f, ok := w.(*os.File)
	if !ok || getenv("TERM") == "dumb" || !term.IsTerminal(int(f.Fd())) {
		return false, 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width <= 0 {
		width = 100
	}
	return true, width
}

// every is how often the view wants the load's status.
func (v *liveView) every() time.Duration {
	if v.tty {
		return ttyEvery
	}
	return time.Second
}

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[2K"

// event prints e's line, if people follow it, and keeps the active faults.
func (v *liveView) event(e rundir.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Type == rundir.EventLoadStarted {
		v.t0 = e.Time
	}
	switch e.Type {
	case rundir.EventFaultInjected:
		if !slices.Contains(v.active, e.Fault) {
			v.active = append(v.active, e.Fault)
		}
	case rundir.EventFaultRecover:
		v.active = slices.DeleteFunc(v.active, func(f string) bool { return f == e.Fault })
	}
	line, ok := eventLine(e, v.t0)
	if !ok {
		return
	}
	if v.shown {
		io.WriteString(v.w, clearLine) //nolint:errcheck // a terminal that fails to draw loses nothing of the run
		v.shown = false
	}
	fmt.Fprintf(v.w, "  %s\n", plain(line))
}

// live shows s: on a terminal it redraws the status line; elsewhere it
// prints a status line once every plainEvery of the load.
func (v *liveView) live(s run.LiveStatus) {
	v.mu.Lock()
	defer v.mu.Unlock()
	text := v.statusText(s)
	if v.tty {
		io.WriteString(v.w, clearLine+cutRunes(text, v.width-1)) //nolint:errcheck // see event
		v.shown = true
		return
	}
	if s.Elapsed < v.next {
		return
	}
	for v.next <= s.Elapsed {
		v.next += plainEvery
	}
	fmt.Fprintf(v.w, "  %+7.2fs  %s\n", s.Elapsed.Seconds(), plain(text))
}

// done clears the status line, before the verdict table.
func (v *liveView) done() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.shown {
		io.WriteString(v.w, clearLine) //nolint:errcheck // see event
		v.shown = false
	}
}

// statusText is the one-line status: "12.3s/30s  198.0/s  ok 99.50%  p99
// 12.3ms  dropped 0  faults: slow, kill".
func (v *liveView) statusText(s run.LiveStatus) string {
	ratio := "—"
	if !math.IsNaN(s.SuccessRatio) {
		ratio = fmt.Sprintf("%.2f%%", 100*s.SuccessRatio)
	}
	p99 := "—"
	if s.P99 > 0 {
		p99 = s.P99.Round(10 * time.Microsecond).String()
	}
	faults := "none"
	if len(v.active) > 0 {
		faults = strings.Join(v.active, ", ")
	}
	return fmt.Sprintf("%s/%s  %.1f/s  ok %s  p99 %s  sent %d  dropped %d  faults: %s",
		s.Elapsed.Round(100*time.Millisecond), s.Total, s.Rate, ratio, p99, s.Requests, s.Dropped, faults)
}

// plain replaces every control character of s with a space: a line of the
// plain view must not move a cursor or colour a CI log.
func plain(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// cutRunes cuts s to at most n runes.
func cutRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:max(n, 0)])
}

// eventLine is the line of an event people follow during a run, with its
// offset from t0, the start of the load; false for the others.
func eventLine(e rundir.Event, t0 time.Time) (string, bool) {
	offset := "        "
	if !t0.IsZero() {
		offset = fmt.Sprintf("%+7.2fs", e.Time.Sub(t0).Seconds())
	}
	var what string
	switch e.Type {
	case rundir.EventTargetReady:
		what = "target ready at " + e.Attrs["baseURL"]
	case rundir.EventLoadStarted:
		what = "load started"
	case rundir.EventStreamEnded:
		what = "stream " + e.Stream + " finished"
	case rundir.EventLoadFinished:
		what = "load finished"
	case rundir.EventFaultInjected, rundir.EventFaultRecover:
		verb := "injected"
		if e.Type == rundir.EventFaultRecover {
			verb = "recovered"
		}
		for _, r := range e.Records {
			what += fmt.Sprintf("fault %s %s: %s on %s; ", e.Fault, verb, r.Action, r.Target)
		}
		what = strings.TrimSuffix(what, "; ")
	case rundir.EventFaultError:
		what = "fault " + e.Fault + " error: " + e.Message
	case rundir.EventProcessExited:
		what = fmt.Sprintf("process %s (pid %d) exited: %s", e.Instance, e.PID, e.Message)
	case rundir.EventProcessReady:
		if t0.IsZero() {
			return "", false
		}
		what = fmt.Sprintf("process %s (pid %d) ready", e.Instance, e.PID)
	case rundir.EventInterrupted:
		what = "interrupted: " + e.Message
	case rundir.EventRunError:
		what = "error: " + e.Message
	default:
		return "", false
	}
	if what == "" {
		return "", false
	}
	return offset + "  " + what, true
}
