package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/valyala/fasthttp"
)

// attack is one Run of a stream: its schedule, its pool of workers and
// what they deliver to.
//
// A worker takes the earliest hit due from the schedule, sleeps until it
// is due, renders it, sends it, hands the result to every sink and takes
// the next. The stream starts with its Workers and adds one, up to
// MaxWorkers, whenever a worker begins a request while none is left free to
// take the next hit: so a hit waits for a worker only when all MaxWorkers
// are busy, and then at most MaxLateness (see schedule.take) before it is
// dropped. One timer wake-up per hit and no hand-off between goroutines,
// and the HTTP client writes and reads in the worker's goroutine
// (fasthttp, see newLoadClient): Vegeta's Attacker paces in one goroutine,
// hands each hit to a worker and each result back over channels, copies
// every request and sends it through net/http, whose connections each
// take two goroutines more. This sends the same requests, paced by the
// same Pacers, described by the same Results, for less CPU per request
// (docs/benchmarks.md).
type attack struct {
	p       *streamPlan
	sched   *schedule
	began   time.Time
	client  *fasthttp.Client
	done    <-chan struct{} // closed when Run's context ends
	halt    atomic.Bool     // no hit is taken any more: done is closed or a render failed
	stopAt  atomic.Pointer[time.Time]
	sinks   []Sink
	drops   []DropSink
	counts  []entryCounts
	seqs    []atomic.Uint64 // per entry: the next Result.Seq
	max     int64           // the stream's cap on workers
	workers atomic.Int64    // started
	free    atomic.Int64    // started and not sending
	wg      sync.WaitGroup

	renderOnce sync.Once
	renderErr  error // written once by a worker; read after wg.Wait
	cancel     context.CancelFunc
}

// entryCounts are an entry's counts, kept by its workers.
type entryCounts struct {
	requests, successes, canceled atomic.Uint64
}

// start starts n workers.
func (a *attack) start(n int64) {
	for range min(max(n, 1), a.max) {
		a.spawn()
	}
}

// spawn starts one more worker unless the stream has its maximum.
func (a *attack) spawn() {
	for {
		n := a.workers.Load()
		if n >= a.max {
			return
		}
		if a.workers.CompareAndSwap(n, n+1) {
			break
		}
	}
	a.free.Add(1)
	a.wg.Go(a.work)
}

// work is a worker's loop: take a hit, wait until it is due, send it.
func (a *attack) work() {
	w := newWorker()
	defer w.timer.Stop()
	defer a.free.Add(-1)
	for !a.halt.Load() {
		entry, due, ok, drops := a.sched.take(time.Since(a.began), MaxLateness, w.drops[:0])
		w.drops = drops
		a.tellDrops(drops)
		if !ok || !w.sleepUntil(a.began.Add(due), a.done) {
			return
		}
		if a.free.Add(-1) == 0 {
			a.spawn() // one free worker takes the next hit meanwhile
		}
		a.hit(w, entry)
		a.free.Add(1)
	}
}

// tellDrops tells every DropSink of the hits dropped.
func (a *attack) tellDrops(drops []droppedHit) {
	for _, d := range drops {
		route := a.p.entries[d.entry].route
		for _, ds := range a.drops {
			ds.Drop(a.p.name, route, a.began.Add(d.due))
		}
	}
}

// hit sends entry i's next request and delivers its result.
func (a *attack) hit(w *worker, i int) {
	e := &a.p.entries[i]
	c := &w.c
	if err := e.targeter.next(c); err != nil {
		a.renderOnce.Do(func() { a.renderErr = fmt.Errorf("route %q: %w", e.route, err) })
		a.cancel()
		return
	}
	r := &vegeta.Result{Attack: e.attack, Seq: a.seqs[i].Add(1) - 1, Method: e.targeter.method, URL: c.url}
	r.Timestamp = time.Now()
	err := a.send(w, e.targeter, c, r)
	r.Latency = time.Since(r.Timestamp)
	if err != nil {
		r.Error = err.Error()
	}
	if at := a.stopAt.Load(); at != nil {
		markCanceled(r, *at)
	}
	for _, s := range a.sinks {
		s.Record(a.p.name, e.route, r)
	}
	cnt := &a.counts[i]
	cnt.requests.Add(1)
	switch Outcome(r) {
	case OutcomeSuccess:
		cnt.successes.Add(1)
	case OutcomeCanceled:
		cnt.canceled.Add(1)
	}
}

