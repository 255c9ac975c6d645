package load

import (
	"cmp"
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"text/template"
	"time"
)

// itemStore is the test's own store: PUT or POST /items/{id} stores id and
// answers 201, GET /items/{id} answers 200 or 404. It can be told to lose
// its last K acknowledged writes silently, as an asynchronous replica
// promoted after a failover does.
type itemStore struct {
	latency time.Duration // before every answer; 0: none
	hang    func(n int) bool

	mu       sync.Mutex // guards items, order, writes, inFlight, maxInFlight, bad
	items    map[string]bool
	order    []string // ids in the order their 201 was decided
	writes   int      // write requests seen
	inFlight int
	max      int
	bad      []string // requests that did not render as the test templates say
}

func newItemStore() *itemStore { return &itemStore{items: map[string]bool{}} }

func (s *itemStore) handler() http.Handler {
	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.writes++
		n := s.writes
		if !strings.HasPrefix(string(body), `{"id":"`+id+`","seq":`) || r.Header.Get("X-Tenant") != "t1" || r.Header.Get("Authorization") != "Bearer tok" {
			s.bad = append(s.bad, r.Method+" "+r.URL.Path+" "+string(body))
		}
		s.mu.Unlock()
		if !s.wait(r, n) {
			return
		}
		s.mu.Lock()
		s.items[id] = true
		s.order = append(s.order, id)
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}
	mux.HandleFunc("POST /items/{id}", write)
	mux.HandleFunc("PUT /items/{id}", write)
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ok := s.items[r.PathValue("id")]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "{}")
	})
	return mux
}

// wait holds write n for the store's latency, or until the client goes
// when hang says so. It counts the writes in flight and reports whether to
// answer.
func (s *itemStore) wait(r *http.Request, n int) bool {
	s.mu.Lock()
	s.inFlight++
	s.max = max(s.max, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	if s.hang != nil && s.hang(n) {
		<-r.Context().Done()
		return false
	}
	if s.latency > 0 {
		t := time.NewTimer(s.latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		}
	}
	return true
}

// dropLast forgets the last k writes the store acknowledged and returns
// their ids.
func (s *itemStore) dropLast(k int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := slices.Clone(s.order[len(s.order)-k:])
	s.order = s.order[:len(s.order)-k]
	for _, id := range gone {
		delete(s.items, id)
	}
	return gone
}

func (s *itemStore) stats() (writes, inFlight, maxInFlight int, bad []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes, s.inFlight, s.max, slices.Clone(s.bad)
}

// probeRecords is a ProbeSink that keeps every record; onWrite, when set,
// sees each write and the number acknowledged so far, with mu held.
type probeRecords struct {
	onWrite func(w ProbeWrite, acked int)

	mu     sync.Mutex // guards writes, reads, acked
	writes []ProbeWrite
	reads  []ProbeRead
	acked  int
}

func (c *probeRecords) RecordWrite(w ProbeWrite) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, w)
	if w.Outcome == WriteAcked {
		c.acked++
	}
	if c.onWrite != nil {
		c.onWrite(w, c.acked)
	}
}

func (c *probeRecords) RecordRead(r ProbeRead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads = append(c.reads, r)
}

// ackOrder is the acknowledged writes by ack time.
func (c *probeRecords) ackOrder() []ProbeWrite {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []ProbeWrite
	for _, w := range c.writes {
		if w.Outcome == WriteAcked {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b ProbeWrite) int { return a.Ack.Compare(b.Ack) })
	return out
}

// storeProbe is a probe of itemStore, its templates using ID, Seq, Token,
// URL and a function of the caller's.
func storeProbe(every time.Duration) WriteProbe {
	return WriteProbe{
		Write: Request{Method: "PUT", URL: `{{.URL "store"}}/items/{{.ID}}`, Body: `{"id":"{{.ID}}","seq":{{.Seq}}}`,
			Header: map[string]string{"X-Tenant": "{{tenant}}", "Authorization": "Bearer {{.Token}}"}},
		Verify: Request{URL: "/items/{{.ID}}"},
		Every:  every,
		Token:  "tok",
		Funcs:  template.FuncMap{"tenant": func() string { return "t1" }},
	}
}

