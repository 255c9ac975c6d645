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

// The files and port of a LocalTarget with TLS: the gateway's certificate
// and key, which the local target writes into the target's folder
// (SharedDir) before it starts the processes, and the gateway's port for
// clients.
const (
	LocalTLSCertFile = "tls/gateway.crt"
	LocalTLSKeyFile  = "tls/gateway.key"
	LocalTLSPort     = "https"
)

// LocalSharedDir names, in an exec command's {{.Dir "name"}} on a local
// target, the target's own folder (SharedDir), the parent of every
// instance's data dir; the store's backups are in its LocalBackupsDir.
const (
	LocalSharedDir  = "shared"
	LocalBackupsDir = "backups"
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
//	store      store-1 (the first primary) to store-(1+StoreReplicas); backups
//	           go to SharedDir/backups (POST /v1/admin/backup); a lone
//	           primary with StoreReplicas 0
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
	gatewayArgs := func(edge, apis string) []string {
		return []string{
			`--upstreams={{links "` + edge + `" | urls | join ","}}`, `--upstream-names={{instances "` + apis + `" | join ","}}`,
			"--rate-limit=" + strconv.Itoa(cmp.Or(t.GatewayRateLimit, LocalGatewayRateLimit)), "--rate-burst=" + strconv.Itoa(2*cmp.Or(t.GatewayRateLimit, LocalGatewayRateLimit)),
		}
	}
	apiArgs := []string{
		`--sentinel=http://{{addr "sentinel"}}`, `--cache=http://{{link "api-cache"}}`,
		`--nats=nats://{{link "api-queue"}}`, "--jwt-secret-file={{.SharedDir}}/jwt.key", "--token-ttl=" + cmp.Or(t.TokenTTL, DefaultTokenTTL).String(),
		"--replica-max-staleness=" + LocalReplicaMaxStaleness.String(),
	}
	pt := &ProcessesTarget{
		Services: []Service{
			svc("store", &stores,
				"--data-dir={{.DataDir}}", "--node={{.Instance}}", "--replication="+string(t.Replication),
				`{{if eq .Replica 1}}--mode=primary{{else}}--mode=replica{{end}}`,
				`{{if ne .Replica 1}}--primary=http://{{link "repl-store-1"}}{{end}}`,
				"--backup-dir={{.SharedDir}}/"+LocalBackupsDir),
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
			svc("gateway", nil, gatewayArgs("gateway-api", "api")...),
		},
		Edges: []Edge{
			{Name: "gateway-api", From: "gateway", To: "api"},
			{Name: "api-store", From: "api", To: "store"},
			{Name: "repl-store", From: "store", To: "store"},
			{Name: "api-cache", From: "api", To: "cache"},
			{Name: "api-queue", From: "api", To: "queue", Port: "nats"},
			{Name: "worker-queue", From: "worker", To: "queue", Port: "nats"},
			{Name: "worker-push", From: "worker", To: "pushmock"},
		},
		Toxiproxy: t.Toxiproxy,
	}
	service := func(name string) *Service {
		for i := range pt.Services {
			if pt.Services[i].Name == name {
				return &pt.Services[i]
			}
		}
		panic("local topology: no service " + name) // the names are this function's own
	}
	if a := t.Autoscale; a != nil {
		file := "{{.SharedDir}}/" + LocalUpstreamsFile
		gw := service("gateway")
		gw.Args = append(gw.Args, "--upstreams-file="+file)
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
		pt.Services = append(pt.Services, svc("autoscaler", nil, args...))
	}
	entry := "gateway"
	if t.Regions == 2 {
		entry = "global"
		t.addPassiveRegion(pt, svc, gatewayArgs)
	}
	clientEdge := Edge{Name: "client-" + entry, From: FromClient, To: entry}
	if t.TLS {
		// Health checks and scrapes keep the plain port; clients reach
		// the https one.
		e := service(entry)
		e.Ports = []string{DefaultPort, LocalTLSPort}
		e.Args = append(e.Args, "--tls-listen={{.Addrs."+LocalTLSPort+"}}",
			"--tls-cert={{.SharedDir}}/"+LocalTLSCertFile, "--tls-key={{.SharedDir}}/"+LocalTLSKeyFile)
		clientEdge.Port = LocalTLSPort
	}
	pt.Edges = append([]Edge{clientEdge}, pt.Edges...)
	pt.Base = clientEdge.Name
	return pt
}

// The regions of a LocalTarget with Regions 2.
const (
	LocalPrimaryRegion = "a"
	LocalPassiveRegion = "b"
)

