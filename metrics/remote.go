package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Remote answers PromQL through the HTTP API of a running Prometheus server
// (an external target's). Warnings and infos the server attaches to a result
// are dropped, as Embedded and Stored drop the engine's annotations. It is
// safe for concurrent use.
type Remote struct {
	address string
	api     promv1.API
}

// RemoteOption configures NewRemote.
type RemoteOption func(*remoteOptions)

type remoteOptions struct {
	rt     http.RoundTripper
	header http.Header
}

// WithHeader sends h with every request (authentication).
func WithHeader(h http.Header) RemoteOption {
	return func(o *remoteOptions) { o.header = h }
}

// headerTransport adds headers to every request.
type headerTransport struct {
	h  http.Header
	rt http.RoundTripper
}

func (t headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range t.h {
		req.Header[k] = v
	}
	return t.rt.RoundTrip(req)
}

// WithRoundTripper sets the HTTP transport (default: client_golang's
// api.DefaultRoundTripper), e.g. to add authentication or TLS settings.
func WithRoundTripper(rt http.RoundTripper) RemoteOption {
	return func(o *remoteOptions) { o.rt = rt }
}

// NewRemote returns a Querier for the Prometheus server at address, its base
// URL (e.g. http://prometheus:9090). It does not contact the server.
func NewRemote(address string, opts ...RemoteOption) (*Remote, error) {
	var o remoteOptions
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.header) > 0 {
		rt := o.rt
		if rt == nil {
			rt = api.DefaultRoundTripper
		}
		o.rt = headerTransport{h: o.header, rt: rt}
	}
	address = strings.TrimRight(address, "/")
	c, err := api.NewClient(api.Config{Address: address, RoundTripper: o.rt})
	if err != nil {
		return nil, fmt.Errorf("remote prometheus %q: %w", address, err)
	}
	return &Remote{address: address, api: promv1.NewAPI(c)}, nil
}

// QueryRange evaluates expr at every step in [start, end] on the server.
func (r *Remote) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	if step <= 0 {
		return nil, fmt.Errorf("query %q: step %v: must be positive", expr, step)
	}
	if end.Before(start) {
		return nil, fmt.Errorf("query %q: end %v before start %v", expr, end, start)
	}
	v, _, _, err := r.api.QueryRange(ctx, expr, promv1.Range{Start: start, End: end, Step: step})
	if err != nil {
		return nil, fmt.Errorf("query %q: %s: %w", expr, r.address, err)
	}
	return modelSeries(expr, v, false)
}

// Query evaluates expr at t on the server.
func (r *Remote) Query(ctx context.Context, expr string, t time.Time) ([]Series, error) {
	v, _, _, err := r.api.Query(ctx, expr, t)
	if err != nil {
		return nil, fmt.Errorf("query %q: %s: %w", expr, r.address, err)
	}
	return modelSeries(expr, v, true)
}

// modelSeries converts an HTTP API result; it mirrors resultSeries.
func modelSeries(expr string, v model.Value, instant bool) ([]Series, error) {
	switch v := v.(type) {
	case model.Matrix:
		if instant {
			return nil, fmt.Errorf("query %q: %w", expr, errRangeVector)
		}
		out := make([]Series, 0, len(v))
		for _, s := range v {
			if len(s.Histograms) > 0 {
				return nil, fmt.Errorf("query %q: series %s: %w", expr, s.Metric, errHistogram)
			}
			pts := make([]Point, len(s.Values))
			for i, p := range s.Values {
				pts[i] = Point{T: msTime(int64(p.Timestamp)), V: float64(p.Value)}
			}
			out = append(out, Series{Labels: labelMap(s.Metric), Points: pts})
		}
		return out, nil
	case model.Vector:
		out := make([]Series, 0, len(v))
		for _, s := range v {
			if s.Histogram != nil {
				return nil, fmt.Errorf("query %q: series %s: %w", expr, s.Metric, errHistogram)
			}
			out = append(out, Series{
				Labels: labelMap(s.Metric),
				Points: []Point{{T: msTime(int64(s.Timestamp)), V: float64(s.Value)}},
			})
		}
		return out, nil
	case *model.Scalar:
		return []Series{{Labels: map[string]string{}, Points: []Point{{T: msTime(int64(v.Timestamp)), V: float64(v.Value)}}}}, nil
	case nil:
		return nil, fmt.Errorf("query %q: result type none: want a vector, a matrix or a scalar", expr)
	default:
		return nil, fmt.Errorf("query %q: result type %s: want a vector, a matrix or a scalar", expr, v.Type())
	}
}

func labelMap(m model.Metric) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}