func newStoreProber(t *testing.T, p WriteProbe, base string) *Prober {
	t.Helper()
	p.URLs = map[string]string{"store": base}
	pr, err := NewProber(p, base)
	if err != nil {
		t.Fatalf("NewProber() error: %v", err)
	}
	return pr
}

// runProbe runs pr in the background and returns a function that waits
// for Run's end, failing the test after a generous deadline (a hang, not a
// timing goal).
func runProbe(t *testing.T, ctx context.Context, pr *Prober, sinks ...ProbeSink) func() ProbeSummary {
	t.Helper()
	type ret struct {
		sum ProbeSummary
		err error
	}
	done := make(chan ret, 1)
	go func() {
		sum, err := pr.Run(ctx, sinks...)
		done <- ret{sum, err}
	}()
	return func() ProbeSummary {
		t.Helper()
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("Run() error: %v", r.err)
			}
			return r.sum
		case <-time.After(20 * time.Second):
			t.Fatalf("Run() did not return 20s after its end")
			return ProbeSummary{}
		}
	}
}

// The ground truth of RPO: a store that loses exactly its last K
// acknowledged writes on a trigger, while the probe goes on writing.
// One write at a time, so the store's order is the probe's.
func TestProbeFindsExactlyTheLostWrites(t *testing.T) {
	tests := []struct {
		name      string
		k         int // writes the store loses
		triggerAt int // acknowledged writes when the store loses them
		stopAt    int // acknowledged writes when the probe stops
	}{
		{"no loss over many writes", 0, 0, 300},
		{"one lost mid-run", 1, 40, 80},
		{"five lost mid-run", 5, 40, 80},
		{"the last twenty", 20, 60, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newItemStore()
			srv := httptest.NewServer(store.handler())
			defer srv.Close()
			p := storeProbe(2 * time.Millisecond)
			p.MaxInFlight = 1
			pr := newStoreProber(t, p, srv.URL)

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var dropped []string
			rec := &probeRecords{onWrite: func(w ProbeWrite, acked int) {
				if w.Outcome != WriteAcked {
					return
				}
				if tt.k > 0 && acked == tt.triggerAt {
					dropped = store.dropLast(tt.k)
				}
				if acked == tt.stopAt {
					cancel()
				}
			}}
			sum := runProbe(t, ctx, pr, rec)()
			if sum.Acked != uint64(tt.stopAt) || sum.Failed != 0 || sum.Rejected != 0 || sum.Writes != sum.Acked+sum.Stopped {
				t.Fatalf("Run() = %+v; want %d acked, none failed or rejected", sum, tt.stopAt)
			}

			vsum, err := pr.Verify(t.Context(), rec.writes, rec)
			if err != nil {
				t.Fatalf("Verify() error: %v", err)
			}
			acked := rec.ackOrder()
			var want []string
			for _, w := range acked[max(0, tt.triggerAt-tt.k):tt.triggerAt] {
				want = append(want, w.ID)
			}
			if vsum.NotFound != tt.k || vsum.Found != tt.stopAt-tt.k || vsum.Failed+vsum.Stopped+vsum.Unread != 0 {
				t.Errorf("Verify() = %+v; want %d not found, %d found", vsum, tt.k, tt.stopAt-tt.k)
			}
			if !slices.Equal(vsum.Lost, want) || !slices.Equal(vsum.Lost, dropped) {
				t.Errorf("Verify() lost %v; want the %d acknowledged before the trigger %v, which the store dropped (%v)", vsum.Lost, tt.k, want, dropped)
			}
			if len(rec.reads) != tt.stopAt {
				t.Errorf("Verify() delivered %d reads; want one per acknowledged write, %d", len(rec.reads), tt.stopAt)
			}
			if tt.k > 0 {
				first, last := acked[tt.triggerAt-tt.k], acked[tt.triggerAt-1]
				t.Logf("lost window %s over %d writes at %s", last.Ack.Sub(first.Ack), tt.k, pr.Every())
			}
			if _, _, _, bad := store.stats(); len(bad) > 0 {
				t.Errorf("store saw writes not rendered as the templates say: %q", bad)
			}
		})
	}
}

