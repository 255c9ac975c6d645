package load

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Defaults of a WriteProbe's zero-valued knobs.
const (
	// DefaultProbeEvery is the cadence of the writes when WriteProbe.Every
	// is 0: an RPO measured to within 50 ms.
	DefaultProbeEvery = 50 * time.Millisecond
	// DefaultProbeTimeout bounds one write or one read attempt (connect,
	// send, response and body) when WriteProbe.Timeout is 0.
	DefaultProbeTimeout = 2 * time.Second
	// DefaultProbeMaxInFlight caps the writes in flight at once when
	// WriteProbe.MaxInFlight is 0: at the default cadence, writes slower
	// than 400 ms start to skip ticks.
	DefaultProbeMaxInFlight = 8
	// DefaultProbeWriteMethod is the method of a write without one.
	DefaultProbeWriteMethod = "POST"
	// DefaultVerifyConcurrency caps the reads in flight at once during
	// Verify when WriteProbe.VerifyConcurrency is 0.
	DefaultVerifyConcurrency = 8
	// DefaultVerifyAttempts is how many times Verify reads a write back
	// whose read failed, when WriteProbe.VerifyAttempts is 0.
	DefaultVerifyAttempts = 3
)

// verifyRetryWait is the wait before Verify's second attempt at a read; it
// doubles before each further attempt.
const verifyRetryWait = 100 * time.Millisecond

// WriteProbe is the RPO write probe: a write sent at a fixed cadence, each
// with its own Data.ID, and a read-back of that ID. Its templates see what a
// Stream's see (Data and Funcs) and are parsed once, by NewProber.
//
//	ticks   t0      t1      t2      t3      t4      t5
//	        │       │       │       │       │       │
//	        w0──ack │       │       │       │       │
//	                w1────────────────────────ack   │
//	                        w2──ack │       │       │
//	                                w3──────────────────ack
//	                                        skip    w4──ack
//
// With MaxInFlight 2, t4 finds w1 and w3 in flight: it starts no write and
// is counted as skipped (w4 says it follows 1 skipped tick); by t5, w1 was
// acknowledged and w4 starts. Ticks are never queued, so a slow target
// cannot make writes pile up.
type WriteProbe struct {
	// Write is the write; its Method defaults to DefaultProbeWriteMethod.
	// Name and Weight are not used.
	Write Request
	// Verify reads a write back with the Data (ID and Seq) it was written
	// with; its Method defaults to DefaultMethod. Name and Weight are not
	// used.
	Verify Request
	// Every is the cadence of the writes; 0: DefaultProbeEvery.
	Every time.Duration
	// Timeout bounds one write or one read attempt; 0: DefaultProbeTimeout.
	Timeout time.Duration
	// MaxInFlight caps the writes in flight at once; 0:
	// DefaultProbeMaxInFlight.
	MaxInFlight int
	// Acked are the statuses that acknowledge a write; nil: every 2xx.
	Acked []int
	// Found are the statuses of a read that found the write; nil: 200.
	Found []int
	// NotFound are the statuses of a read that says the write is not
	// there; nil: 404. Any other status, a transport error or a timeout is
	// a failed read.
	NotFound []int
	// VerifyConcurrency caps the reads in flight at once during Verify; 0:
	// DefaultVerifyConcurrency.
	VerifyConcurrency int
	// VerifyAttempts is how many times a failed read is tried in all, 100
	// ms then 200 ms, 400 ms, ... apart; 0: DefaultVerifyAttempts.
	VerifyAttempts int
	// MaxBody is how many bytes of a response body are read before the
	// connection is dropped instead of reused; 0: DefaultMaxBody; negative:
	// the whole body. Bodies are never kept.
	MaxBody int64
	// IDPrefix starts every Data.ID, which is IDPrefix and the write's Seq;
	// "": a random prefix, unique in practice across runs.
	IDPrefix string
	// Token, URLs, Header, Funcs and RootCAs are as in Stream.
	Token   string
	URLs    map[string]string
	Header  http.Header
	Funcs   template.FuncMap
	RootCAs *x509.CertPool
}

// WriteOutcome is what became of one write.
type WriteOutcome string

