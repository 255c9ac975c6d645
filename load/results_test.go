package load

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// sampleResult is a result with every field set, as Run produces them.
func sampleResult(i int) vegeta.Result {
	return vegeta.Result{
		Attack:    "mobile/GET /v1/feed",
		Seq:       uint64(i),
		Code:      []uint16{200, 503, 0}[i%3],
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, i*1000, time.UTC),
		Latency:   time.Duration(i) * time.Millisecond,
		BytesOut:  uint64(i),
		BytesIn:   2,
		Error:     []string{"", "503 Service Unavailable", "dial tcp: connection refused"}[i%3],
		Body:      []byte("ok"),
		Method:    "GET",
		URL:       fmt.Sprintf("http://127.0.0.1:1/v1/feed?i=%d", i),
		Headers:   http.Header{"Content-Type": {"text/plain"}},
	}
}

// stored is r as a ResultsFile stores it by default: no body, no headers.
func stored(r vegeta.Result) vegeta.Result {
	r.Body, r.Headers = nil, nil
	return r
}

type readRecord struct {
	stream, route string
	r             vegeta.Result
}

func readAll(t *testing.T, path string) ([]readRecord, error) {
	t.Helper()
	var got []readRecord
	err := ReadResults(path, func(stream, route string, r *vegeta.Result) error {
		got = append(got, readRecord{stream, route, *r})
		return nil
	})
	return got, err
}

func TestResultsFileRoundTrip(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("bodies=%t", keep), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.gob")
			f, err := CreateResultsFile(path, WithBodies(keep))
			if err != nil {
				t.Fatal(err)
			}
			var want []vegeta.Result
			for i := range 5 {
				r := sampleResult(i)
				r.Attack = "" // Record names it "<stream>/<route>" whatever it was
				f.Record("mobile", "GET /v1/feed", &r)
				if r.Attack != "" || r.Body == nil {
					t.Fatalf("Record() modified its result: %+v", r)
				}
				r.Attack = "mobile/GET /v1/feed"
				if !keep {
					r = stored(r)
				}
				want = append(want, r)
			}
			if err := f.Close(); err != nil {
				t.Fatalf("Close() error: %v", err)
			}
			// The file holds what was kept, as Vegeta reads it.
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			dec := vegeta.NewDecoder(bytes.NewReader(raw))
			for i := range want {
				var r vegeta.Result
				if err := dec.Decode(&r); err != nil || !r.Equal(want[i]) {
					t.Errorf("vegeta decoder: record %d = %+v, %v; want %+v", i, r, err, want[i])
				}
			}
			got, err := readAll(t, path)
			if err != nil {
				t.Fatalf("ReadResults() error: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("ReadResults() gave %d results; want %d", len(got), len(want))
			}
			for i := range got {
				w := want[i]
				w.Headers = nil // DecodeResults skips headers
				if got[i].stream != "mobile" || got[i].route != "GET /v1/feed" || !got[i].r.Equal(w) {
					t.Errorf("ReadResults() result %d = %s, %s, %+v; want mobile, GET /v1/feed, %+v", i, got[i].stream, got[i].route, got[i].r, w)
				}
			}
		})
	}
}

// A SIGKILL leaves a file cut anywhere: reading it gives every record before
// the cut and no error.
func TestReadResultsTruncated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "full.gob")
	f, err := CreateResultsFile(path, WithFlushInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	var ends []int64 // file size after each record
	for i := range n {
		r := sampleResult(i)
		f.Record("mobile", "GET /v1/feed", &r)
		if err := f.Flush(); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, st.Size())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.gob")
	for size := range int64(len(full)) + 1 {
		if err := os.WriteFile(cut, full[:size], 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, cut)
		if err != nil {
			t.Fatalf("ReadResults(file cut at %d of %d bytes) error: %v; want nil", size, len(full), err)
		}
		want := 0
		for _, end := range ends {
			if end <= size {
				want++
			}
		}
		if len(got) != want {
			t.Fatalf("ReadResults(file cut at %d of %d bytes) gave %d results; want %d", size, len(full), len(got), want)
		}
		for i, g := range got {
			if w := stored(sampleResult(i)); !g.r.Equal(w) {
				t.Fatalf("ReadResults(file cut at %d) result %d = %+v; want %+v", size, i, g.r, w)
			}
		}
	}
}

func TestReadResultsErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.gob")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not gob "), 20), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, garbage); err == nil {
		t.Errorf("ReadResults(garbage) error = nil; want a decoding error")
	}
	if _, err := readAll(t, filepath.Join(dir, "missing.gob")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadResults(missing) error = %v; want os.ErrNotExist", err)
	}

	path := filepath.Join(dir, "r.gob")
	f, err := CreateResultsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r := sampleResult(i)
		f.Record("s", "r", &r)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err = ReadResults(path, func(string, string, *vegeta.Result) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ReadResults(fn failing) = %v after %d calls; want fn's error after 1 call", err, calls)
	}
}

func TestResultsFileConcurrentAndFlushed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.gob")
	f, err := CreateResultsFile(path, WithFlushInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const writers, each = 8, 250
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := sampleResult(i)
				f.Record(fmt.Sprint("s", w), "r", &r)
			}
		})
	}
	wg.Wait()
	// The background flusher writes everything without Flush or Close.
	counts := map[string]int{}
	waitFor(t, "the flusher to write every record", func() bool {
		clear(counts)
		got, err := readAll(t, path)
		if err != nil {
			t.Fatalf("ReadResults() error: %v", err)
		}
		for _, g := range got {
			counts[g.stream]++
		}
		return len(got) == writers*each
	})
	for w := range writers {
		if n := counts[fmt.Sprint("s", w)]; n != each {
			t.Errorf("ReadResults() gave %d results of stream s%d; want %d", n, w, each)
		}
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close() error: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close() error: %v; want nil", err)
	}
}

// TestResultsFileFlushedWithinInterval: with the defaults, what was
// recorded is in the file one DefaultFlushInterval later without a Flush
// or a Close, so a SIGKILL loses at most that much; DESIGN.md asks for
// results up to ~100 ms before death.
func TestResultsFileFlushedWithinInterval(t *testing.T) {
	if DefaultFlushInterval > 100*time.Millisecond {
		t.Errorf("DefaultFlushInterval = %s; want at most 100ms", DefaultFlushInterval)
	}
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "r.gob")
		f, err := CreateResultsFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := range 3 {
			r := sampleResult(i)
			f.Record("s", "r", &r)
		}
		if got, err := readAll(t, path); err != nil || len(got) != 0 {
			t.Fatalf("before the interval the file holds %d results (%v); want 0 (buffered)", len(got), err)
		}
		time.Sleep(DefaultFlushInterval)
		synctest.Wait() // the flusher has flushed and waits for its next tick
		if got, err := readAll(t, path); err != nil || len(got) != 3 {
			t.Errorf("one DefaultFlushInterval later the file holds %d results (%v); want 3", len(got), err)
		}
	})
}

func BenchmarkResultsFileRecord(b *testing.B) {
	f, err := CreateResultsFile(filepath.Join(b.TempDir(), "r.gob"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := sampleResult(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f.Record("mobile", "GET /v1/feed", &r)
		}
	})
}