// Every write has its own ID and Seq, in order; a write's record carries
// when it was sent and acknowledged.
func TestProbeRecordsEveryWrite(t *testing.T) {
	store := newItemStore()
	srv := httptest.NewServer(store.handler())
	defer srv.Close()
	p := storeProbe(time.Millisecond)
	p.IDPrefix = "run7-"
	pr := newStoreProber(t, p, srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := &probeRecords{onWrite: func(w ProbeWrite, acked int) {
		if acked == 50 {
			cancel()
		}
	}}
	sum := runProbe(t, ctx, pr, rec)()
	if uint64(len(rec.writes)) != sum.Writes {
		t.Fatalf("sink got %d writes; want the summary's %d", len(rec.writes), sum.Writes)
	}
	ws := slices.Clone(rec.writes)
	slices.SortFunc(ws, func(a, b ProbeWrite) int { return int(a.Seq) - int(b.Seq) })
	for i, w := range ws {
		if w.Seq != uint64(i) || w.ID != "run7-"+strconv.Itoa(i) {
			t.Fatalf("write %d = seq %d id %q; want seq %d id run7-%d", i, w.Seq, w.ID, i, i)
		}
		if i > 0 && w.Sent.Before(ws[i-1].Sent) {
			t.Errorf("write %d sent at %s, before write %d at %s; want writes sent in Seq order", i, w.Sent, i-1, ws[i-1].Sent)
		}
		switch w.Outcome {
		case WriteAcked:
			if w.Status != 201 || w.Ack.Before(w.Sent) || w.Error != "" {
				t.Errorf("acked write %+v; want status 201, ack after sent, no error", w)
			}
		case WriteStopped:
			if !w.Ack.IsZero() || w.Status != 0 {
				t.Errorf("stopped write %+v; want no ack, no status", w)
			}
		default:
			t.Errorf("write %+v; want acked or stopped", w)
		}
	}
	if n, _, _, _ := store.stats(); uint64(n) < sum.Acked || uint64(n) > sum.Writes {
		t.Errorf("store saw %d writes; want from the %d acked to the %d sent", n, sum.Acked, sum.Writes)
	}
	// Nothing lost: every acknowledged write reads back.
	vsum, err := pr.Verify(t.Context(), rec.writes)
	if err != nil || vsum.Found != int(sum.Acked) || vsum.Acked != int(sum.Acked) || len(vsum.Lost) != 0 {
		t.Errorf("Verify() = %+v, %v; want all %d acked found", vsum, err, sum.Acked)
	}

	// A second Run numbers on: no ID of the first comes back.
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	again := &probeRecords{onWrite: func(w ProbeWrite, acked int) {
		if acked == 5 {
			cancel2()
		}
	}}
	runProbe(t, ctx2, pr, again)()
	for _, w := range again.writes {
		if w.Seq < sum.Writes || w.ID != "run7-"+strconv.FormatUint(w.Seq, 10) {
			t.Errorf("second Run() wrote seq %d id %q; want seq from %d on, id run7-SEQ", w.Seq, w.ID, sum.Writes)
		}
	}
}

// A slow store: the writes in flight never exceed MaxInFlight, the ticks
// that find them all busy are skipped and counted, and no goroutine is
// left behind.
func TestProbeSlowStoreSkipsTicks(t *testing.T) {
	before := runtime.NumGoroutine()
	store := newItemStore()
	store.latency = 30 * time.Millisecond
	srv := httptest.NewServer(store.handler())
	p := storeProbe(2 * time.Millisecond)
	p.MaxInFlight = 3
	pr := newStoreProber(t, p, srv.URL)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	during := 0
	rec := &probeRecords{onWrite: func(w ProbeWrite, acked int) {
		if acked == 10 {
			during = runtime.NumGoroutine()
		}
		if acked == 20 {
			cancel()
		}
	}}
	sum := runProbe(t, ctx, pr, rec)()
	_, _, maxServer, _ := store.stats()
	var skipped uint64
	for _, w := range rec.writes {
		skipped += w.Skipped
	}
	t.Logf("Run() = %+v; goroutines %d before, %d during", sum, before, during)
	if sum.MaxInFlight > 3 || maxServer > 3 {
		t.Errorf("writes in flight at most %d (client), %d (server); want at most MaxInFlight 3", sum.MaxInFlight, maxServer)
	}
	if sum.Skipped == 0 || skipped > sum.Skipped {
		t.Errorf("Run() skipped %d ticks, records say %d; want some skipped (30ms writes every 2ms, 3 at a time), the records' share of them", sum.Skipped, skipped)
	}
	// A write goroutine, the client's two per connection, the server's one:
	// a pile-up of 30ms writes every 2ms would pass this by far.
	if during-before > 4*3+8 {
		t.Errorf("%d goroutines more during the run; want at most %d", during-before, 4*3+8)
	}
	srv.Close()
	waitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// The cadence and the cap, at virtual times: writes that take longer than
// the interval skip the ticks that find MaxInFlight in flight.
func TestProbeCadence(t *testing.T) {
	tests := []struct {
		name              string
		latency, timeout  time.Duration
		every             time.Duration
		maxInFlight       int
		runFor            time.Duration
		wantSent          []time.Duration // of every write, in Seq order
		acked, failed     uint64
		stopped, skipped  uint64
		wantMaxInFlight   int
		wantSkippedBefore map[uint64]uint64 // Seq → ticks skipped just before it
	}{
		// Ticks at 0, 50, ..., 950 ms; each write done before the next.
		{"fast writes", 10 * time.Millisecond, time.Second, 50 * time.Millisecond, 2, 975 * time.Millisecond,
			durations(0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 550, 600, 650, 700, 750, 800, 850, 900, 950),
			20, 0, 0, 0, 1, nil},
		// 120ms writes, two at a time: the ticks at 100, 250, 400, ... find
		// two in flight. The writes of 900 and 950 are cut at 975.
		{"slow writes skip", 120 * time.Millisecond, time.Second, 50 * time.Millisecond, 2, 975 * time.Millisecond,
			durations(0, 50, 150, 200, 300, 350, 450, 500, 600, 650, 750, 800, 900, 950),
			12, 0, 2, 6, 2, map[uint64]uint64{2: 1, 4: 1, 6: 1, 8: 1, 10: 1, 12: 1}},
		// 90ms timeout on 300ms writes: each fails, never more than two at once.
		{"timeouts fail", 300 * time.Millisecond, 90 * time.Millisecond, 50 * time.Millisecond, 2, 975 * time.Millisecond,
			durations(0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 550, 600, 650, 700, 750, 800, 850, 900, 950),
			0, 18, 2, 0, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := storeProbe(tt.every)
				p.Timeout, p.MaxInFlight = tt.timeout, tt.maxInFlight
				pr := newStoreProber(t, p, "http://store.invalid")
				ft := &fakeTransport{latency: tt.latency}
				pr.client.Transport = ft
				start := time.Now()
				ctx, cancel := context.WithTimeout(t.Context(), tt.runFor)
				defer cancel()
				rec := &probeRecords{}
				sum, err := pr.Run(ctx, rec)
				if err != nil {
					t.Fatalf("Run() error: %v", err)
				}
				if sum.Acked != tt.acked || sum.Failed != tt.failed || sum.Stopped != tt.stopped || sum.Skipped != tt.skipped ||
					sum.MaxInFlight != tt.wantMaxInFlight || sum.Elapsed != tt.runFor {
					t.Errorf("Run(every %s, %s writes, timeout %s, %d in flight) = %+v; want %d acked, %d failed, %d stopped, %d skipped, %d in flight at most, %s elapsed",
						tt.every, tt.latency, tt.timeout, tt.maxInFlight, sum, tt.acked, tt.failed, tt.stopped, tt.skipped, tt.wantMaxInFlight, tt.runFor)
				}
				if ft.max > tt.maxInFlight {
					t.Errorf("transport saw %d requests at once; want at most %d", ft.max, tt.maxInFlight)
				}
				ws := slices.Clone(rec.writes)
				slices.SortFunc(ws, func(a, b ProbeWrite) int { return int(a.Seq) - int(b.Seq) })
				var sent []time.Duration
				for _, w := range ws {
					sent = append(sent, w.Sent.Sub(start))
					if w.Skipped != tt.wantSkippedBefore[w.Seq] {
						t.Errorf("write %d skipped %d before it; want %d", w.Seq, w.Skipped, tt.wantSkippedBefore[w.Seq])
					}
					switch w.Outcome {
					case WriteAcked:
						if w.Ack.Sub(w.Sent) != tt.latency || w.Status != 201 {
							t.Errorf("write %d acked %s after sent, status %d; want %s, 201", w.Seq, w.Ack.Sub(w.Sent), w.Status, tt.latency)
						}
					case WriteFailed:
						if w.Error != "timeout after "+tt.timeout.String() || !w.Ack.IsZero() {
							t.Errorf("failed write %d: error %q, ack %s; want %q, no ack", w.Seq, w.Error, w.Ack, "timeout after "+tt.timeout.String())
						}
					case WriteStopped:
						if sent := w.Sent.Sub(start); sent < tt.runFor-tt.latency {
							t.Errorf("write %d sent at %s stopped; want only writes in flight at %s stopped", w.Seq, sent, tt.runFor)
						}
					}
				}
				if !slices.Equal(sent, tt.wantSent) {
					t.Errorf("writes sent at %v; want %v", sent, tt.wantSent)
				}
			})
		})
	}
}

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

