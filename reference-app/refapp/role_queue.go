package refapp

import (
	"context"
	"flag"

	"github.com/gameday/gameday/reference-app/queue"
)

// queueRole is the embedded NATS JetStream broker.
var queueRole = role{
	summary: "NATS JetStream broker holding the NOTIFICATIONS stream",
	flags: func(fs *flag.FlagSet) setupFunc {
		var (
			natsListen = fs.String("nats-listen", queue.DefaultListen, "host:port of the NATS protocol listener (port 0: any free port, logged as \"nats listening\")")
			dataDir    = fs.String("data-dir", "", "directory of JetStream's file storage (required)")
		)
		return func(ctx context.Context, e env) (parts, error) {
			if *dataDir == "" {
				return parts{}, badFlag("data-dir", "required for --role=queue")
			}
			b, err := queue.Start(ctx, *natsListen, *dataDir,
				queue.WithRegisterer(e.Registry),
				queue.WithLogger(e.Log),
			)
			if err != nil {
				return parts{}, err
			}
			return parts{
				Ready: b.Ready,
				Close: func() error { b.Close(); return nil },
			}, nil
		}
	},
}
