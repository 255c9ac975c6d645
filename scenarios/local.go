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

// The files and port of a LocalTarget with TLS: the gateway's certificate
// and key, which the local target writes into the target's folder
// (SharedDir) before it starts the processes, and the gateway's port for
// clients.
const (
	LocalTLSCertFile = "tls/gateway.crt"
	LocalTLSKeyFile  = "tls/gateway.key"
	LocalTLSPort     = "https"
)

// Defaults of a LocalAutoscale.
const (
	DefaultTargetInFlight    = 2.0
	DefaultAutoscaleInterval = time.Second
	// LocalUpstreamsFile is the gateway's upstreams file, in the target's
	// folder (SharedDir), when the autoscaler runs.
	LocalUpstreamsFile = "upstreams.json"
)

// autoscale checks a LocalAutoscale against its target t.
func (v *validator) autoscale(p string, t LocalTarget) {
	a := t.Autoscale
	if a.MaxReplicas < t.APIReplicas || a.MaxReplicas > MaxAPIReplicas {
		v.add(p+".maxReplicas", "maxReplicas %d is out of range (want apiReplicas, %d, to %d)", a.MaxReplicas, t.APIReplicas, MaxAPIReplicas)
	}
	if a.TargetInFlight < 0 {
		v.add(p+".targetInFlight", "targetInFlight %v is negative (want more than 0)", a.TargetInFlight)
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"interval", a.Interval}, {"scaleUpWindow", a.ScaleUpWindow}, {"scaleDownWindow", a.ScaleDownWindow}} {
		if d.d < 0 {
			v.add(p+"."+d.key, "%s %s is negative (want 0 or more)", d.key, formatDuration(d.d))
		}
		v.tooLong(p+"."+d.key, d.key, d.d)
	}
}

// Processes returns the reference backend as a ProcessesTarget: the one
// description of its topology, which validation checks scenarios against
// and the local target starts (see reference-app/ARCHITECTURE.md).
//
// Services, in start order, and the instances they run:
//
//	store      store-1 (the first primary) to store-(1+StoreReplicas)
//	sentinel   fails the store over; reaches the stores directly
//	cache, queue (ports http and nats), pushmock
//	worker     queue → push provider
//	api        api-1 to api-N (N = APIReplicas)
//	gateway    in front of the apis (with TLS, a second port, https)
//	autoscaler with Autoscale: runs api-auto-1.. beside api-1..N and lists
//	           them all in the gateway's upstreams file
//
// Edges, by link name:
//
//	client-gateway           clients → gateway ({{.Base}}; its https port with TLS)
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
	gateway := svc("gateway", nil,
		`--upstreams={{links "gateway-api" | urls | join ","}}`, `--upstream-names={{instances "api" | join ","}}`,
		"--rate-limit="+strconv.Itoa(LocalGatewayRateLimit), "--rate-burst="+strconv.Itoa(2*LocalGatewayRateLimit))
	clientEdge := Edge{Name: "client-gateway", From: FromClient, To: "gateway"}
	apiArgs := []string{
		`--sentinel=http://{{addr "sentinel"}}`, `--cache=http://{{link "api-cache"}}`,
		`--nats=nats://{{link "api-queue"}}`, "--jwt-secret-file={{.SharedDir}}/jwt.key", "--token-ttl=" + cmp.Or(t.TokenTTL, DefaultTokenTTL).String(),
	}
	if t.TLS {
		// Health checks and scrapes keep the plain port; clients reach
		// the https one.
		gateway.Ports = []string{DefaultPort, LocalTLSPort}
		gateway.Args = append(gateway.Args, "--tls-listen={{.Addrs."+LocalTLSPort+"}}",
			"--tls-cert={{.SharedDir}}/"+LocalTLSCertFile, "--tls-key={{.SharedDir}}/"+LocalTLSKeyFile)
		clientEdge.Port = LocalTLSPort
	}
	var extra []Service
	if a := t.Autoscale; a != nil {
		file := "{{.SharedDir}}/" + LocalUpstreamsFile
		gateway.Args = append(gateway.Args, "--upstreams-file="+file)
		args := []string{
			`--gateway=http://{{addr "gateway"}}`, "--upstreams-file=" + file,
			`--static-upstreams={{range $i, $n := instances "api"}}{{if $i}},{{end}}{{$n}}=http://{{link (print "gateway-" $n)}}{{end}}`,
			"--min-replicas=" + strconv.Itoa(apis), "--max-replicas=" + strconv.Itoa(a.MaxReplicas),
			"--target-in-flight=" + strconv.FormatFloat(cmp.Or(a.TargetInFlight, DefaultTargetInFlight), 'g', -1, 64),
			"--interval=" + cmp.Or(a.Interval, DefaultAutoscaleInterval).String(),
			"--scale-up-window=" + a.ScaleUpWindow.String(), "--scale-down-window=" + a.ScaleDownWindow.String(),
		}
		for _, arg := range apiArgs {
			args = append(args, "--replica-arg="+arg)
		}
		extra = append(extra, svc("autoscaler", nil, args...))
	}
	return &ProcessesTarget{
		Services: append([]Service{
			svc("store", &stores,
				"--data-dir={{.DataDir}}", "--node={{.Instance}}", "--replication="+string(t.Replication),
				`{{if eq .Replica 1}}--mode=primary{{else}}--mode=replica{{end}}`,
				`{{if ne .Replica 1}}--primary=http://{{link "repl-store-1"}}{{end}}`),
			svc("sentinel", nil,
				"--stores="+storeURLs("addr $n"),
				"--client-urls="+storeURLs(`link (print "api-" $n)`),
				"--repl-urls="+storeURLs(`link (print "repl-" $n)`)),
			svc("cache", nil),
			queue,
			svc("pushmock", nil),
			svc("worker", nil,
				`--nats=nats://{{link "worker-queue"}}`, `--push-url=http://{{link "worker-push"}}`, "--data-dir={{.DataDir}}"),
			svc("api", &apis, apiArgs...),
			gateway,
		}, extra...),
		Edges: []Edge{
			clientEdge,
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
