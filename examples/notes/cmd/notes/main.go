// Command notes is a small notes service of a user's own: the kind of
// program gameday's processes target starts, wires through Toxiproxy and
// plays game days against. It imports nothing of gameday's. One binary plays
// one mode per process:
//
//	notes --mode=backend --listen=127.0.0.1:8081 [--data=notes.jsonl]
//	notes --mode=front   --listen=127.0.0.1:8080 \
//	      --backends=http://127.0.0.1:8081,http://127.0.0.1:8082
//
// A backend serves the notes JSON API from memory, journaling every write to
// --data when given. A front balances requests round robin over its
// backends, retries an idempotent request once on the next backend when one
// fails, and skips a backend that failed for --eject-for.
//
//	client ──▶ front ──round robin, 1 retry, passive ejection──▶ backend-1..N
//
// It logs JSON to stderr and prints nothing else. On SIGTERM or SIGINT it
// stops accepting connections, lets in-flight requests finish within
// --drain-timeout and exits 0. Exit codes: 0 stopped by a signal, 1 failed,
// 2 bad flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}
