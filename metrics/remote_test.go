package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
)

// serveAPI serves /api/v1/query and /api/v1/query_range on loopback,
// answering with s's engine and TSDB and encoding as the Prometheus HTTP API
// does (documented envelope; values through prometheus/common/model, whose
// JSON is the API's wire format).
//
// Prometheus's own handler (web/api/v1) is not used here on purpose: in
// v0.315.0 it pulls about 50 more modules (alertmanager, the OpenTelemetry
// collector, OpenAPI validators) into go.mod for this one test. TestRemote
// and TestRemoteUnreachable, unchanged, also pass against that handler
// (checked in a scratch copy of the module with those requirements added).
func serveAPI(t *testing.T, s *Stored) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query", func(w http.ResponseWriter, r *http.Request) {
		ts, err := apiTime(r.FormValue("time"))
		if err != nil {
			apiError(w, err)
			return
		}
		q, err := s.q.engine.NewInstantQuery(r.Context(), s.db, nil, r.FormValue("query"), ts)
		apiRespond(r.Context(), w, q, err)
	})
	mux.HandleFunc("/api/v1/query_range", func(w http.ResponseWriter, r *http.Request) {
		start, err1 := apiTime(r.FormValue("start"))
		end, err2 := apiTime(r.FormValue("end"))
		step, err3 := strconv.ParseFloat(r.FormValue("step"), 64)
		if err := firstErr(err1, err2, err3); err != nil {
			apiError(w, err)
			return
		}
		q, err := s.q.engine.NewRangeQuery(r.Context(), s.db, nil, r.FormValue("query"), start, end, time.Duration(math.Round(step*float64(time.Second))))
		apiRespond(r.Context(), w, q, err)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// apiTime parses the API's float-seconds time, rounded to milliseconds as
// Prometheus does.
func apiTime(s string) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC(), nil
}

func apiError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": err.Error()})
}

func apiRespond(ctx context.Context, w http.ResponseWriter, q promql.Query, err error) {
	if err != nil {
		apiError(w, err)
		return
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		apiError(w, res.Err)
		return
	}
	var v model.Value
	switch r := res.Value.(type) {
	case promql.Matrix:
		m := model.Matrix{}
		for _, s := range r {
			ss := &model.SampleStream{Metric: modelMetric(s.Metric.Map())}
			for _, p := range s.Floats {
				ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.Time(p.T), Value: model.SampleValue(p.F)})
			}
			m = append(m, ss)
		}
		v = m
	case promql.Vector:
		vec := model.Vector{}
		for _, s := range r {
			vec = append(vec, &model.Sample{Metric: modelMetric(s.Metric.Map()), Timestamp: model.Time(s.T), Value: model.SampleValue(s.F)})
		}
		v = vec
	case promql.Scalar:
		v = &model.Scalar{Timestamp: model.Time(r.T), Value: model.SampleValue(r.V)}
	case promql.String:
		v = &model.String{Timestamp: model.Time(r.T), Value: r.V}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "success",
		"data":   map[string]any{"resultType": v.Type().String(), "result": v},
	})
}

func modelMetric(m map[string]string) model.Metric {
	out := make(model.Metric, len(m))
	for k, v := range m {
		out[model.LabelName(k)] = model.LabelValue(v)
	}
	return out
}

// TestRemote runs the Querier tests through the HTTP API and the client, and
// compares with the engine answering directly.
func TestRemote(t *testing.T) {
	s := openSynthetic(t, 3, 2*time.Minute)
	srv := serveAPI(t, s)
	r, err := NewRemote(srv.URL)
	if err != nil {
		t.Fatalf("NewRemote(%q) error: %v", srv.URL, err)
	}
	runQueryTests(t, r)
	runQueryErrorTests(t, r)

	// Irregular values survive the JSON round trip exactly.
	for _, expr := range []string{`rate(x[7s]) / 3`, `sum(rate(x[10s])) / count(x)`, `x / 7`} {
		want, err := s.QueryRange(t.Context(), expr, at(3*time.Second), at(100*time.Second), 700*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.QueryRange(t.Context(), expr, at(3*time.Second), at(100*time.Second), 700*time.Millisecond)
		if err != nil {
			t.Fatalf("Remote.QueryRange(%q) error: %v", expr, err)
		}
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("Remote.QueryRange(%q) = %v; want %v (non-empty)", expr, got, want)
		}
	}
}

func TestRemoteUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	r, err := NewRemote(addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Query(t.Context(), "up", time.Now()); err == nil {
		t.Errorf("Query(up) against closed %s: error = nil; want one", addr)
	}
}
