package load

import (
	"bytes"
	"errors"
	"net/http"
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

// hugeHeaders is a record of one result whose Headers map claims 2^28
// entries and holds one: gob would size the map from the claim.
func hugeHeaders(t testing.TB) []byte {
	t.Helper()
	r := sampleResult(0)
	r.Headers = http.Header{"A": {"b"}}
	data := encodeResults(t, r)
	// The map's count is the 0x01 right before the key "A" (length 1, 'A').
	at := bytes.Index(data, []byte{0x01, 0x01, 'A'})
	if at < 0 {
		t.Fatal("no header map in the encoding")
	}
	// Rebuild the stream, message by message (a length, then that many
	// bytes), with the count of the message that holds the map replaced.
	var out []byte
	for pos := 0; pos < len(data); {
		n, w := gobUint(data[pos:])
		body := data[pos+w : pos+w+int(n)]
		if start := pos + w; at >= start && at < start+len(body) {
			k := at - start
			body = append(append(append([]byte{}, body[:k]...), gobUintBytes(1<<28)...), body[k+1:]...)
		}
		out = append(append(out, gobUintBytes(uint64(len(body)))...), body...)
		pos += w + int(n)
	}
	return out
}

// gobUint decodes one of gob's unsigned integers: a byte below 128, or the
// negated count of big-endian bytes that follow.
func gobUint(b []byte) (uint64, int) {
	if b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	n := int(-int8(b[0]))
	var x uint64
	for _, c := range b[1 : 1+n] {
		x = x<<8 | uint64(c)
	}
	return x, 1 + n
}

// gobUintBytes encodes x as gob does.
func gobUintBytes(x uint64) []byte {
	if x < 0x80 {
		return []byte{byte(x)}
	}
	var be []byte
	for ; x > 0; x >>= 8 {
		be = append([]byte{byte(x)}, be...)
	}
	return append([]byte{byte(-int8(len(be)))}, be...)
}

// TestDecodeResultsHugeHeaderMap: a map count far above the data costs no
// memory (DecodeResults skips headers; Vegeta's decoder allocates some 24 GB
// for this record), and the record, cut short, ends the stream.
func TestDecodeResultsHugeHeaderMap(t *testing.T) {
	data := hugeHeaders(t)
	allocs := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(allocs)
	before := allocs[0].Value.Uint64()
	calls := 0
	err := DecodeResults(bytes.NewReader(data), func(string, string, *vegeta.Result) error { calls++; return nil })
	metrics.Read(allocs)
	if alloc := allocs[0].Value.Uint64() - before; alloc > 10<<20 {
		t.Errorf("DecodeResults(a map claiming 2^28 entries) allocated %d MiB; want under 10 MiB", alloc>>20)
	}
	if err != nil || calls != 0 {
		t.Errorf("DecodeResults(a map claiming 2^28 entries) = %v after %d results; want nil after 0 (a torn record)", err, calls)
	}
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
		// A record whose headers claim 2^28 entries (golang/go#79539).
		hugeHeaders(f),
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
