package action

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHeadWriter(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		// Under the bound, everything is kept as written.
		{"under", 8, []string{"abc", "de\n"}, "abcde\n"},
		// Exactly at the bound nothing is dropped, so no marker.
		{"at", 4, []string{"ab", "cd"}, "abcd"},
		// A write across the bound keeps its head; the rest is counted.
		{"across", 4, []string{"ab", "cdef", "gh"}, "abcd\n[truncated] 4 more bytes"},
		// Output cut after a newline gets no extra newline before the marker.
		{"after newline", 3, []string{"ab\ncd"}, "ab\n[truncated] 2 more bytes"},
		// A rune cut in two is dropped whole: "é" is 2 bytes, the bound falls in it.
		{"rune", 2, []string{"aé"}, "a\n[truncated] 2 more bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &headWriter{max: tt.max}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", s, n, err, len(s))
				}
			}
			if got := w.String(); got != tt.want {
				t.Errorf("after writes %q, String() = %q; want %q", tt.writes, got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	cause := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	tests := []struct {
		err  *Error
		want string
	}{
		// An unexpected result with output: the output on the lines below, without its last newline.
		{&Error{Action: "exec restore.sh → exit 3 in 12ms", Output: "no backup\n"},
			"exec restore.sh → exit 3 in 12ms; output:\nno backup"},
		// A cause and no output.
		{&Error{Action: "POST http://h/failover → no response (2 attempts)", Err: cause},
			"POST http://h/failover → no response (2 attempts): " + cause.Error()},
		// Both.
		{&Error{Action: "exec slow.sh → timed out after 1s, process group killed", Output: "started\n", Err: context.DeadlineExceeded},
			"exec slow.sh → timed out after 1s, process group killed: context deadline exceeded; output:\nstarted"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q; want %q", *tt.err, got, tt.want)
		}
		if got := errors.Unwrap(tt.err); got != tt.err.Err {
			t.Errorf("errors.Unwrap(%+v) = %v; want %v", *tt.err, got, tt.err.Err)
		}
	}
}

func TestRoughly(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{1234 * time.Millisecond, "1.2s"},
		{45*time.Millisecond + 400*time.Microsecond, "45ms"},
		{1500 * time.Nanosecond, "2µs"},
		{61*time.Second + 250*time.Millisecond, "1m1.3s"},
	}
	for _, tt := range tests {
		if got := roughly(tt.d); got != tt.want {
			t.Errorf("roughly(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
}

// contains fails t unless s contains every one of want.
func contains(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s = %q; want it to contain %q", what, s, w)
		}
	}
}
