package queue

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Descriptions of the broker's metrics.
var (
	streamMessagesDesc = prometheus.NewDesc("refapp_queue_stream_messages",
		"Messages held in the NOTIFICATIONS stream.", nil, nil)
	streamBytesDesc = prometheus.NewDesc("refapp_queue_stream_bytes",
		"Bytes held in the NOTIFICATIONS stream.", nil, nil)
	consumerPendingDesc = prometheus.NewDesc("refapp_queue_consumer_pending",
		"Messages of the stream a consumer has not acknowledged yet: not yet delivered, or delivered and awaiting the ack.",
		[]string{"consumer"}, nil)
	consumerAckPendingDesc = prometheus.NewDesc("refapp_queue_consumer_ack_pending",
		"Messages delivered to a consumer and awaiting its ack.",
		[]string{"consumer"}, nil)
)

// collector reads the stream's state from JetStream at every scrape. When
// JetStream does not answer within the scrape timeout, the scrape carries
// none of these series rather than stale values.
type collector struct{ b *Broker }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- streamMessagesDesc
	ch <- streamBytesDesc
	ch <- consumerPendingDesc
	ch <- consumerAckPendingDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.b.opts.scrapeTimeout)
	defer cancel()
	s, err := c.b.js.Stream(ctx, StreamName)
	if err != nil {
		c.b.opts.log.Debug("metrics: stream info", "err", err)
		return
	}
	info := s.CachedInfo() // fetched by Stream just now
	ch <- prometheus.MustNewConstMetric(streamMessagesDesc, prometheus.GaugeValue, float64(info.State.Msgs))
	ch <- prometheus.MustNewConstMetric(streamBytesDesc, prometheus.GaugeValue, float64(info.State.Bytes))
	consumers := s.ListConsumers(ctx)
	for ci := range consumers.Info() {
		ch <- prometheus.MustNewConstMetric(consumerPendingDesc, prometheus.GaugeValue,
			float64(ci.NumPending)+float64(ci.NumAckPending), ci.Name)
		ch <- prometheus.MustNewConstMetric(consumerAckPendingDesc, prometheus.GaugeValue,
			float64(ci.NumAckPending), ci.Name)
	}
	if err := consumers.Err(); err != nil {
		c.b.opts.log.Debug("metrics: list consumers", "err", err)
	}
}
