package judge

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/slo"
)

// The answers of the target's own Prometheus are recorded in the run
// directory when the run is judged, so that `gameday report` rebuilds the
// same verdicts from the directory alone, after the server's retention or
// credentials are gone.

// promqlAnswer is one line of rundir.FilePromQL.
type promqlAnswer struct {
	Expr   string        `json:"expr"`
	Start  time.Time     `json:"start"`
	End    time.Time     `json:"end"`
	Step   time.Duration `json:"step"`
	Series []recSeries   `json:"series,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// recSeries is a metrics.Series as JSON can hold it: points as
// [unix milliseconds, value as Prometheus writes it], NaN and ±Inf included.
type recSeries struct {
	Labels map[string]string `json:"labels"`
	Points [][2]string       `json:"points"`
}

func toRec(ss []metrics.Series) []recSeries {
	out := make([]recSeries, len(ss))
	for i, s := range ss {
		out[i].Labels = s.Labels
		for _, p := range s.Points {
			out[i].Points = append(out[i].Points, [2]string{strconv.FormatInt(p.T.UnixMilli(), 10), strconv.FormatFloat(p.V, 'g', -1, 64)})
		}
	}
	return out
}

func fromRec(rs []recSeries) ([]metrics.Series, error) {
	out := make([]metrics.Series, len(rs))
	for i, r := range rs {
		out[i].Labels = r.Labels
		if out[i].Labels == nil {
			out[i].Labels = map[string]string{}
		}
		for _, p := range r.Points {
			ms, err := strconv.ParseInt(p[0], 10, 64)
			if err != nil {
				return nil, err
			}
			v, err := strconv.ParseFloat(p[1], 64)
			if err != nil {
				return nil, err
			}
			out[i].Points = append(out[i].Points, metrics.Point{T: time.UnixMilli(ms).UTC(), V: v})
		}
	}
	return out, nil
}

func (a promqlAnswer) key() string {
	return fmt.Sprintf("%s\x00%d\x00%d\x00%d", a.Expr, a.Start.UnixMilli(), a.End.UnixMilli(), a.Step)
}

// recording answers through q and appends every answer to the file at
// path. It is safe for concurrent use.
func recording(q slo.QueryRangeFunc, path string) (slo.QueryRangeFunc, func() error, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("record promql answers: %w", err)
	}
	var mu sync.Mutex // guards f
	enc := json.NewEncoder(f)
	fn := func(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]metrics.Series, error) {
		series, qerr := q(ctx, expr, start, end, step)
		a := promqlAnswer{Expr: expr, Start: start, End: end, Step: step, Series: toRec(series)}
		if qerr != nil {
			a.Error = qerr.Error()
		}
		mu.Lock()
		defer mu.Unlock()
		if err := enc.Encode(a); err != nil {
			return nil, errors.Join(qerr, fmt.Errorf("record promql answer: %w", err))
		}
		return series, qerr
	}
	return fn, f.Close, nil
}

// recorded answers from the file at path, as recorded; a question it does
// not hold is an error that says how to ask the server again.
func recorded(path string) (slo.QueryRangeFunc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	answers := map[string]promqlAnswer{}
	sc := bufio.NewScanner(io.LimitReader(f, 256<<20))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var a promqlAnswer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			continue // a torn last line
		}
		answers[a.key()] = a
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return func(_ context.Context, expr string, start, end time.Time, step time.Duration) ([]metrics.Series, error) {
		a, ok := answers[promqlAnswer{Expr: expr, Start: start, End: end, Step: step}.key()]
		if !ok {
			return nil, fmt.Errorf("query %q: not recorded in %s (judge again with --promql-from target)", expr, rundir.FilePromQL)
		}
		series, err := fromRec(a.Series)
		if err != nil {
			return nil, fmt.Errorf("query %q: recorded answer: %w", expr, err)
		}
		if a.Error != "" {
			return series, errors.New(a.Error)
		}
		return series, nil
	}, nil
}

// promqlRecordPath is where the run in dir keeps its recorded answers.
func promqlRecordPath(dir string) string { return filepath.Join(dir, rundir.FilePromQL) }
