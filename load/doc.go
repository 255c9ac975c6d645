// Package load drives gameday's HTTP load, paced by Vegeta's pacers and
// described by Vegeta's results, and streams every result as it completes.
//
// A Stream is a rate (a Vegeta Pacer: PacerOf builds a scenario profile's)
// and a weighted mix of request templates. Run sends it to a base URL: each
// entry of the mix is paced by its exact share of the rate, so every result
// knows the route (the entry's name) that produced it. The stream's workers
// (one pool, at most MaxWorkers) take the hits as they fall due from one
// schedule and send them with fasthttp's client (see newLoadClient for
// why). Results go to Sinks as they complete, never into memory: a
// ResultsFile writes them to disk in Vegeta's gob encoding (read back with
// ReadResults or vegeta report, even after a SIGKILL), and a Collector
// turns them into Prometheus metrics with bounded labels.
//
//	stream "mobile" at 100/s, mix feed:7 post:3
//
//	  feed ── pacer share 700/10s ──┐                 ┌─ worker ─┐
//	                                ├─▶ schedule ─▶ ──┼─ worker ─┼─▶ sinks (file, collector, ...)
//	  post ── pacer share 300/10s ──┘   (due times)   └─ ...    ─┘
//	                                        one HTTP client per stream
package load
