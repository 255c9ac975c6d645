package load

import (
	"bytes"
	"errors"
	"runtime/metrics"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Bounds on decoding one fuzz input: a results file gameday reads back must
// never hang it nor make it allocate without bound, whatever its bytes.
const (
	fuzzInputTime  = 2 * time.Second
	fuzzInputAlloc = 100 << 20
)

// encodeResults is the gob encoding of results as a ResultsFile writes it.
func encodeResults(t testing.TB, results ...vegeta.Result) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := vegeta.NewEncoder(&b)
	for i := range results {
		if err := enc.Encode(&results[i]); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// FuzzDecodeResults feeds arbitrary bytes to DecodeResults: it must return,
// within fuzzInputTime and fuzzInputAlloc, either every record it decoded
// and nil, or an error; never panic, never call fn with a result after an
// error.
func FuzzDecodeResults(f *testing.F) {
	one := encodeResults(f, sampleResult(1))
	many := encodeResults(f, sampleResult(0), sampleResult(1), sampleResult(2), sampleResult(3))
	withBody := sampleResult(4)
	withBody.Body = bytes.Repeat([]byte("x"), 4096)
	for _, seed := range [][]byte{
		nil,
		one,
		many,
		many[:len(many)/2],          // torn by a kill
		encodeResults(f, withBody),  // a kept body
		append(one, 0xff, 0xff),     // trailing garbage
		[]byte("not gob at all\n"),  // another format
		{0x7f, 0xff, 0xff, 0xff, 1}, // a message length far above the data
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		allocs := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		metrics.Read(allocs)
		before := allocs[0].Value.Uint64()
		done := make(chan error, 1)
		go func() {
			done <- DecodeResults(bytes.NewReader(data), func(stream, route string, r *vegeta.Result) error {
				if r == nil {
					return errors.New("nil result")
				}
				return nil
			})
		}()
		select {
		case <-done:
		case <-time.After(fuzzInputTime):
			t.Fatalf("DecodeResults(%d bytes) still running after %v", len(data), fuzzInputTime)
		}
		metrics.Read(allocs)
		if alloc := allocs[0].Value.Uint64() - before; alloc > fuzzInputAlloc {
			t.Fatalf("DecodeResults(%d bytes) allocated %d MiB; want at most %d MiB", len(data), alloc>>20, fuzzInputAlloc>>20)
		}
	})
}

// TestDecodeResultsFnError: an error of fn stops the decoding and is
// returned as it is.
func TestDecodeResultsFnError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := DecodeResults(bytes.NewReader(encodeResults(t, sampleResult(0), sampleResult(1))), func(string, string, *vegeta.Result) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("DecodeResults(fn failing) = %v after %d calls; want the fn's error after 1 call", err, calls)
	}
}
