package load

import (
	"cmp"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"text/template"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Defaults of a Stream's zero-valued knobs.
const (
	// DefaultTimeout bounds a request (connect, send, response and body) when
	// Stream.Timeout is 0.
	DefaultTimeout = 10 * time.Second
	// DefaultWorkers is the number of workers a stream starts with when
	// Stream.Workers is 0; the stream adds workers up to the maximum when they are
	// all busy.
	DefaultWorkers = 10
	// DefaultMaxWorkersCap caps a derived maximum number of workers
	// (Stream.MaxWorkers 0). An explicit Stream.MaxWorkers is not capped.
	DefaultMaxWorkersCap = 1024
	// DefaultMaxBody is how many bytes of each response body are read into
	// the Result when Stream.MaxBody is 0; the rest is read and discarded so
	// the connection is reused.
	DefaultMaxBody = 64 << 10
	// DefaultMethod is the method of a Request without one.
	DefaultMethod = "GET"
)

// Request is one entry of a weighted mix. URL, Body and Header values are
// text/templates over Data. A URL that starts with "/" is relative to the
// base URL given to Run.
type Request struct {
	Name   string // route label: non-empty, unique within its stream (bounded; given by the scenario)
	Weight int    // relative weight, >= 1
	Method string // default DefaultMethod
	URL    string
	Body   string
	Header map[string]string
}

// Data is what request templates see.
type Data struct {
	Base string // the base URL given to Run, without a trailing slash
	Seq  uint64 // the request's number within its stream, from 0, unique across the stream's entries
	ID   string // unique within the process: a random per-Run prefix and Seq
	// Token is Stream.Token: a bearer token for the target, such as the one
	// of the load user a local target signs in.
	Token string
	// RunID is Stream.RunID: the run's identifier.
	RunID string
	// User is the virtual user of a stream with a Session (round robin or
	// random, see Pick); nil without one.
	User *User
	// Row is the row of Stream.Rows numbered Seq mod len(Rows), by column
	// name ({{.Row.email}}); nil without rows.
	Row map[string]string

	urls map[string]string
	rnd  uint64 // the state of the request's generator (randInt, pick)
}

// URL returns Stream.URLs[name]: {{.URL "admin"}}; an error for a name the
// stream does not know.
func (d *Data) URL(name string) (string, error) {
	u, ok := d.urls[name]
	if !ok {
		return "", fmt.Errorf("unknown URL %q", name)
	}
	return u, nil
}

// Stream is one named load stream.
type Stream struct {
	Name string // non-empty, no "/": results are labelled "<stream>/<route>"
	// Rate paces the whole mix: a vegeta.Rate for a constant rate, or any
	// vegeta.Pacer (PacerOf builds a scenario profile's). Each request of
	// the mix gets its share of it by weight.
	Rate     vegeta.Pacer
	Duration time.Duration // how long to send; 0: until Run's context ends
	Requests []Request     // the weighted mix, at least one entry
	Timeout  time.Duration // per request; 0: DefaultTimeout
	// MaxWorkers caps the stream's concurrent requests: one pool its
	// entries share, so that a busy entry may use what an idle one does
	// not. 0: derived as the peak rate per
	// second within Duration × timeout in seconds, at least Workers, at
	// most DefaultMaxWorkersCap.
	MaxWorkers int
	// Workers is how many workers the stream starts with (at most
	// MaxWorkers); 0: DefaultWorkers. The stream adds workers up to
	// MaxWorkers as it needs them.
	Workers int
	// Connections caps the keep-alive connections the stream opens to
	// each host of the target (a worker waits for one when all are busy,
	// at most Timeout); 0: the stream's maximum number of workers, so
	// every worker has its connection.
	Connections int
	// Token is what request templates see as {{.Token}}.
	Token string
	// URLs are what {{.URL "name"}} returns, by name.
	URLs map[string]string
	// Header holds headers added to every request; a request's own header
	// of the same name wins. Shared read-only.
	Header http.Header
	// Funcs are functions request templates may call besides the built-in
	// ones (randInt, pick, now: see funcs.go). Templates are parsed once
	// with them.
	Funcs template.FuncMap
	// RunID is what request templates see as {{.RunID}}.
	RunID string
	// Seed seeds randInt, pick and PickRandom: the same seed gives each
	// request number the same draws.
	Seed uint64
	// Rows are what {{.Row.column}} reads, the request numbered Seq seeing
	// Rows[Seq mod len(Rows)]. Shared read-only.
	Rows []map[string]string
	// Session gives every request a signed-in user ({{.User.Token}}), by
	// Pick; nil: none. Run does not re-log users in by itself: pass the
	// Session as a Sink too, so that a 401 does (see Sessions).
	Session *Sessions
	Pick    Pick
	// MaxBody is how many bytes of a response body a Result keeps; 0:
	// DefaultMaxBody; negative: the whole body.
	MaxBody int64
	// RootCAs are the certificate authorities trusted for https URLs,
	// instead of the system's; nil: the system's.
	RootCAs *x509.CertPool
}

// Summary is what Run reports about a stream once it has ended.
type Summary struct {
	Stream    string
	Requests  uint64                 // results delivered
	Successes uint64                 // results whose Outcome is OutcomeSuccess
	Canceled  uint64                 // results whose Outcome is OutcomeCanceled
	Dropped   uint64                 // hits due while every worker was busy: not sent, not in Requests
	Routes    map[string]RouteCounts // per route name
	Elapsed   time.Duration          // from the first attack's start to the last result
	// Interrupted is true when Run's context ended the stream before its
	// Duration elapsed.
	Interrupted bool
}

// RouteCounts are one route's counts in a Summary.
type RouteCounts struct {
	Requests  uint64
	Successes uint64
	Canceled  uint64
	Dropped   uint64
}

// entryPlan is one validated entry of a stream, ready to attack.
type entryPlan struct {
	route    string
	attack   string       // "<stream>/<route>"
	pacer    vegeta.Pacer // the entry's share of the stream's pacer
	targeter *targeter
}

// streamPlan is a validated stream with its defaults filled in.
type streamPlan struct {
	name        string
	timeout     time.Duration
	connections int
	maxBody     int64
	// maxWorkers caps the requests of all the entries in flight at once:
	// one pool, so that a busy entry may use what an idle one does not.
	maxWorkers uint64
	workers    int // how many workers the stream starts with
	entries    []entryPlan
}

// plan validates s, fills in its defaults, parses its templates and renders
// each once against base, so that a bad stream fails before any request.
func (s *Stream) plan(base, idPrefix string) (*streamPlan, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if s.Name == "" {
		bad("name is empty")
	} else if strings.Contains(s.Name, "/") {
		bad("name %q contains %q", s.Name, "/")
	}
	var peak float64
	switch r := s.Rate.(type) {
	case nil:
		bad("rate is missing")
	case vegeta.ConstantPacer:
		if r.Freq <= 0 || r.Per <= 0 {
			bad("rate %d/%s is not positive", r.Freq, r.Per)
		}
		peak = peakRate(r, s.Duration)
	default:
		if peak = peakRate(r, s.Duration); !(peak > 0) {
			bad("rate %v peaks at %g per second, not positive", r, peak)
		}
	}
	if s.Duration < 0 {
		bad("duration %s is negative", s.Duration)
	}
	if s.Timeout < 0 {
		bad("timeout %s is negative", s.Timeout)
	}
	if s.MaxWorkers < 0 || s.Workers < 0 || s.Connections < 0 {
		bad("workers %d, max workers %d or connections %d is negative", s.Workers, s.MaxWorkers, s.Connections)
	}
	if len(s.Requests) == 0 {
		bad("no requests")
	}
	if s.Pick != PickRoundRobin && s.Pick != PickRandom {
		bad("pick %d is unknown", s.Pick)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("base URL %q is not an absolute http(s) URL", base)
	}
	base = strings.TrimRight(base, "/")

	sum := 0
	seen := make(map[string]bool, len(s.Requests))
	for i, r := range s.Requests {
		switch {
		case r.Name == "":
			bad("requests[%d]: name is empty", i)
		case seen[r.Name]:
			bad("requests[%d]: duplicate name %q", i, r.Name)
		}
		seen[r.Name] = true
		if r.Weight < 1 {
			bad("requests[%d] %q: weight %d is less than 1", i, r.Name, r.Weight)
		}
		if r.Weight > 0 && sum <= math.MaxInt32 {
			sum += r.Weight
		}
	}
	if sum > math.MaxInt32 {
		bad("sum of weights is above %d", math.MaxInt32)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	p := &streamPlan{
		name:        s.Name,
		timeout:     cmp.Or(s.Timeout, DefaultTimeout),
		connections: s.Connections,
		maxBody:     cmp.Or(s.MaxBody, DefaultMaxBody),
	}
	if p.maxBody < 0 {
		p.maxBody = vegeta.DefaultMaxBody // no limit
	}
	workers := cmp.Or(s.Workers, DefaultWorkers)
	maxWorkers := s.MaxWorkers
	if maxWorkers == 0 {
		maxWorkers = deriveMaxWorkers(peak, p.timeout, workers)
	}
	if p.connections == 0 {
		p.connections = maxWorkers
	}
	p.maxWorkers = uint64(max(maxWorkers, 1)) //nolint:gosec // G115: at least 1
	p.workers = min(workers, maxWorkers)

	var seq atomic.Uint64
	for i, r := range s.Requests {
		tr, err := newTargeter(r, targetFacts{
			base: base, token: s.Token, runID: s.RunID, urls: s.URLs, header: s.Header, funcs: s.Funcs,
			seed: s.Seed, rows: s.Rows, sess: s.Session, pick: s.Pick,
		}, idPrefix, &seq)
		if err != nil {
			errs = append(errs, fmt.Errorf("requests[%d] %q: %w", i, r.Name, err))
			continue
		}
		p.entries = append(p.entries, entryPlan{
			route:    r.Name,
			attack:   s.Name + "/" + r.Name,
			pacer:    shareOfPacer(s.Rate, r.Weight, sum),
			targeter: tr,
		})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// shareOf is the exact share w/sum of rate: Freq×w per Per×sum, reduced by
// their common divisor.
func shareOf(rate vegeta.Rate, w, sum int) vegeta.Rate {
	g := gcd(w, sum)
	return vegeta.Rate{Freq: rate.Freq * (w / g), Per: rate.Per * time.Duration(sum/g)}
}

// deriveMaxWorkers is the peak rate per second × timeout in seconds,
// rounded up, at least workers and at most DefaultMaxWorkersCap.
func deriveMaxWorkers(peak float64, timeout time.Duration, workers int) int {
	n := math.Ceil(peak * timeout.Seconds())
	return int(min(max(n, float64(workers)), DefaultMaxWorkersCap))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
