// Command refapp is the reference mobile backend that gameday tests from
// outside. One binary plays one role per process:
//
//	refapp --role=api     --listen=127.0.0.1:P --instance=api-1
//	refapp --role=gateway --listen=127.0.0.1:G --instance=gateway \
//	       --upstreams=http://127.0.0.1:P1,http://127.0.0.1:P2 --upstream-names=api-1,api-2
//	refapp --role=cache    --listen=127.0.0.1:C
//	refapp --role=queue    --listen=127.0.0.1:Q --nats-listen=127.0.0.1:4222 --data-dir=DIR
//	refapp --role=pushmock --listen=127.0.0.1:M
//	refapp --role=worker   --listen=127.0.0.1:W --nats=nats://127.0.0.1:4222 \
//	       --push-url=http://127.0.0.1:M --data-dir=DIR
//
// and one command that is not a role, the store's restore from a backup:
//
//	refapp restore --data-dir=DIR --backup-dir=BACKUPS [--backup=ID] [--sentinel=URL]
//
// It logs JSON to stderr, prints nothing else, and on SIGTERM or SIGINT
// turns /readyz to 503, keeps serving for --drain-delay (default 0), stops
// accepting connections, drains in-flight requests and exits 0.
// Exit codes: 0 stopped by a signal, 1 failed, 2 bad flags.
//
// The program is package refapp (reference-app/refapp); gameday runs the
// same code as its hidden "refapp" command.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gameday/gameday/reference-app/refapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := refapp.Run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}