// Outcomes of a write.
const (
	// WriteAcked: the target answered with one of the Acked statuses.
	WriteAcked WriteOutcome = "acked"
	// WriteRejected: the target answered with another status.
	WriteRejected WriteOutcome = "rejected"
	// WriteFailed: no answer, a transport error or the timeout: a failure
	// of the target (or of the path to it).
	WriteFailed WriteOutcome = "failed"
	// WriteStopped: the probe itself cut the write when Run's context
	// ended. Not a failure of the target.
	WriteStopped WriteOutcome = "stopped"
)

// ParseWriteOutcome returns the WriteOutcome s names.
func ParseWriteOutcome(s string) (WriteOutcome, error) {
	switch o := WriteOutcome(s); o {
	case WriteAcked, WriteRejected, WriteFailed, WriteStopped:
		return o, nil
	}
	return "", fmt.Errorf("unknown write outcome %q (want acked, rejected, failed or stopped)", s)
}

// String returns o's name.
func (o WriteOutcome) String() string { return string(o) }

// ReadOutcome is what reading one acknowledged write back said.
type ReadOutcome string

// Outcomes of a read-back.
const (
	// ReadFound: the target answered with one of the Found statuses.
	ReadFound ReadOutcome = "found"
	// ReadNotFound: the target answered with one of the NotFound statuses:
	// the acknowledged write is lost.
	ReadNotFound ReadOutcome = "not_found"
	// ReadFailed: every attempt met a transport error, the timeout or
	// another status: whether the write is there is unknown.
	ReadFailed ReadOutcome = "failed"
	// ReadStopped: Verify's context ended before the read had an answer.
	ReadStopped ReadOutcome = "stopped"
)

// ParseReadOutcome returns the ReadOutcome s names.
func ParseReadOutcome(s string) (ReadOutcome, error) {
	switch o := ReadOutcome(s); o {
	case ReadFound, ReadNotFound, ReadFailed, ReadStopped:
		return o, nil
	}
	return "", fmt.Errorf("unknown read outcome %q (want found, not_found, failed or stopped)", s)
}

// String returns o's name.
func (o ReadOutcome) String() string { return string(o) }

// ProbeWrite is the record of one write, delivered when it completed.
type ProbeWrite struct {
	Seq  uint64    // from 0, in the order the writes started, on across Runs of a Prober
	ID   string    // the Data.ID it was written with
	Sent time.Time // when the probe started it
	// Ack is when the acknowledging response arrived (its status line and
	// headers); zero unless Outcome is WriteAcked.
	Ack     time.Time
	Outcome WriteOutcome
	Status  int    // the response's status; 0: no response
	Error   string // for WriteFailed: the transport error or the timeout; "" otherwise
	// Skipped is how many ticks were skipped just before this write
	// started, because MaxInFlight writes were in flight.
	Skipped uint64
}

// ProbeRead is the record of reading one acknowledged write back.
type ProbeRead struct {
	Seq     uint64    // the write's
	ID      string    // the write's
	Time    time.Time // when the last attempt's answer (or failure) arrived
	Outcome ReadOutcome
	Status  int    // the last attempt's status; 0: no response
	Error   string // for ReadFailed without a status: the last transport error or the timeout
	// Attempts is how many reads were sent, at most VerifyAttempts.
	Attempts int
}

// ProbeSink receives the records of a write probe as they complete, from
// many goroutines concurrently. A write keeps its place among the writes in
// flight until RecordWrite returns, so a sink should not block.
type ProbeSink interface {
	RecordWrite(w ProbeWrite)
	RecordRead(r ProbeRead)
}

// ProbeSummary is what Run reports once it has ended.
type ProbeSummary struct {
	Writes   uint64 // writes started, each delivered once
	Acked    uint64
	Rejected uint64
	Failed   uint64
	Stopped  uint64
	// Skipped counts the ticks that started no write because MaxInFlight
	// writes were in flight, including any after the last write.
	Skipped uint64
	// MaxInFlight is the most writes that were in flight at once.
	MaxInFlight int
	Elapsed     time.Duration
}

// VerifySummary is what Verify reports once it has ended.
type VerifySummary struct {
	Acked    int // acknowledged writes given to Verify
	Found    int
	NotFound int
	Failed   int
	Stopped  int
	// Unread counts the acknowledged writes never read because Verify's
	// context ended first; they have no ProbeRead.
	Unread int
	// Lost are the IDs of the writes not found, in Seq order.
	Lost []string
}

