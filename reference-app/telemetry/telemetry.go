// Package telemetry is how a refapp process makes itself observable: a
// per-process Prometheus registry, HTTP request metrics labelled by route
// pattern, request logs, and the header naming the instance that answered.
package telemetry

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// InstanceHeader names the response header that carries the instance name
// of the process that produced the response.
const InstanceHeader = "X-Refapp-Instance"

// UnmatchedRoute is the route label of a request that matched no pattern.
const UnmatchedRoute = "unmatched"

// DurationBuckets are the upper bounds, in seconds, of the request duration
// histogram: from loopback speed (1 ms) to well past any timeout (10 s).
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewRegistry returns a fresh registry (never the global default one)
// holding the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// HTTPMetrics records refapp_http_requests_total{role,route,method,code}
// and refapp_http_request_duration_seconds{role,route,method}.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	log      *slog.Logger
}

// NewHTTPMetrics registers the HTTP metrics of a process playing role on
// reg. log receives one Debug record per request (never its headers); nil
// discards them.
func NewHTTPMetrics(reg prometheus.Registerer, role string, log *slog.Logger) (*HTTPMetrics, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "refapp_http_requests_total",
			Help:        "HTTP requests served, by route pattern, method and status code.",
			ConstLabels: prometheus.Labels{"role": role},
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "refapp_http_request_duration_seconds",
			Help:        "Time to serve an HTTP request, by route pattern and method.",
			ConstLabels: prometheus.Labels{"role": role},
			Buckets:     DurationBuckets,
		}, []string{"route", "method"}),
		log: log,
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register http metrics: %w", err)
		}
	}
	return m, nil
}

// Wrap returns mux instrumented. The route label is the pattern mux matched
// (without its method), so label values stay bounded whatever paths clients
// send; a request that matched nothing is labelled UnmatchedRoute.
func (m *HTTPMetrics) Wrap(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			code := sw.code
			p := recover()
			if p != nil && code == 0 {
				code = http.StatusInternalServerError
			}
			if code == 0 {
				code = http.StatusOK
			}
			route, method := Route(r.Pattern), Method(r.Method)
			elapsed := time.Since(start)
			m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
			m.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
			m.log.Debug("request", "method", method, "route", route, "code", code, "duration", elapsed.String())
			if p != nil {
				if err, ok := p.(error); !ok || !errors.Is(err, http.ErrAbortHandler) {
					m.log.Error("handler panic", "route", route, "panic", fmt.Sprint(p))
				}
				panic(p)
			}
		}()
		mux.ServeHTTP(sw, r)
	})
}

// Route returns the route label of a ServeMux pattern: the pattern without
// its method, or UnmatchedRoute for the empty pattern.
func Route(pattern string) string {
	if pattern == "" {
		return UnmatchedRoute
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return strings.TrimLeft(path, " \t")
	}
	return pattern
}

// Method returns the method label of an HTTP method: the method itself when
// it is one of the standard ones, else "other", so that clients cannot
// grow the label set.
func Method(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

// WithInstance returns h with the InstanceHeader set to instance on every
// response. h may overwrite it (a proxy forwarding its upstream's value).
func WithInstance(instance string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(InstanceHeader, instance)
		h.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code int // first status written; 0 until then
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
