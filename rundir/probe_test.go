package rundir

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gameday/gameday/load"
)

var t0 = time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// The records of a probe as Run and Verify deliver them: writes in
// completion order, reads after.
var (
	probeWrites = []load.ProbeWrite{
		{Seq: 1, ID: "p-1", Sent: at(50), Ack: at(52), Outcome: load.WriteAcked, Status: 201},
		{Seq: 0, ID: "p-0", Sent: at(0), Ack: at(70), Outcome: load.WriteAcked, Status: 201},
		{Seq: 2, ID: "p-2", Sent: at(100), Outcome: load.WriteRejected, Status: 503},
		{Seq: 3, ID: "p-3", Sent: at(200), Outcome: load.WriteFailed, Error: "Put: dial tcp 127.0.0.1:1: connect: connection refused", Skipped: 1},
		{Seq: 4, ID: "p-4", Sent: at(250), Outcome: load.WriteStopped},
	}
	probeReads = []load.ProbeRead{
		{Seq: 1, ID: "p-1", Time: at(9000), Outcome: load.ReadNotFound, Status: 404, Attempts: 1},
		{Seq: 0, ID: "p-0", Time: at(9001), Outcome: load.ReadFound, Status: 200, Attempts: 2},
	}
	// What ReadProbe returns of them: by Sent.
	probeResults = []ProbeResult{
		{Write: probeWrites[1], Read: &probeReads[1]},
		{Write: probeWrites[0], Read: &probeReads[0]},
		{Write: probeWrites[2]},
		{Write: probeWrites[3]},
		{Write: probeWrites[4]},
	}
)

func writeProbeLog(t *testing.T, dir string, opts ...ProbeLogOption) {
	t.Helper()
	l, err := CreateProbeLog(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range probeWrites {
		l.RecordWrite(w)
	}
	for _, r := range probeReads {
		l.RecordRead(r)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("ProbeLog.Close() error: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second ProbeLog.Close() = %v; want nil", err)
	}
}

func TestProbeLogRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []ProbeLogOption
	}{
		{"sync in the background", nil},
		{"sync every entry", []ProbeLogOption{WithProbeSyncInterval(0)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeProbeLog(t, dir, tt.opts...)
			got, err := ReadProbe(dir)
			if err != nil {
				t.Fatalf("ReadProbe() error: %v", err)
			}
			if !reflect.DeepEqual(got, probeResults) {
				t.Errorf("ReadProbe() =\n%s\nwant\n%s", showResults(got), showResults(probeResults))
			}
		})
	}
}

// The format on disk is the documented one, field by field.
func TestProbeLogFormat(t *testing.T) {
	dir := t.TempDir()
	writeProbeLog(t, dir)
	b, err := os.ReadFile(filepath.Join(dir, FileProbe))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []string{
		`{"kind":"write","seq":1,"id":"p-1","outcome":"acked","status":201,"sent":"2026-11-28T09:15:00.05Z","ack":"2026-11-28T09:15:00.052Z"}`,
		`{"kind":"write","seq":0,"id":"p-0","outcome":"acked","status":201,"sent":"2026-11-28T09:15:00Z","ack":"2026-11-28T09:15:00.07Z"}`,
		`{"kind":"write","seq":2,"id":"p-2","outcome":"rejected","status":503,"sent":"2026-11-28T09:15:00.1Z"}`,
		`{"kind":"write","seq":3,"id":"p-3","outcome":"failed","error":"Put: dial tcp 127.0.0.1:1: connect: connection refused","sent":"2026-11-28T09:15:00.2Z","skipped":1}`,
		`{"kind":"write","seq":4,"id":"p-4","outcome":"stopped","sent":"2026-11-28T09:15:00.25Z"}`,
		`{"kind":"read","seq":1,"id":"p-1","outcome":"not_found","status":404,"time":"2026-11-28T09:15:09Z","attempts":1}`,
		`{"kind":"read","seq":0,"id":"p-0","outcome":"found","status":200,"time":"2026-11-28T09:15:09.001Z","attempts":2}`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("%s =\n%s\nwant\n%s", FileProbe, strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// Two probes share one log: each entry carries its probe's name, the same
// ID written by both is two writes, and a read belongs to its own probe's
// write. The unnamed entries above (TestProbeLogFormat) are the format of
// a log without names, which ReadProbe still reads.
func TestProbeLogNamedProbes(t *testing.T) {
	dir := t.TempDir()
	l, err := CreateProbeLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, b := l.Probe("orders"), l.Probe("carts")
	w := load.ProbeWrite{Seq: 0, ID: "x-0", Sent: at(0), Ack: at(5), Outcome: load.WriteAcked, Status: 201}
	a.RecordWrite(w)
	w2 := w
	w2.Sent, w2.Ack = at(1), at(6)
	b.RecordWrite(w2)
	r := load.ProbeRead{Seq: 0, ID: "x-0", Time: at(9000), Outcome: load.ReadNotFound, Status: 404, Attempts: 1}
	b.RecordRead(r)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, FileProbe))
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(raw), "\n"); first != `{"kind":"write","probe":"orders","seq":0,"id":"x-0","outcome":"acked","status":201,"sent":"2026-11-28T09:15:00Z","ack":"2026-11-28T09:15:00.005Z"}` {
		t.Errorf("first line of %s = %s; want the write tagged with its probe", FileProbe, first)
	}
	got, err := ReadProbe(dir)
	if err != nil {
		t.Fatalf("ReadProbe() error: %v", err)
	}
	want := []ProbeResult{{Probe: "orders", Write: w}, {Probe: "carts", Write: w2, Read: &r}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadProbe() =\n%s\nwant\n%s", showResults(got), showResults(want))
	}
}

