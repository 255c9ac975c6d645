// Package load drives gameday's HTTP load with Vegeta's library and streams
// every result as it completes.
//
// A Stream is a rate (a Vegeta Pacer: PacerOf builds a scenario profile's)
// and a weighted mix of request templates. Run
// sends it to a base URL: each entry of the mix runs as its own Vegeta attack
// at its exact share of the rate, so every result knows the route (the entry's
// name) that produced it. Results go to Sinks as they complete, never into
// memory: a ResultsFile writes them to disk in Vegeta's gob encoding (read back
// with ReadResults, even after a SIGKILL), and a Collector turns them into
// Prometheus metrics with bounded labels.
//
//	stream "mobile" at 100/s, mix feed:7 post:3
//
//	  feed ── attack "mobile/feed" at 700/10s ──┐
//	  post ── attack "mobile/post" at 300/10s ──┼─▶ sinks (file, collector, ...)
//	                                            │
//	  one HTTP transport per stream ────────────┘
package load