// addPassiveRegion adds a second region, b, to pt (region a): its own
// store, api replicas and gateway, behind a global entry point. Every
// instance gets the label region; region b's services and links end in or
// start with "b".
//
//	store-b      a replica of store-1 across the WAN, async
//	api-b        api-b-1 to api-b-N, on store-b alone (no cache, no queue)
//	gateway-b    in front of them
//	global       the entry point: routes to gateway, fails over to
//	             gateway-b (promoting store-b) and fences region a's stores
//
// Links (besides region a's):
//
//	client-global      clients → global ({{.Base}})
//	global-gateway     global → region a's gateway
//	global-gateway-b   global → region b's gateway
//	global-store-K     global → region a's store-K (fencing)
//	global-store-b     global → store-b (promotion)
//	global-sentinel    global → region a's sentinel (store-b follows its primary)
//	wan-store-K        store-b → store-K: cross-region replication
//	wan-store-b        region a's stores → store-b, once they follow it
//	b-gateway-api-N    gateway-b → api-b-N
//	b-api-store        api-b → store-b
//
// Cutting region a entirely is disabling global-gateway, global-sentinel,
// every global-store-K, every wan-store-K and wan-store-b (see
// RegionLinks).
func (t LocalTarget) addPassiveRegion(pt *ProcessesTarget, svc func(string, *int, ...string) Service, gatewayArgs func(string, string) []string) {
	for i := range pt.Services {
		pt.Services[i].Labels["region"] = LocalPrimaryRegion
	}
	apis := t.APIReplicas
	inB := func(s Service, name string) Service {
		s.Name = name
		s.Labels["region"] = LocalPassiveRegion
		return s
	}
	pt.Services = append(pt.Services,
		inB(svc("store", nil,
			"--data-dir={{.DataDir}}", "--node={{.Instance}}", "--replication=async", "--mode=replica",
			`--primary=http://{{link "wan-store-1"}}`), "store-b"),
		inB(svc("api", &apis,
			`--store=http://{{link "b-api-store"}}`,
			"--jwt-secret-file={{.SharedDir}}/jwt.key", "--token-ttl="+cmp.Or(t.TokenTTL, DefaultTokenTTL).String()), "api-b"),
		inB(svc("gateway", nil, gatewayArgs("b-gateway-api", "api-b")...), "gateway-b"),
	)
	global := svc("global", nil,
		`--regions=`+LocalPrimaryRegion+`=http://{{link "global-gateway"}},`+LocalPassiveRegion+`=http://{{link "global-gateway-b"}}`,
		`--passive-store=http://{{link "global-store-b"}}`,
		`--follow-url=http://{{link "wan-store-b"}}`,
		`--fence={{links "global-store" | urls | join ","}}`,
		`--sentinel=http://{{link "global-sentinel"}}`,
		`--repl-urls={{range $i, $n := instances "store"}}{{if $i}},{{end}}{{$n}}=http://{{link (print "wan-" $n)}}{{end}}`)
	pt.Services = append(pt.Services, global) // no region label: it is in neither, and its metrics have one
	pt.Edges = append(pt.Edges,
		Edge{Name: "global-gateway", From: "global", To: "gateway"},
		Edge{Name: "global-gateway-b", From: "global", To: "gateway-b"},
		Edge{Name: "global-store", From: "global", To: "store"},
		Edge{Name: "global-store-b", From: "global", To: "store-b"},
		Edge{Name: "global-sentinel", From: "global", To: "sentinel"},
		Edge{Name: "wan-store", From: "store-b", To: "store"},
		Edge{Name: "wan-store-b", From: "store", To: "store-b"},
		Edge{Name: "b-gateway-api", From: "gateway-b", To: "api-b"},
		Edge{Name: "b-api-store", From: "api-b", To: "store-b"},
	)
}

// RegionLinks returns the links that cut region (LocalPrimaryRegion or
// LocalPassiveRegion) off entirely when disabled: every link between it
// and the outside (clients through the global entry point, the other
// region). Its own links inside stay, as in a real network partition.
func (t LocalTarget) RegionLinks(region string) []string {
	if t.Regions != 2 {
		return nil
	}
	var out []string
	for i := 1; i <= 1+t.StoreReplicas; i++ {
		out = append(out, "global-store-"+strconv.Itoa(i), "wan-store-"+strconv.Itoa(i))
	}
	out = append(out, "wan-store-b")
	if region == LocalPrimaryRegion {
		return append(out, "global-gateway", "global-sentinel")
	}
	return append(out, "global-gateway-b", "global-store-b")
}
