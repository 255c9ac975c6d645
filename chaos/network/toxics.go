package network

import (
	"errors"
	"fmt"
	"math"
	"slices"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Streams of a link, as Toxic.Stream names them.
const (
	Upstream   = "upstream"   // client to server
	Downstream = "downstream" // server to client
)

// Toxic is one Toxiproxy toxic, in Toxiproxy's own terms: its type (any
// Toxiproxy toxic: latency, bandwidth, slow_close, timeout, reset_peer,
// slicer, limit_data...), its stream, its toxicity and its attributes
// (milliseconds, bytes, KB/s or microseconds, as Toxiproxy counts them).
// The scenario layer decides what is valid and computes the defaults; this
// package applies what it is given.
type Toxic struct {
	// Part names the toxic within its fault ("" for a fault's only toxic),
	// so that a fault may add several.
	Part       string
	Type       string
	Stream     string  // Upstream or Downstream
	Toxicity   float64 // in [0, 1]; 0 affects no connection
	Attributes map[string]int64
}

// Spec says what a network fault does to which link: adds Toxics, or, with
// Down, disables the proxy.
type Spec struct {
	Link   string // proxy name
	Toxics []Toxic
	Down   bool
	// Action describes the fault for its record: "latency 200ms±20ms downstream".
	Action string
}

// Validate returns every structural problem of s, joined: what Toxiproxy
// could not apply whatever the values. It decides nothing the scenario
// layer decides.
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Link == "" {
		bad("link: must be set")
	}
	if s.Down == (len(s.Toxics) > 0) {
		bad("exactly one of toxics and down is required")
	}
	var parts []string
	for i, t := range s.Toxics {
		if t.Type == "" {
			bad("toxics[%d]: no type", i)
		}
		if t.Stream != Upstream && t.Stream != Downstream {
			bad("toxics[%d]: stream %q is not upstream or downstream", i, t.Stream)
		}
		if math.IsNaN(t.Toxicity) || t.Toxicity < 0 || t.Toxicity > 1 {
			bad("toxics[%d]: toxicity %v is outside [0,1]", i, t.Toxicity)
		}
		if slices.Contains(parts, t.Part) {
			bad("toxics[%d]: part %q twice", i, t.Part)
		}
		parts = append(parts, t.Part)
	}
	return errors.Join(errs...)
}

// attributes converts t's attributes for the client.
func (t Toxic) attributes() toxiclient.Attributes {
	a := toxiclient.Attributes{}
	for k, v := range t.Attributes {
		a[k] = v
	}
	return a
}