// Prober runs a WriteProbe against one base URL. Run and Verify may be
// called any number of times; the writes of every Run are numbered on from
// the last, so their IDs never repeat.
type Prober struct {
	next           atomic.Uint64 // the next write's Seq
	write, verify  *targeter
	every, timeout time.Duration
	maxInFlight    int
	verifyConc     int
	verifyAttempts int
	maxBody        int64
	acked          statusSet
	found          statusSet
	notFound       statusSet
	client         *http.Client
}

// statusSet is a set of HTTP statuses; nil holds every 2xx.
type statusSet []int

func (s statusSet) has(code int) bool {
	if s == nil {
		return code >= 200 && code < 300
	}
	return slices.Contains(s, code)
}

// NewProber validates p, fills in its defaults and parses its templates
// against base (e.g. "http://127.0.0.1:4312"), rendering each once so that
// a bad probe fails before it sends anything. Every problem is reported.
func NewProber(p WriteProbe, base string) (*Prober, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if p.Every < 0 {
		bad("every %s is negative", p.Every)
	}
	if p.Timeout < 0 {
		bad("timeout %s is negative", p.Timeout)
	}
	if p.MaxInFlight < 0 || p.VerifyConcurrency < 0 || p.VerifyAttempts < 0 {
		bad("max in flight %d, verify concurrency %d or verify attempts %d is negative", p.MaxInFlight, p.VerifyConcurrency, p.VerifyAttempts)
	}
	for _, s := range []struct {
		name  string
		codes []int
	}{{"acked", p.Acked}, {"found", p.Found}, {"not found", p.NotFound}} {
		if s.codes != nil && len(s.codes) == 0 {
			bad("%s statuses: empty (leave them out for the default)", s.name)
		}
		for _, c := range s.codes {
			if c < 100 || c > 599 {
				bad("%s statuses: %d is not an HTTP status (100-599)", s.name, c)
			}
		}
	}
	found, notFound := statusSet(p.Found), statusSet(p.NotFound)
	if found == nil {
		found = statusSet{http.StatusOK}
	}
	if notFound == nil {
		notFound = statusSet{http.StatusNotFound}
	}
	for _, c := range found {
		if notFound.has(c) {
			bad("status %d is both found and not found", c)
		}
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("base URL %q is not an absolute http(s) URL", base)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	prefix := p.IDPrefix
	if prefix == "" {
		prefix = newIDPrefix()
	}
	tf := targetFacts{base: strings.TrimRight(base, "/"), token: p.Token, urls: p.URLs, header: p.Header, funcs: p.Funcs}
	w, v := p.Write, p.Verify
	w.Method = cmp.Or(w.Method, DefaultProbeWriteMethod)
	var unused atomic.Uint64 // the probe numbers its writes itself
	pr := &Prober{
		every:          cmp.Or(p.Every, DefaultProbeEvery),
		timeout:        cmp.Or(p.Timeout, DefaultProbeTimeout),
		maxInFlight:    cmp.Or(p.MaxInFlight, DefaultProbeMaxInFlight),
		verifyConc:     cmp.Or(p.VerifyConcurrency, DefaultVerifyConcurrency),
		verifyAttempts: cmp.Or(p.VerifyAttempts, DefaultVerifyAttempts),
		maxBody:        cmp.Or(p.MaxBody, DefaultMaxBody),
		acked:          statusSet(p.Acked),
		found:          found,
		notFound:       notFound,
	}
	if pr.write, err = newTargeter(w, tf, prefix, &unused); err != nil {
		errs = append(errs, fmt.Errorf("write: %w", err))
	}
	if pr.verify, err = newTargeter(v, tf, prefix, &unused); err != nil {
		errs = append(errs, fmt.Errorf("verify: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	transport := newTransport(newConnPool(), max(pr.maxInFlight, pr.verifyConc))
	transport.TLSClientConfig.RootCAs = p.RootCAs
	pr.client = &http.Client{
		Transport: transport,
		// A redirect is an answer: acknowledged or found only when its
		// status is listed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return pr, nil
}

// Every is the probe's cadence, its default filled in.
func (p *Prober) Every() time.Duration { return p.every }

// VerifyBound is the longest Verify of n acknowledged writes can take
// against a target that answers no read: VerifyConcurrency reads at a
// time, each tried VerifyAttempts times, Timeout each, with the waits
// between the attempts; and one Timeout of slack. A caller bounds Verify
// with it, so that a hung target cannot hold a run.
func (p *Prober) VerifyBound(n int) time.Duration {
	rounds := (n + p.verifyConc - 1) / p.verifyConc
	per, wait := time.Duration(0), verifyRetryWait
	for a := range p.verifyAttempts {
		per += p.timeout
		if a > 0 {
			per += wait
			wait *= 2
		}
	}
	return time.Duration(rounds)*per + p.timeout
}

// errProbeTimeout is the cause of a request's context when the probe's
// timeout ended it.
var errProbeTimeout = errors.New("probe timeout")

// Run writes every Every, the first write at once, until ctx ends,
// delivering each write's record to every sink when the write completes.
// When ctx ends no write starts; writes in flight are cut and recorded as
// WriteStopped; Run returns once every record was delivered.
//
// The error is non-nil only when a write failed to render (the probe
// stopped; the summary counts what was sent).
func (p *Prober) Run(ctx context.Context, sinks ...ProbeSink) (ProbeSummary, error) {
	defer p.client.CloseIdleConnections()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg        sync.WaitGroup
		slots     = make(chan struct{}, p.maxInFlight)
		mu        sync.Mutex // guards sum and renderErr
		sum       ProbeSummary
		renderErr error
		skipped   uint64 // ticks skipped since the last write; the loop's own
	)
	start := time.Now()
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	for runCtx.Err() == nil {
		select {
		case slots <- struct{}{}:
			if runCtx.Err() != nil { // ended while the loop was busy
				<-slots
				continue
			}
			seq := p.next.Add(1) - 1
			w := ProbeWrite{Seq: seq, ID: p.write.id(seq), Sent: time.Now(), Skipped: skipped}
			skipped = 0
			mu.Lock()
			sum.MaxInFlight = max(sum.MaxInFlight, len(slots))
			mu.Unlock()
			wg.Go(func() {
				defer func() { <-slots }() // after the record is delivered
				if err := p.send(runCtx, &w); err != nil {
					mu.Lock()
					renderErr = cmp.Or(renderErr, err)
					mu.Unlock()
					cancel()
					return // not sent: no record
				}
				for _, s := range sinks {
					s.RecordWrite(w)
				}
				mu.Lock()
				defer mu.Unlock()
				sum.Writes++
				switch w.Outcome {
				case WriteAcked:
					sum.Acked++
				case WriteRejected:
					sum.Rejected++
				case WriteFailed:
					sum.Failed++
				case WriteStopped:
					sum.Stopped++
				}
			})
		default:
			skipped++
			mu.Lock()
			sum.Skipped++
			mu.Unlock()
		}
		select {
		case <-runCtx.Done():
		case <-tick.C:
		}
	}
	wg.Wait()
	sum.Elapsed = time.Since(start)
	if renderErr != nil {
		return sum, fmt.Errorf("write probe: %w", renderErr)
	}
	return sum, nil
}

// send sends write w and fills in its outcome. The error is a failure to
// render the request; w is then not sent.
func (p *Prober) send(ctx context.Context, w *ProbeWrite) error {
	var tgt vegeta.Target
	if err := p.write.renderID(&tgt, w.Seq, w.ID); err != nil {
		return fmt.Errorf("write %s: %w", w.ID, err)
	}
	a := p.do(ctx, &tgt)
	w.Status, w.Error = a.status, a.err
	switch {
	case a.stopped:
		w.Outcome = WriteStopped
	case a.err != "":
		w.Outcome = WriteFailed
	case p.acked.has(a.status):
		w.Outcome, w.Ack = WriteAcked, a.at
	default:
		w.Outcome = WriteRejected
	}
	return nil
}

// Verify reads back every write of writes whose Outcome is WriteAcked,
// VerifyConcurrency at a time, and delivers one ProbeRead per write read to
// every sink. A read that fails (a transport error, the timeout, a status
// neither found nor not found) is tried again, up to VerifyAttempts in all.
// It reads at once: the caller waits the settle period before calling it.
// When ctx ends, reads in flight are cut and recorded as ReadStopped and
// writes not yet read are left unread.
//
// The error is non-nil only when a read failed to render (Verify stopped;
// the summary counts what was read).
func (p *Prober) Verify(ctx context.Context, writes []ProbeWrite, sinks ...ProbeSink) (VerifySummary, error) {
	defer p.client.CloseIdleConnections()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var sum VerifySummary
	todo := make(chan *ProbeWrite)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex // guards sum and renderErr
		renderErr error
		lost      []*ProbeWrite
	)
	acked := 0
	for i := range writes {
		if writes[i].Outcome == WriteAcked {
			acked++
		}
	}
	sum.Acked = acked
	for range min(p.verifyConc, acked) {
		wg.Go(func() {
			for w := range todo {
				if ctx.Err() != nil {
					continue // unread
				}
				r, err := p.readBack(ctx, w)
				if err != nil {
					mu.Lock()
					renderErr = cmp.Or(renderErr, err)
					mu.Unlock()
					cancel()
					continue
				}
				for _, s := range sinks {
					s.RecordRead(r)
				}
				mu.Lock()
				switch r.Outcome {
				case ReadFound:
					sum.Found++
				case ReadNotFound:
					sum.NotFound++
					lost = append(lost, w)
				case ReadFailed:
					sum.Failed++
				case ReadStopped:
					sum.Stopped++
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range writes {
		if writes[i].Outcome != WriteAcked {
			continue
		}
		select {
		case todo <- &writes[i]:
		case <-ctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	sum.Unread = sum.Acked - sum.Found - sum.NotFound - sum.Failed - sum.Stopped
	slices.SortFunc(lost, func(a, b *ProbeWrite) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, w := range lost {
		sum.Lost = append(sum.Lost, w.ID)
	}
	if renderErr != nil {
		return sum, fmt.Errorf("write probe verify: %w", renderErr)
	}
	return sum, nil
}

// readBack reads w back, trying a failed read again up to verifyAttempts
// in all.
func (p *Prober) readBack(ctx context.Context, w *ProbeWrite) (ProbeRead, error) {
	r := ProbeRead{Seq: w.Seq, ID: w.ID}
	var tgt vegeta.Target
	if err := p.verify.renderID(&tgt, w.Seq, w.ID); err != nil {
		return r, fmt.Errorf("read %s: %w", w.ID, err)
	}
	wait := verifyRetryWait
	for {
		r.Attempts++
		a := p.do(ctx, &tgt)
		r.Time, r.Status, r.Error = a.at, a.status, a.err
		switch {
		case a.stopped:
			r.Outcome = ReadStopped
		case a.err != "":
			r.Outcome = ReadFailed
		case p.found.has(a.status):
			r.Outcome = ReadFound
		case p.notFound.has(a.status):
			r.Outcome = ReadNotFound
		default:
			r.Outcome = ReadFailed
		}
		if r.Outcome != ReadFailed || r.Attempts >= p.verifyAttempts {
			return r, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ProbeRead{Seq: w.Seq, ID: w.ID, Time: time.Now(), Outcome: ReadStopped, Attempts: r.Attempts}, nil
		case <-t.C:
		}
		wait *= 2
	}
}

// answer is what one request of the probe got.
type answer struct {
	status  int       // 0: no response
	at      time.Time // when the response (or the failure) arrived
	err     string    // without a response: the transport error or the timeout
	stopped bool      // without a response: ctx ended
}

// do sends tgt with the probe's timeout and reads at most maxBody bytes of
// the response's body.
func (p *Prober) do(ctx context.Context, tgt *vegeta.Target) answer {
	req, err := tgt.Request()
	if err != nil { // the URL parsed when the probe was made; unlikely
		return answer{at: time.Now(), err: err.Error()}
	}
	rctx, cancel := context.WithTimeoutCause(ctx, p.timeout, errProbeTimeout)
	defer cancel()
	resp, err := p.client.Do(req.WithContext(rctx))
	at := time.Now()
	if err != nil {
		switch {
		case context.Cause(rctx) == errProbeTimeout:
			return answer{at: at, err: fmt.Sprintf("timeout after %s", p.timeout)}
		case rctx.Err() != nil:
			return answer{at: at, stopped: true}
		}
		return answer{at: at, err: errorText(err)}
	}
	body := io.Reader(resp.Body)
	if p.maxBody >= 0 {
		body = io.LimitReader(resp.Body, p.maxBody)
	}
	_, _ = io.Copy(io.Discard, body) // the status is the answer: a broken body does not undo it
	resp.Body.Close()
	return answer{status: resp.StatusCode, at: at}
}

// errorText is err without the request's URL, which may hold a secret
// a template put there.
func errorText(err error) string {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