// fakeTransport answers every request with status (0: 201) after
// latency, or fails when the request's context ends first. For synctest:
// no network.
type fakeTransport struct {
	latency time.Duration
	status  int

	mu       sync.Mutex // guards inFlight and max
	inFlight int
	max      int
}

func (f *fakeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.inFlight++
	f.max = max(f.max, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	t := time.NewTimer(f.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return &http.Response{StatusCode: cmp.Or(f.status, http.StatusCreated), Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

// Ending Run's context cuts the writes in flight: they are recorded as
// stopped, never as failures of the target, and Run returns promptly.
func TestProbeCancelStopsWrites(t *testing.T) {
	store := newItemStore()
	store.hang = func(n int) bool { return n > 3 } // the first three are acknowledged
	srv := httptest.NewServer(store.handler())
	defer srv.Close()
	p := storeProbe(2 * time.Millisecond)
	p.Timeout = time.Hour // nothing but the context ends a write
	p.MaxInFlight = 4
	pr := newStoreProber(t, p, srv.URL)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel() // before srv.Close, which waits for the hanging handlers
	rec := &probeRecords{}
	wait := runProbe(t, ctx, pr, rec)
	waitFor(t, "four writes hanging in the store", func() bool {
		_, inFlight, _, _ := store.stats()
		return inFlight == 4
	})
	cancel()
	sum := wait()

	if sum.Acked != 3 || sum.Stopped != 4 || sum.Failed != 0 || sum.Rejected != 0 || sum.Writes != 7 {
		t.Errorf("Run() after cancel = %+v; want 7 writes: 3 acked, 4 stopped, none failed", sum)
	}
	for _, w := range rec.writes {
		if w.Outcome == WriteStopped && (w.Error != "" || w.Status != 0 || !w.Ack.IsZero()) {
			t.Errorf("stopped write %+v; want no error, status or ack", w)
		}
	}
	waitFor(t, "the store to see every client go", func() bool {
		_, inFlight, _, _ := store.stats()
		return inFlight == 0
	})
}

// Verify reads every acknowledged write and only those, and tries a
// failed read again.
func TestProbeVerify(t *testing.T) {
	var (
		mu    sync.Mutex // guards tries
		tries = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/items/")
		mu.Lock()
		tries[id]++
		n := tries[id]
		mu.Unlock()
		switch {
		case id == "flaky" && n == 1: // a transport error: a malformed response
			c, _, _ := w.(http.Hijacker).Hijack()
			io.WriteString(c, "HTTP/1.1 2OO Okay\r\n\r\n")
			c.Close()
		case id == "down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case strings.HasPrefix(id, "gone"):
			http.NotFound(w, r)
		case id == "teapot":
			w.WriteHeader(http.StatusTeapot)
		default:
			io.WriteString(w, "{}")
		}
	}))
	defer srv.Close()
	p := WriteProbe{Write: Request{URL: "/items/{{.ID}}"}, Verify: Request{URL: "/items/{{.ID}}"}, VerifyConcurrency: 3, NotFound: []int{404, 410}}
	pr, err := NewProber(p, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var writes []ProbeWrite
	want := map[string]ReadOutcome{}
	add := func(id string, o WriteOutcome, read ReadOutcome) {
		writes = append(writes, ProbeWrite{Seq: uint64(len(writes)), ID: id, Outcome: o})
		if o == WriteAcked {
			want[id] = read
		}
	}
	for i := range 10 {
		add("ok"+strconv.Itoa(i), WriteAcked, ReadFound)
	}
	add("gone1", WriteAcked, ReadNotFound)
	add("flaky", WriteAcked, ReadFound)
	add("down", WriteAcked, ReadFailed)
	add("teapot", WriteAcked, ReadFailed)
	add("gone2", WriteAcked, ReadNotFound)
	add("never-acked", WriteFailed, "")
	add("rejected", WriteRejected, "")
	add("stopped", WriteStopped, "")

	rec := &probeRecords{}
	sum, err := pr.Verify(t.Context(), writes, rec)
	if err != nil {
		t.Fatalf("Verify() error: %v", err)
	}
	if sum.Acked != 15 || sum.Found != 11 || sum.NotFound != 2 || sum.Failed != 2 || sum.Stopped != 0 || sum.Unread != 0 ||
		!slices.Equal(sum.Lost, []string{"gone1", "gone2"}) {
		t.Errorf("Verify() = %+v; want 15 acked: 11 found, 2 not found (gone1, gone2), 2 failed", sum)
	}
	got := map[string]ReadOutcome{}
	for _, r := range rec.reads {
		got[r.ID] = r.Outcome
		wantAttempts := 1
		switch r.ID {
		case "flaky":
			wantAttempts = 2
		case "down", "teapot":
			wantAttempts = DefaultVerifyAttempts
		}
		if r.Attempts != wantAttempts {
			t.Errorf("read of %s: %d attempts; want %d", r.ID, r.Attempts, wantAttempts)
		}
		if r.ID == "down" && (r.Status != 503 || r.Error != "") {
			t.Errorf("read of down = %+v; want status 503, no error", r)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("reads = %v; want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{"never-acked", "rejected", "stopped"} {
		if tries[id] != 0 {
			t.Errorf("Verify() read %s, which was not acknowledged", id)
		}
	}
}

// Verify reads VerifyConcurrency at a time, at virtual times.
func TestProbeVerifyConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, err := NewProber(WriteProbe{Write: Request{URL: "/{{.ID}}"}, Verify: Request{URL: "/{{.ID}}"}, VerifyConcurrency: 3}, "http://store.invalid")
		if err != nil {
			t.Fatal(err)
		}
		ft := &fakeTransport{latency: 10 * time.Millisecond, status: http.StatusOK}
		pr.client.Transport = ft
		writes := make([]ProbeWrite, 20)
		for i := range writes {
			writes[i] = ProbeWrite{Seq: uint64(i), ID: strconv.Itoa(i), Outcome: WriteAcked}
		}
		start := time.Now()
		sum, err := pr.Verify(t.Context(), writes)
		if err != nil {
			t.Fatalf("Verify() error: %v", err)
		}
		// 20 reads of 10ms, 3 at a time: 7 rounds.
		if elapsed := time.Since(start); sum.Found != 20 || ft.max != 3 || elapsed != 70*time.Millisecond {
			t.Errorf("Verify(20 writes, 3 at a time) = %+v, %d at once, took %s; want 20 found, 3 at once, 70ms", sum, ft.max, elapsed)
		}
	})
}

// Ending Verify's context cuts the reads in flight (stopped) and leaves the
// rest unread.
func TestProbeVerifyCancel(t *testing.T) {
	arrived := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	pr, err := NewProber(WriteProbe{Write: Request{URL: "/{{.ID}}"}, Verify: Request{URL: "/{{.ID}}"}, VerifyConcurrency: 2, Timeout: time.Hour}, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	writes := make([]ProbeWrite, 10)
	for i := range writes {
		writes[i] = ProbeWrite{Seq: uint64(i), ID: strconv.Itoa(i), Outcome: WriteAcked}
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		<-arrived
		cancel()
	}()
	rec := &probeRecords{}
	sum, err := pr.Verify(ctx, writes, rec)
	if err != nil {
		t.Fatalf("Verify() error: %v", err)
	}
	if sum.Stopped != 2 || sum.Unread != 8 || sum.Found+sum.NotFound+sum.Failed != 0 || len(rec.reads) != 2 {
		t.Errorf("Verify() cut after two reads = %+v, %d records; want 2 stopped, 8 unread", sum, len(rec.reads))
	}
}

func TestNewProberRejects(t *testing.T) {
	ok := Request{URL: "/items/{{.ID}}"}
	tests := []struct {
		name string
		p    WriteProbe
		base string
		want []string
	}{
		{"negative knobs", WriteProbe{Write: ok, Verify: ok, Every: -1, Timeout: -1, VerifyAttempts: -1}, "http://h",
			[]string{"every -1ns is negative", "timeout -1ns is negative", "verify attempts -1 is negative"}},
		{"statuses", WriteProbe{Write: ok, Verify: ok, Acked: []int{}, Found: []int{200, 404}, NotFound: []int{404, 700}}, "http://h",
			[]string{"acked statuses: empty", "not found statuses: 700 is not an HTTP status", "status 404 is both found and not found"}},
		{"default not found listed as found", WriteProbe{Write: ok, Verify: ok, Found: []int{404}}, "http://h",
			[]string{"status 404 is both found and not found"}},
		{"bad templates", WriteProbe{Write: Request{URL: "/x/{{.Nope}}"}, Verify: Request{URL: "{{.Base}/x"}}, "http://h",
			[]string{"write: render url: template: url:1:5: executing \"url\" at <.Nope>: can't evaluate field Nope", "verify: parse url template"}},
		{"no base", WriteProbe{Write: ok, Verify: ok}, "h:1", []string{`base URL "h:1" is not an absolute http(s) URL`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewProber(tt.p, tt.base)
			if err == nil {
				t.Fatalf("NewProber(%+v) = nil error; want %q", tt.p, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("NewProber() error = %v; want it to say %q", err, w)
				}
			}
		})
	}
}

func TestParseOutcomes(t *testing.T) {
	for _, o := range []WriteOutcome{WriteAcked, WriteRejected, WriteFailed, WriteStopped} {
		if got, err := ParseWriteOutcome(o.String()); got != o || err != nil {
			t.Errorf("ParseWriteOutcome(%q) = %q, %v; want %q", o, got, err, o)
		}
	}
	for _, o := range []ReadOutcome{ReadFound, ReadNotFound, ReadFailed, ReadStopped} {
		if got, err := ParseReadOutcome(o.String()); got != o || err != nil {
			t.Errorf("ParseReadOutcome(%q) = %q, %v; want %q", o, got, err, o)
		}
	}
	if _, err := ParseWriteOutcome("found"); err == nil {
		t.Errorf("ParseWriteOutcome(found) = nil error; want an error")
	}
	if _, err := ParseReadOutcome("acked"); err == nil {
		t.Errorf("ParseReadOutcome(acked) = nil error; want an error")
	}
}

func TestVerifyBound(t *testing.T) {
	p, err := NewProber(WriteProbe{Write: Request{URL: "/w/{{.ID}}"}, Verify: Request{URL: "/r/{{.ID}}"}, Timeout: time.Second}, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	// 8 at a time, 3 attempts of 1 s with 100 ms and 200 ms between: 3.3 s a round, and 1 s of slack.
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{{0, time.Second}, {1, 4300 * time.Millisecond}, {8, 4300 * time.Millisecond}, {9, 7600 * time.Millisecond}} {
		if got := p.VerifyBound(tt.n); got != tt.want {
			t.Errorf("VerifyBound(%d) = %s; want %s", tt.n, got, tt.want)
		}
	}
}