// A torn last line, as SIGKILL leaves it, is ignored; appending cuts it.
func TestProbeLogTornLastLine(t *testing.T) {
	dir := t.TempDir()
	writeProbeLog(t, dir)
	path := filepath.Join(dir, FileProbe)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"kind":"write","seq":5,"id":"p-5","outcome":"ack`)
	f.Close()
	got, err := ReadProbe(dir)
	if err != nil || !reflect.DeepEqual(got, probeResults) {
		t.Fatalf("ReadProbe() with a torn last line = %v, %v; want the 5 writes", showResults(got), err)
	}

	l, err := CreateProbeLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	more := load.ProbeWrite{Seq: 5, ID: "p-5", Sent: at(300), Ack: at(301), Outcome: load.WriteAcked, Status: 201}
	l.RecordWrite(more)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err = ReadProbe(dir)
	if err != nil || len(got) != 6 || !reflect.DeepEqual(got[5].Write, more) {
		t.Errorf("ReadProbe() after appending past a torn line = %v, %v; want 6 writes, the last %+v", showResults(got), err, more)
	}
}

// Every entry is in the file when its Record call returns: a process
// killed right after loses none.
func TestProbeLogWritesAtOnce(t *testing.T) {
	dir := t.TempDir()
	l, err := CreateProbeLog(dir, WithProbeSyncInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.RecordWrite(probeWrites[0])
	got, err := ReadProbe(dir)
	if err != nil || len(got) != 1 || got[0].Write != probeWrites[0] {
		t.Errorf("ReadProbe() of an open log after one record = %v, %v; want that write", showResults(got), err)
	}
	if err := l.Sync(); err != nil {
		t.Errorf("Sync() = %v; want nil", err)
	}
}

func TestReadProbeRejects(t *testing.T) {
	const (
		ok    = `{"kind":"write","seq":0,"id":"p-0","outcome":"acked","status":201,"sent":"2026-11-28T09:15:00Z","ack":"2026-11-28T09:15:00.07Z"}`
		other = `{"kind":"write","seq":1,"id":"p-1","outcome":"failed","sent":"2026-11-28T09:15:00Z"}`
	)
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"a bad line before the last", []string{ok, `{"kind":"wri`, other}, `line 2: not JSON: "{\"kind\":\"wri"`},
		{"unknown field, even on the last line", []string{ok, `{"kind":"write","seq":1,"id":"p-1","outcome":"failed","acked":true}`}, `line 2: json: unknown field "acked"`},
		{"unknown kind", []string{`{"kind":"delete","id":"p-0","outcome":"acked"}`}, `line 1: p-0: unknown kind "delete" (want write or read)`},
		{"unknown write outcome", []string{`{"kind":"write","id":"p-0","outcome":"found"}`}, `line 1: write p-0: unknown write outcome "found"`},
		{"unknown read outcome", []string{ok, `{"kind":"read","id":"p-0","outcome":"lost"}`}, `line 2: read p-0: unknown read outcome "lost"`},
		{"written twice", []string{ok, other, ok}, `line 3: write p-0: written twice`},
		{"acked without an ack time", []string{`{"kind":"write","id":"p-0","outcome":"acked","sent":"2026-11-28T09:15:00Z"}`}, `line 1: write p-0: outcome acked with ack time "0001-01-01T00:00:00Z"`},
		{"an ack time on a failed write", []string{`{"kind":"write","id":"p-0","outcome":"failed","ack":"2026-11-28T09:15:00Z"}`}, `line 1: write p-0: outcome failed with ack time "2026-11-28T09:15:00Z"`},
		{"read before its write", []string{`{"kind":"read","id":"p-0","outcome":"found"}`, ok}, `line 1: read p-0: no write of that id before it`},
		{"no id", []string{`{"kind":"write","seq":3,"outcome":"failed"}`}, `line 1: write 3: no id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileProbe), []byte(strings.Join(tt.lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadProbe(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadProbe() = %v, %v; want an error containing %q", showResults(got), err, tt.want)
			}
		})
	}
	if _, err := ReadProbe(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadProbe(no log) error = %v; want one wrapping fs.ErrNotExist", err)
	}
}

// A real probe, its records going to the log from many goroutines: the log
// reads back with every write and every read-back, and the store's lost
// writes are the ones read back not found.
func TestProbeLogOfARun(t *testing.T) {
	var (
		mu    sync.Mutex // guards items
		items = map[string]bool{}
	)
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		items[r.PathValue("id")] = true
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ok := items[r.PathValue("id")]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	pr, err := load.NewProber(load.WriteProbe{
		Write:  load.Request{Method: "PUT", URL: "/items/{{.ID}}", Body: `{"seq":{{.Seq}}}`},
		Verify: load.Request{URL: "/items/{{.ID}}"},
		Every:  time.Millisecond,
	}, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l, err := CreateProbeLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	counted := 0
	sink := countingSink{ProbeLog: l, onAck: func() {
		if counted++; counted == 100 {
			cancel()
		}
	}}
	sum, err := pr.Run(ctx, &sink)
	if err != nil {
		t.Fatalf("Run() error: %v", err)
	}
	// The store loses the writes numbered 10 to 19.
	mu.Lock()
	var lost []string
	for id := range items {
		if n, _ := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:]); n >= 10 && n < 20 {
			delete(items, id)
			lost = append(lost, id)
		}
	}
	mu.Unlock()

	fromDisk, err := ReadProbe(dir)
	if err != nil {
		t.Fatalf("ReadProbe() of the open log error: %v", err)
	}
	var writes []load.ProbeWrite
	for _, r := range fromDisk {
		writes = append(writes, r.Write)
	}
	vsum, err := pr.Verify(t.Context(), writes, l)
	if err != nil {
		t.Fatalf("Verify() error: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("ProbeLog.Close() error: %v", err)
	}

	got, err := ReadProbe(dir)
	if err != nil {
		t.Fatalf("ReadProbe() error: %v", err)
	}
	if uint64(len(got)) != sum.Writes || sum.Acked < 100 {
		t.Fatalf("ReadProbe() gave %d writes; Run() = %+v; want its %d writes, at least 100 acked", len(got), sum, sum.Writes)
	}
	var notFound []string
	for i, r := range got {
		if r.Write.Seq != uint64(i) {
			t.Fatalf("ReadProbe()[%d] is write %d; want writes in Seq order", i, r.Write.Seq)
		}
		acked := r.Write.Outcome == load.WriteAcked
		if acked != (r.Read != nil) {
			t.Errorf("write %s %s, read back %+v; want a read-back exactly of the acknowledged writes", r.Write.ID, r.Write.Outcome, r.Read)
		}
		if r.Read != nil && r.Read.Outcome == load.ReadNotFound {
			notFound = append(notFound, r.Write.ID)
		}
	}
	slices.Sort(lost)
	slices.Sort(notFound)
	if !slices.Equal(notFound, lost) || len(lost) != 10 || vsum.NotFound != 10 {
		t.Errorf("read back not found: %v (Verify() = %+v); want the 10 the store lost, %v", notFound, vsum, lost)
	}
}

// countingSink is a ProbeLog that calls onAck after each acknowledged
// write, one call at a time.
type countingSink struct {
	*ProbeLog
	onAck func()
	mu    sync.Mutex // serialises onAck
}

func (c *countingSink) RecordWrite(w load.ProbeWrite) {
	c.ProbeLog.RecordWrite(w)
	if w.Outcome == load.WriteAcked {
		c.mu.Lock()
		c.onAck()
		c.mu.Unlock()
	}
}

func showResults(rs []ProbeResult) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("  ")
		b.WriteString(strconv.FormatUint(r.Write.Seq, 10) + " " + r.Write.ID + " " + string(r.Write.Outcome))
		if r.Read != nil {
			b.WriteString(" → " + string(r.Read.Outcome))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// BenchmarkProbeLog measures what recording one write costs the probe's
// write that delivers it (the write keeps its place in flight until the
// record returns): with every entry synced before the call returns, and
// with the background sync of DefaultProbeSyncInterval. p99-ns is the 99th
// percentile of one call.
//
//	go test ./rundir -run '^$' -bench BenchmarkProbeLog -benchtime 2000x
func BenchmarkProbeLog(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []ProbeLogOption
	}{
		{"sync=each", []ProbeLogOption{WithProbeSyncInterval(0)}},
		{"sync=100ms", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := CreateProbeLog(b.TempDir(), bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			w := load.ProbeWrite{ID: "3f9a1c0b2e7d-", Sent: time.Now(), Ack: time.Now(), Outcome: load.WriteAcked, Status: 201}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				w.Seq = uint64(i)
				start := time.Now()
				l.RecordWrite(w)
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
