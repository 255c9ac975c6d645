package network

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

func TestSpecToxic(t *testing.T) {
	tests := []struct {
		spec     Spec
		stream   string
		toxicity float32
		attrs    toxiclient.Attributes
		action   string
	}{
		// Latency in whole milliseconds, downstream by default.
		{Spec{Toxic: ToxicLatency, Latency: 200 * time.Millisecond, Jitter: 20 * time.Millisecond},
			Downstream, 1, toxiclient.Attributes{"latency": int64(200), "jitter": int64(20)}, "latency 200ms±20ms downstream"},
		// Sub-millisecond parts round to the nearest millisecond.
		{Spec{Toxic: ToxicLatency, Latency: 1500 * time.Microsecond, Direction: Upstream, Toxicity: 0.5},
			Upstream, 0.5, toxiclient.Attributes{"latency": int64(2), "jitter": int64(0)}, "latency 1.5ms upstream toxicity 0.5"},
		// Timeout on upstream by default.
		{Spec{Toxic: ToxicTimeout, Timeout: 5 * time.Second},
			Upstream, 1, toxiclient.Attributes{"timeout": int64(5000)}, "timeout 5s upstream"},
		// Timeout 0 holds the data until removed.
		{Spec{Toxic: ToxicTimeout},
			Upstream, 1, toxiclient.Attributes{"timeout": int64(0)}, "timeout upstream"},
		// reset_peer on upstream by default, after its timeout.
		{Spec{Toxic: ToxicResetPeer, Timeout: 250 * time.Millisecond},
			Upstream, 1, toxiclient.Attributes{"timeout": int64(250)}, "reset_peer after 250ms upstream"},
		// Bandwidth in KB/s, downstream by default; toxicity 1 is not shown.
		{Spec{Toxic: ToxicBandwidth, RateKBps: 64, Toxicity: 1},
			Downstream, 1, toxiclient.Attributes{"rate": int64(64)}, "bandwidth 64KB/s downstream"},
		// Down is no toxic.
		{Spec{Toxic: ToxicDown},
			Downstream, 1, toxiclient.Attributes{}, "down (proxy disabled)"},
	}
	for _, tt := range tests {
		if got := tt.spec.stream(); got != tt.stream {
			t.Errorf("%+v.stream() = %q; want %q", tt.spec, got, tt.stream)
		}
		if got := tt.spec.toxicity(); got != tt.toxicity {
			t.Errorf("%+v.toxicity() = %v; want %v", tt.spec, got, tt.toxicity)
		}
		if got := tt.spec.attributes(); !maps.Equal(got, tt.attrs) {
			t.Errorf("%+v.attributes() = %v; want %v", tt.spec, got, tt.attrs)
		}
		if got := tt.spec.action(); got != tt.action {
			t.Errorf("%+v.action() = %q; want %q", tt.spec, got, tt.action)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		spec Spec
		want []string // the lines of the error, in order; none: valid
	}{
		// Valid specs of every toxic.
		{Spec{Link: "db", Toxic: ToxicLatency, Latency: time.Millisecond}, nil},
		{Spec{Link: "db", Toxic: ToxicTimeout}, nil},
		{Spec{Link: "db", Toxic: ToxicResetPeer, Direction: Downstream}, nil},
		{Spec{Link: "db", Toxic: ToxicBandwidth, RateKBps: 1, Toxicity: 1}, nil},
		{Spec{Link: "db", Toxic: ToxicDown}, nil},
		// Every problem is named, in field order.
		{Spec{Toxic: ToxicLatency, Latency: 999 * time.Microsecond, Jitter: -1, Direction: "sideways", Toxicity: 1.5},
			[]string{"link: must be set", "latency: 999µs is below 1ms", "jitter: -1ns is negative",
				`direction: "sideways" is not upstream or downstream`, "toxicity: 1.5 is outside [0,1]"}},
		// Unknown toxic.
		{Spec{Link: "db", Toxic: "slicer"}, []string{`toxic: "slicer" is not one of latency, timeout, reset_peer, bandwidth, down`}},
		// Negative timeout.
		{Spec{Link: "db", Toxic: ToxicTimeout, Timeout: -time.Second}, []string{"timeout: -1s is negative"}},
		// No rate.
		{Spec{Link: "db", Toxic: ToxicBandwidth}, []string{"rateKBps: 0 is below 1"}},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("%+v.Validate() = %v; want nil", tt.spec, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%+v.Validate() = nil; want %q", tt.spec, tt.want)
			continue
		}
		if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
			t.Errorf("%+v.Validate() = %q; want %q", tt.spec, got, tt.want)
		}
	}
}
