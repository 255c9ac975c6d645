package scenarios

import (
	"cmp"
	"strconv"
	"time"
)

// LocalBinary is the reference backend's executable name, the Command of
// every service of a LocalTarget's expansion (the local target resolves it).
const LocalBinary = "refapp"

// LocalGatewayRateLimit is the gateway's per-client rate limit, in requests
// per second, on a local target: a game day's load is one signed-in user
// from one address standing for many, so its limit is far above a phone's
// and only a scenario that overloads on purpose meets it.
const LocalGatewayRateLimit = 5000

// MaxGatewayRateLimit bounds LocalTarget.GatewayRateLimit.
const MaxGatewayRateLimit = 1_000_000

// LocalReplicaMaxStaleness is how stale the data of a store replica may be
// for the api to read a feed from it on a local target: the feed's own
// freshness window (a cached feed is served up to that age), so reading a
// replica never shows an older feed than the cache may.
const LocalReplicaMaxStaleness = 2 * time.Second

// Processes returns the reference backend as a ProcessesTarget: the one
// description of its topology, which validation checks scenarios against
// and the local target starts (see reference-app/ARCHITECTURE.md).
//
// Services, in start order, and the instances they run:
//
//	store      store-1 (the first primary) to store-(1+StoreReplicas); backups
//	           go to SharedDir/backups (POST /v1/admin/backup)
//	sentinel   fails the store over; reaches the stores directly
//	cache, queue (ports http and nats), pushmock
//	worker     queue → push provider
//	api        api-1 to api-N (N = APIReplicas)
//	gateway    in front of the apis
//
// Edges, by link name:
//
//	client-gateway           clients → gateway ({{.Base}})
//	gateway-api-N            gateway → api-N
//	api-store-K              every api → store-K (the URL the sentinel gives them)
//	repl-store-K             a replica → store-K, when store-K is the primary
//	api-cache                every api → cache
//	api-queue, worker-queue  api and worker → the queue's NATS listener
//	worker-push              worker → pushmock
//
// Every instance carries the label role (its service's name), is ready
// when /readyz answers 200 and is scraped at /metrics.
func (t LocalTarget) Processes() *ProcessesTarget {
	apis, stores := t.APIReplicas, 1+t.StoreReplicas
	restart := t.RestartDelay
	svc := func(role string, replicas *int, args ...string) Service {
		return Service{
			Name:         role,
			Command:      LocalBinary,
			Args:         append([]string{"--role=" + role, "--listen={{.Addr}}", "--instance={{.Instance}}"}, args...),
			Replicas:     replicas,
			Health:       &HealthCheck{Path: "/readyz"},
			Metrics:      &MetricsEndpoint{Path: "/metrics"},
			Labels:       map[string]string{"role": role},
			RestartDelay: &restart,
		}
	}
	// storeURLs is a template of "store-1=http://ADDR,..." with each
	// store's address given by the function named fn over its instance.
	storeURLs := func(fn string) string {
		return `{{range $i, $n := instances "store"}}{{if $i}},{{end}}{{$n}}=http://{{` + fn + `}}{{end}}`
	}
	queue := svc("queue", nil, "--nats-listen={{.Addrs.nats}}", "--data-dir={{.DataDir}}")
	queue.Ports = []string{DefaultPort, "nats"}
	return &ProcessesTarget{
		Services: []Service{
			svc("store", &stores,
				"--data-dir={{.DataDir}}", "--node={{.Instance}}", "--replication="+string(t.Replication),
				`{{if eq .Replica 1}}--mode=primary{{else}}--mode=replica{{end}}`,
				`{{if ne .Replica 1}}--primary=http://{{link "repl-store-1"}}{{end}}`,
				"--backup-dir={{.SharedDir}}/backups"),
			svc("sentinel", nil,
				"--stores="+storeURLs("addr $n"),
				"--client-urls="+storeURLs(`link (print "api-" $n)`),
				"--repl-urls="+storeURLs(`link (print "repl-" $n)`)),
			svc("cache", nil),
			queue,
			svc("pushmock", nil),
			svc("worker", nil,
				`--nats=nats://{{link "worker-queue"}}`, `--push-url=http://{{link "worker-push"}}`, "--data-dir={{.DataDir}}"),
			svc("api", &apis,
				`--sentinel=http://{{addr "sentinel"}}`, `--cache=http://{{link "api-cache"}}`,
				`--nats=nats://{{link "api-queue"}}`, "--jwt-secret-file={{.SharedDir}}/jwt.key", "--token-ttl="+cmp.Or(t.TokenTTL, DefaultTokenTTL).String(),
				"--replica-max-staleness="+LocalReplicaMaxStaleness.String()),
			svc("gateway", nil,
				`--upstreams={{links "gateway-api" | urls | join ","}}`, `--upstream-names={{instances "api" | join ","}}`,
				"--rate-limit="+strconv.Itoa(cmp.Or(t.GatewayRateLimit, LocalGatewayRateLimit)), "--rate-burst="+strconv.Itoa(2*cmp.Or(t.GatewayRateLimit, LocalGatewayRateLimit))),
		},
		Edges: []Edge{
			{Name: "client-gateway", From: FromClient, To: "gateway"},
			{Name: "gateway-api", From: "gateway", To: "api"},
			{Name: "api-store", From: "api", To: "store"},
			{Name: "repl-store", From: "store", To: "store"},
			{Name: "api-cache", From: "api", To: "cache"},
			{Name: "api-queue", From: "api", To: "queue", Port: "nats"},
			{Name: "worker-queue", From: "worker", To: "queue", Port: "nats"},
			{Name: "worker-push", From: "worker", To: "pushmock"},
		},
		Base:      "client-gateway",
		Toxiproxy: t.Toxiproxy,
	}
}