// send sends c, filling r's code, bytes and body (up to the stream's
// MaxBody). A status below 200 or from 400 is r's Error, as Vegeta has it;
// the error returned is the client's or the body's, described the way
// http.Client does ("Get \"http://…\": …"). The response headers are
// recorded for such a failed status only (a 429's Retry-After): for a
// success they would cost allocations on every request.
func (a *attack) send(w *worker, t *targeter, c *composed, r *vegeta.Result) error {
	req, resp := w.req, w.resp
	req.Reset()
	req.Header.SetNoDefaultContentType(true) // send what the scenario says, as net/http does
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(c.target)
	for _, h := range t.pairs {
		req.Header.Set(h.key, h.value)
	}
	for i := range t.headerTmpl {
		req.Header.Set(t.headerTmpl[i].key, c.hvals[i])
	}
	if len(c.body) > 0 {
		req.SetBodyRaw(c.body)
		r.BytesOut = uint64(len(c.body))
	}
	err := a.client.DoTimeout(req, resp, a.p.timeout)
	if err != nil {
		return urlError(r.Method, c.target, err)
	}
	if r.Code = uint16(resp.StatusCode()); r.Code < 200 || r.Code >= 400 { //nolint:gosec // G115: a status has 3 digits
		r.Error = statusText(resp.StatusCode())
		r.Headers = make(http.Header)
		for k, v := range resp.Header.All() {
			r.Headers.Add(string(k), string(v))
		}
	}
	var kept, n int64
	if body := resp.BodyStream(); body != nil {
		kept, n, err = w.readBody(body, a.p.maxBody)
		if cerr := resp.CloseBodyStream(); err == nil {
			err = cerr
		}
	} else { // no body, or one fasthttp read whole (it streams only what it has not)
		b := resp.Body()
		n = int64(len(b))
		if a.p.maxBody >= 0 && int64(len(b)) > a.p.maxBody {
			b = b[:a.p.maxBody]
		}
		w.buf, kept = append(w.buf[:0], b...), int64(len(b))
	}
	r.BytesIn = uint64(n) //nolint:gosec // G115: a count of bytes
	if kept > 0 {
		r.Body = append([]byte(nil), w.buf[:kept]...)
	}
	if err != nil {
		return urlError(r.Method, c.target, err)
	}
	return nil
}

// statusText is a status line's text as net/http has it, such as
// "503 Service Unavailable".
func statusText(code int) string {
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// urlError describes err the way http.Client does: "Get \"http://…\": …",
// in its words where fasthttp has its own.
func urlError(method, target string, err error) error {
	op := method
	if len(op) > 1 {
		op = op[:1] + strings.ToLower(op[1:])
	}
	switch {
	case errors.Is(err, fasthttp.ErrConnectionClosed):
		err = errClosedBeforeAnswer
	case errors.Is(err, fasthttp.ErrTimeout):
		err = errTimeout
	}
	return &url.Error{Op: op, URL: target, Err: err}
}

var (
	// errClosedBeforeAnswer is fasthttp.ErrConnectionClosed without its
	// advice to the target's authors.
	errClosedBeforeAnswer = errors.New("the target closed the connection before answering (EOF)")
	// errTimeout is a request that passed the stream's Timeout.
	errTimeout = errors.New("timeout exceeded")
)

// worker is what one worker reuses from hit to hit.
type worker struct {
	timer *time.Timer
	drops []droppedHit
	c     composed
	req   *fasthttp.Request
	resp  *fasthttp.Response
	buf   []byte // the response body kept
}

func newWorker() *worker {
	w := &worker{timer: time.NewTimer(time.Hour), req: new(fasthttp.Request), resp: new(fasthttp.Response), buf: make([]byte, 0, 512)}
	w.timer.Stop()
	return w
}

// sleepUntil waits until t; false when done closed first.
func (w *worker) sleepUntil(t time.Time, done <-chan struct{}) bool {
	d := time.Until(t)
	if d <= 0 {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	w.timer.Reset(d)
	select {
	case <-done:
		w.timer.Stop()
		return false
	case <-w.timer.C:
		return true
	}
}

// readBody reads body to its end, keeping its first max bytes (all when
// max is negative) in w.buf: how many it kept and read.
func (w *worker) readBody(body io.Reader, limit int64) (kept, n int64, err error) {
	w.buf = w.buf[:0]
	for limit < 0 || int64(len(w.buf)) < limit {
		if len(w.buf) == cap(w.buf) {
			w.buf = slices.Grow(w.buf, cap(w.buf))
		}
		room := w.buf[len(w.buf):cap(w.buf)]
		if limit >= 0 {
			room = room[:min(int64(len(room)), limit-int64(len(w.buf)))]
		}
		m, err := body.Read(room)
		w.buf = w.buf[:len(w.buf)+m]
		if err == io.EOF {
			return int64(len(w.buf)), int64(len(w.buf)), nil
		}
		if err != nil {
			return int64(len(w.buf)), int64(len(w.buf)), err
		}
	}
	rest, err := io.Copy(io.Discard, body)
	return int64(len(w.buf)), int64(len(w.buf)) + rest, err
}
