package autoscaler

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Gateway metric names the autoscaler reads.
const (
	busyMetric     = "refapp_gateway_upstream_busy_seconds_total"
	upMetric       = "refapp_gateway_upstream_up"
	drainingMetric = "refapp_gateway_upstream_draining"
)

// gatewayView is one scrape of the gateway's metrics.
type gatewayView struct {
	at   time.Time
	busy float64         // refapp_gateway_upstream_busy_seconds_total summed over upstreams
	set  map[string]bool // upstreams the gateway lists (members and draining)
}

// scrape reads the gateway's /metrics.
func scrape(ctx context.Context, client *http.Client, metricsURL string) (gatewayView, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return gatewayView{}, fmt.Errorf("scrape the gateway: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return gatewayView{}, fmt.Errorf("scrape the gateway: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return gatewayView{}, fmt.Errorf("scrape the gateway: status %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return gatewayView{}, fmt.Errorf("scrape the gateway: %w", err)
	}
	v := gatewayView{at: time.Now(), set: map[string]bool{}}
	if f, ok := families[busyMetric]; ok {
		for _, m := range f.GetMetric() {
			v.busy += m.GetCounter().GetValue()
		}
	}
	for _, name := range []string{upMetric, drainingMetric} {
		for _, m := range families[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "upstream" {
					v.set[l.GetValue()] = true
				}
			}
		}
	}
	return v, nil
}

// inFlight returns the mean number of requests in flight through the
// gateway between two scrapes (Little's law over the busy-seconds
// counter); false when there is no interval or the counter went back (the
// gateway restarted).
func inFlight(prev, cur gatewayView) (float64, bool) {
	dt := cur.at.Sub(prev.at).Seconds()
	if prev.at.IsZero() || dt <= 0 || cur.busy < prev.busy {
		return 0, false
	}
	return (cur.busy - prev.busy) / dt, true
}
