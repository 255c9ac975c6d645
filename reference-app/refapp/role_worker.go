package refapp

import (
	"context"
	"errors"
	"flag"

	"github.com/gameday/gameday/reference-app/queue"
	"github.com/gameday/gameday/reference-app/worker"
)

// workerRole is the push-notification worker.
var workerRole = role{
	summary: "push worker: delivers notification events from the queue to the push provider, once",
	flags: func(fs *flag.FlagSet) setupFunc {
		var (
			natsURL     = fs.String("nats", "", "broker URL, nats://host:port (required)")
			pushURL     = fs.String("push-url", "", "base URL of the push provider, http://host:port (required)")
			dataDir     = fs.String("data-dir", "", "directory of the ledger of delivered event ids (required)")
			ackWait     = fs.Duration("ack-wait", worker.DefaultAckWait, "how long the broker waits for an ack before redelivering")
			pushTimeout = fs.Duration("push-timeout", 0, "bound of one push, below --ack-wait (default: half the ack wait, at most 2s)")
		)
		return func(_ context.Context, e env) (_ parts, err error) {
			for _, f := range []struct{ name, value string }{{"nats", *natsURL}, {"push-url", *pushURL}, {"data-dir", *dataDir}} {
				if f.value == "" {
					return parts{}, badFlag(f.name, "required for --role=worker")
				}
			}
			timeout := *pushTimeout
			if timeout == 0 {
				timeout = min(worker.DefaultPushTimeout, *ackWait/2)
			}
			ledger, err := worker.OpenLedger(*dataDir)
			if err != nil {
				return parts{}, err
			}
			defer func() {
				if err != nil {
					err = errors.Join(err, ledger.Close())
				}
			}()
			nc, err := queue.Connect(*natsURL, e.Instance, e.Log)
			if err != nil {
				return parts{}, err
			}
			w, err := worker.New(nc, ledger, *pushURL,
				worker.WithAckWait(*ackWait),
				worker.WithPushTimeout(timeout),
				worker.WithRegisterer(e.Registry),
				worker.WithLogger(e.Log),
			)
			if err != nil {
				nc.Close()
				return parts{}, err
			}
			return parts{
				Ready:      w.Ready,
				Background: []func(context.Context) error{w.Run},
				Close: func() error {
					nc.Close()
					return ledger.Close()
				},
			}, nil
		}
	},
}
