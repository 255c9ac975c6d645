package network

import (
	"errors"
	"fmt"
	"math"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Toxic types a Spec can name. All but ToxicDown are Toxiproxy toxic types;
// ToxicDown disables the proxy instead.
const (
	ToxicLatency   = "latency"    // delay data by Latency ± Jitter
	ToxicTimeout   = "timeout"    // stop all data; close the connection after Timeout if set
	ToxicResetPeer = "reset_peer" // reset connections (ECONNRESET) after Timeout
	ToxicBandwidth = "bandwidth"  // limit the stream to RateKBps
	ToxicDown      = "down"       // disable the proxy: connections are refused
)

// Directions of a link, as Spec.Direction names them.
const (
	Upstream   = "upstream"   // client to server
	Downstream = "downstream" // server to client
)

// Spec says which toxic a network fault adds to which link.
type Spec struct {
	Link  string // proxy name
	Toxic string // "latency", "timeout", "reset_peer", "bandwidth", "down"
	// Latency and Jitter are for latency; Timeout for timeout (0: hold the
	// data until the toxic is removed) and reset_peer (0: reset at once).
	// Toxiproxy counts in milliseconds: durations are rounded to the nearest.
	Latency, Jitter, Timeout time.Duration
	RateKBps                 int // for bandwidth, in kilobytes per second
	// Direction is "upstream" or "downstream"; empty takes the stream on which
	// the toxic behaves as named: downstream for latency and bandwidth,
	// upstream for timeout and reset_peer. Ignored by down.
	Direction string
	// Toxicity is the probability, in [0,1], that a connection is affected;
	// 0 is taken as 1, since a toxic that never applies is no fault. Ignored
	// by down.
	Toxicity float64
}

// Validate returns every problem of s, joined, in field order; nil if s can
// be injected.
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Link == "" {
		bad("link: must be set")
	}
	switch s.Toxic {
	case ToxicLatency:
		if s.Latency < time.Millisecond {
			bad("latency: %v is below 1ms", s.Latency)
		}
		if s.Jitter < 0 {
			bad("jitter: %v is negative", s.Jitter)
		}
	case ToxicTimeout, ToxicResetPeer:
		if s.Timeout < 0 {
			bad("timeout: %v is negative", s.Timeout)
		}
	case ToxicBandwidth:
		if s.RateKBps < 1 {
			bad("rateKBps: %d is below 1", s.RateKBps)
		}
	case ToxicDown:
	default:
		bad("toxic: %q is not one of latency, timeout, reset_peer, bandwidth, down", s.Toxic)
	}
	switch s.Direction {
	case "", Upstream, Downstream:
	default:
		bad("direction: %q is not upstream or downstream", s.Direction)
	}
	if math.IsNaN(s.Toxicity) || s.Toxicity < 0 || s.Toxicity > 1 {
		bad("toxicity: %v is outside [0,1]", s.Toxicity)
	}
	return errors.Join(errs...)
}

// stream is the direction the toxic goes on. By default it is the stream on
// which the toxic behaves as its name says: timeout on downstream makes an
// HTTP client see EOF at once instead of a hang, and reset_peer on upstream
// resets the connection as the request arrives.
func (s Spec) stream() string {
	switch {
	case s.Direction != "":
		return s.Direction
	case s.Toxic == ToxicTimeout, s.Toxic == ToxicResetPeer:
		return Upstream
	default:
		return Downstream
	}
}

// toxicity is the probability handed to Toxiproxy.
func (s Spec) toxicity() float32 {
	if s.Toxicity == 0 {
		return 1
	}
	return float32(s.Toxicity)
}

// millis converts d to Toxiproxy's whole milliseconds. This is the only place
// durations become numbers.
func millis(d time.Duration) int64 { return d.Round(time.Millisecond).Milliseconds() }

// attributes are the toxic's Toxiproxy attributes; s is valid and not down.
func (s Spec) attributes() toxiclient.Attributes {
	switch s.Toxic {
	case ToxicLatency:
		return toxiclient.Attributes{"latency": millis(s.Latency), "jitter": millis(s.Jitter)}
	case ToxicTimeout, ToxicResetPeer:
		return toxiclient.Attributes{"timeout": millis(s.Timeout)}
	case ToxicBandwidth:
		return toxiclient.Attributes{"rate": int64(s.RateKBps)}
	}
	return toxiclient.Attributes{}
}

// action is the human description of the fault for its record.
func (s Spec) action() string {
	var a string
	switch s.Toxic {
	case ToxicDown:
		return "down (proxy disabled)"
	case ToxicLatency:
		a = fmt.Sprintf("latency %v", s.Latency)
		if s.Jitter > 0 {
			a += fmt.Sprintf("±%v", s.Jitter)
		}
	case ToxicTimeout:
		a = "timeout"
		if s.Timeout > 0 {
			a += fmt.Sprintf(" %v", s.Timeout)
		}
	case ToxicResetPeer:
		a = "reset_peer"
		if s.Timeout > 0 {
			a += fmt.Sprintf(" after %v", s.Timeout)
		}
	case ToxicBandwidth:
		a = fmt.Sprintf("bandwidth %dKB/s", s.RateKBps)
	}
	a += " " + s.stream()
	if s.Toxicity > 0 && s.Toxicity < 1 {
		a += fmt.Sprintf(" toxicity %g", s.Toxicity)
	}
	return a
}
