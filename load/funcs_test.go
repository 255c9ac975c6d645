package load

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// render fills one target of r with the given facts and returns its body.
func renderBodies(t *testing.T, body string, tf targetFacts, n int) []string {
	t.Helper()
	var seq atomic.Uint64
	tf.base = "http://h:1"
	tr, err := newTargeter(Request{Name: "r", URL: "/x", Body: body}, tf, "p-", &seq)
	if err != nil {
		t.Fatalf("newTargeter(body %q) error: %v", body, err)
	}
	out := make([]string, n)
	for i := range out {
		var tgt vegeta.Target
		if err := tr.fill(&tgt); err != nil {
			t.Fatalf("fill() error: %v", err)
		}
		out[i] = string(tgt.Body)
	}
	return out
}

func TestRandIntAndPick(t *testing.T) {
	// Inside range and if too: the root data is passed wherever the call is.
	const body = `{{randInt 1 6}} {{pick "a" "b" "c"}}{{range 2}} {{randInt -3 -1}}{{end}}{{if true}} {{pick "x"}}{{end}}`
	a := renderBodies(t, body, targetFacts{seed: 1}, 200)
	b := renderBodies(t, body, targetFacts{seed: 1}, 200)
	c := renderBodies(t, body, targetFacts{seed: 2}, 200)
	seen := map[string]bool{}
	for i, s := range a {
		f := strings.Fields(s)
		n, _ := strconv.Atoi(f[0])
		m1, _ := strconv.Atoi(f[2])
		if len(f) != 5 || n < 1 || n > 6 || !strings.Contains("abc", f[1]) || m1 < -3 || m1 > -1 || f[4] != "x" {
			t.Fatalf("request %d rendered %q; want 1..6, a|b|c, two of -3..-1, x", i, s)
		}
		seen[f[0]], seen[f[1]] = true, true
		if s != b[i] {
			t.Fatalf("request %d with seed 1 rendered %q then %q; want the same", i, s, b[i])
		}
	}
	if len(seen) != 9 {
		t.Errorf("200 requests drew %d distinct values of 1..6 and a|b|c; want all 9", len(seen))
	}
	if strings.Join(a, "|") == strings.Join(c, "|") {
		t.Error("seeds 1 and 2 rendered the same requests; want different draws")
	}
	var seq atomic.Uint64
	tr, err := newTargeter(Request{Name: "r", URL: "/x", Body: "{{randInt 5 1}}"}, targetFacts{base: "http://h:1"}, "p-", &seq)
	if err == nil || !strings.Contains(err.Error(), "randInt 5 1: the first bound is above the second") {
		t.Errorf("newTargeter(randInt 5 1) = %v, %v; want the bounds error", tr, err)
	}
}

func TestNowAndRows(t *testing.T) {
	rows := []map[string]string{{"email": "a@x"}, {"email": "b@x"}}
	got := renderBodies(t, `{{.Row.email}} {{now}}`, targetFacts{rows: rows}, 3)
	for i, s := range got {
		email, ts, _ := strings.Cut(s, " ")
		if want := rows[i%2]["email"]; email != want {
			t.Errorf("request %d: Row.email = %q; want %q", i, email, want)
		}
		if _, err := time.Parse(nowLayout, ts); err != nil || len(ts) != len("2006-01-02T15:04:05.000Z") {
			t.Errorf("now = %q; want RFC 3339 in UTC with milliseconds (%v)", ts, err)
		}
	}
	var seq atomic.Uint64
	if _, err := newTargeter(Request{Name: "r", URL: "/x", Body: "{{.Row.nope}}"}, targetFacts{base: "http://h:1", rows: rows}, "p-", &seq); err == nil {
		t.Error("newTargeter({{.Row.nope}}) = nil error; want no such column")
	}
}
