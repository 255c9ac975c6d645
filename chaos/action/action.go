// Package action injects action faults: the game-day steps no proxy or
// signal can do, such as "call the failover admin API now" (HTTPFault, an
// HTTP request) or "run the backup-restore script" (ExecFault, a command).
// Each fault has an inject action and an optional recover action, and one
// record:
//
//	Inject ──▶ inject action ──ok──▶ [record open] ──▶ Recover ──▶ recover action ──ok──▶ [record closed]
//	                 │                                                    │
//	              failed                                               failed
//	                 ▼                                                    ▼
//	    *Error: result and output,                           *Error, and the record stays open:
//	    no record: nothing to recover                        a later Recover runs it again
//
// Without a recover action, Recover closes the record at once.
//
// A failed inject action opens no record: gameday does not guess what a
// request that got a 500, or a script that exited 1, changed, and does not
// run the recover action for it. The error carries the action's result and
// output, so that the run fails with them visible.
//
// Specs arrive complete and valid from the scenario layer: this package takes
// every value as given and fills in no default of its own.
package action

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gameday/gameday/chaos"
)

// MaxOutput bounds the output kept of one action: the first MaxOutput bytes
// of a command's combined stdout and stderr, or of a response body. Output
// cut there ends with a line that starts with Truncated.
const MaxOutput = 4 << 10

// Truncated starts the line that ends output cut at MaxOutput:
// "[truncated] 5904 more bytes".
const Truncated = "[truncated]"

// RecoverHeader starts the line that separates, in a closed record's Output,
// the inject action's output from the recover action's result and output:
// "--- recover: POST http://db-admin:8080/failback → 200 ---".
const RecoverHeader = "--- recover: "

// Error is the error of an action that failed: it ran and ended other than
// as expected (an unexpected status, a non-zero exit, a timeout, a signal), or
// it could not run (no response at all, no executable). Its message carries
// the result and the bounded output, so that the run's error shows them:
//
//	POST http://127.0.0.1:8080/failover → 500 (3 attempts), want 2xx; output:
//	database is read-only
type Error struct {
	// Action is what was done and how it ended, in the words of
	// chaos.Record.Action: "POST http://127.0.0.1:8080/failover → 500 (3
	// attempts), want 2xx", "exec restore.sh → exit 2 in 1.2s".
	Action string
	// Output is the action's bounded output (see MaxOutput); "" when it had
	// none.
	Output string
	// Err is the cause beyond Action, if there is one: a connection error, a
	// timeout, ctx's error. It is nil for an unexpected status or exit.
	Err error
}

// Error returns Action, then ": " and Err when Err is set, then "; output:"
// and the output on the lines below when there is output.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Action)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Output != "" {
		b.WriteString("; output:\n")
		b.WriteString(strings.TrimSuffix(e.Output, "\n"))
	}
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// act runs one action. It returns what the action did when it succeeded, and
// an *Error when it failed.
type act func(ctx context.Context) (result, error)

// result is what an action that succeeded did.
type result struct {
	action string // with its result: "POST http://127.0.0.1:8080/failover → 200 (2 attempts)"
	output string // bounded by MaxOutput
}

// fault is the Inject/Recover machinery both kinds share: one record, opened
// by a successful inject action and closed by a successful recover action,
// or at once when there is none.
type fault struct {
	name    string
	target  string
	inject  act
	recover act // nil: no recover action

	// sem is held by the running Inject or Recover; it guards rec.
	sem chan struct{}
	// rec is the open record, nil when none.
	rec *chaos.Record
}

// newFault returns the fault named name whose record targets target, with
// the inject action inj and the recover action rcv (nil: none).
func newFault(name, target string, inj, rcv act) fault {
	return fault{name: name, target: target, inject: inj, recover: rcv, sem: make(chan struct{}, 1)}
}

// doInject runs the inject action and opens the record; InjectedAt is when
// the action started.
func (f *fault) doInject(ctx context.Context) ([]chaos.Record, error) {
	if err := f.lock(ctx); err != nil {
		return nil, fmt.Errorf("inject %q: %w", f.name, err)
	}
	defer f.unlock()
	if f.rec != nil {
		return nil, fmt.Errorf("inject %q: already injected: %s", f.name, f.rec.Action)
	}
	at := time.Now()
	res, err := f.inject(ctx)
	if err != nil {
		return nil, fmt.Errorf("inject %q: %w", f.name, err)
	}
	f.rec = &chaos.Record{
		Fault:      f.name,
		Kind:       chaos.KindAction,
		Target:     f.target,
		Action:     res.action,
		InjectedAt: at,
		Output:     res.output,
	}
	return []chaos.Record{*f.rec}, nil
}

// doRecover runs the recover action, if any, and closes the record.
func (f *fault) doRecover(ctx context.Context) ([]chaos.Record, error) {
	if err := f.lock(ctx); err != nil {
		return nil, fmt.Errorf("recover %q: %w", f.name, err)
	}
	defer f.unlock()
	if f.rec == nil {
		return nil, nil
	}
	if f.recover != nil {
		res, err := f.recover(ctx)
		if err != nil {
			return nil, fmt.Errorf("recover %q: %w", f.name, err)
		}
		f.rec.Output = withRecover(f.rec.Output, res)
	}
	f.rec.RecoveredAt = time.Now()
	closed := *f.rec
	f.rec = nil
	return []chaos.Record{closed}, nil
}

func (f *fault) lock(ctx context.Context) error {
	select {
	case f.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fault) unlock() { <-f.sem }

// withRecover appends to the inject action's output a RecoverHeader line
// with the recover action's result, and its output.
func withRecover(output string, res result) string {
	if output != "" && !strings.HasSuffix(output, "\n") {
		output += "\n"
	}
	return output + RecoverHeader + res.action + " ---\n" + res.output
}

// headWriter keeps the first max bytes written to it and counts the rest.
// Its Write never fails, so that a command's output is always drained.
type headWriter struct {
	max     int
	buf     []byte
	dropped int64
}

func (w *headWriter) Write(p []byte) (int, error) {
	n := len(p)
	if room := w.max - len(w.buf); room > 0 {
		k := min(room, len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
	}
	w.dropped += int64(len(p))
	return n, nil
}

// String returns the bytes kept; when some were dropped, it ends them before
// a rune cut in two, and adds a line "[truncated] N more bytes".
func (w *headWriter) String() string {
	if w.dropped == 0 {
		return string(w.buf)
	}
	kept, dropped := w.buf, w.dropped
	for i := len(kept) - 1; i >= 0 && i >= len(kept)-utf8.UTFMax; i-- {
		if utf8.RuneStart(kept[i]) {
			if !utf8.FullRune(kept[i:]) {
				dropped += int64(len(kept) - i)
				kept = kept[:i]
			}
			break
		}
	}
	var b strings.Builder
	b.Write(kept)
	if len(kept) > 0 && kept[len(kept)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString(Truncated + " " + strconv.FormatInt(dropped, 10) + " more bytes")
	return b.String()
}

// roughly formats d for a human: "1.2s", "45ms".
func roughly(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}
