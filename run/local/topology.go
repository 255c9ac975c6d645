package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LoadUser is the user StartRefapp signs up and in for scenarios' requests.
const LoadUser = "gameday-load"

// LoadUserRateLimit is the gateway's per-client rate limit, in requests per
// second, on a local target (ExtraArgs can lower it).
const LoadUserRateLimit = 5000

// proc is one process of the topology, before it starts.
type proc struct {
	instance, role, addr string
	args                 []string
	env                  []string
}

// topology is the planned system: its processes in start order.
type topology struct {
	procs        []proc
	loadPassword string
}

// planTopology picks every process's address, creates the proxy of every
// edge and returns the processes with their flags (see
// reference-app/ARCHITECTURE.md). Edges, by link name:
//
//	client-gateway         clients → gateway (Target.BaseURL)
//	gateway-api-N          gateway → api-N
//	api-store-K            every api → store-K (the URL the sentinel gives them)
//	repl-store-K           a replica → store-K, when store-K is the primary
//	api-cache              every api → cache
//	api-queue, worker-queue  api and worker → the queue's NATS listener
//	worker-push            worker → pushmock
//
// The sentinel reaches the stores directly: its view is not a fault target.
func planTopology(t *Target, cfg Refapp) (*topology, error) {
	tp := &topology{}
	var firstErr error // of addr and link: the first one, checked at the end
	// Every process's port stays reserved (listened on) until the whole
	// topology is planned, so that no proxy listening on port 0 meanwhile
	// can be given a port a process is about to bind.
	var reserved []net.Listener
	defer func() {
		for _, ln := range reserved {
			_ = ln.Close()
		}
	}()
	addr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("find a free port: %w", err)
			}
			return ""
		}
		reserved = append(reserved, ln)
		return ln.Addr().String()
	}
	link := func(name, upstream string) string {
		if firstErr != nil {
			return ""
		}
		l, err := t.addLink(cfg.ProxyPrefix, name, upstream)
		if err != nil {
			firstErr = err
		}
		return l.Listen
	}
	data := func(instance string) string { return filepath.Join(cfg.DataDir, instance) }
	extra := func(role string) []string { return cfg.ExtraArgs[role] }

	secret := make([]byte, 32)
	password := make([]byte, 12)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	_, _ = rand.Read(password)
	tp.loadPassword = hex.EncodeToString(password)
	secretFile := filepath.Join(cfg.DataDir, "jwt.key")
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("start refapp: %w", err)
	}
	if err := os.WriteFile(secretFile, []byte(hex.EncodeToString(secret)), 0o600); err != nil {
		return nil, fmt.Errorf("start refapp: write the JWT key: %w", err)
	}

	// Stores: store-1 starts as the primary, the others as its replicas.
	var stores, clientURLs, replURLs []string
	var storeProcs []proc
	for k := 1; k <= 1+cfg.StoreReplicas; k++ {
		instance := fmt.Sprintf("store-%d", k)
		a := addr()
		stores = append(stores, instance+"=http://"+a)
		clientURLs = append(clientURLs, instance+"=http://"+link("api-"+instance, a))
		replURLs = append(replURLs, instance+"=http://"+link("repl-"+instance, a))
		args := []string{"--data-dir=" + data(instance), "--node=" + instance, "--replication=" + cfg.Replication}
		if k == 1 {
			args = append(args, "--mode=primary")
		} else {
			args = append(args, "--mode=replica", "--primary=http://"+t.Links["repl-store-1"].Listen)
		}
		storeProcs = append(storeProcs, proc{instance: instance, role: "store", addr: a, args: append(args, extra("store")...)})
	}
	tp.procs = append(tp.procs, storeProcs...)
	sentinel := proc{instance: "sentinel", role: "sentinel", addr: addr(), args: append([]string{
		"--stores=" + strings.Join(stores, ","),
		"--client-urls=" + strings.Join(clientURLs, ","),
		"--repl-urls=" + strings.Join(replURLs, ","),
	}, extra("sentinel")...)}
	cache := proc{instance: "cache", role: "cache", addr: addr(), args: extra("cache")}
	natsAddr := addr()
	queue := proc{instance: "queue", role: "queue", addr: addr(), args: append([]string{
		"--nats-listen=" + natsAddr, "--data-dir=" + data("queue"),
	}, extra("queue")...)}
	push := proc{instance: "pushmock", role: "pushmock", addr: addr(), args: extra("pushmock")}
	worker := proc{instance: "worker", role: "worker", addr: addr(), args: append([]string{
		"--nats=nats://" + link("worker-queue", natsAddr),
		"--push-url=http://" + link("worker-push", push.addr),
		"--data-dir=" + data("worker"),
	}, extra("worker")...)}
	tp.procs = append(tp.procs, sentinel, cache, queue, push, worker)

	apiCache, apiQueue := link("api-cache", cache.addr), link("api-queue", natsAddr)
	var upstreams, names []string
	for i := 1; i <= cfg.APIReplicas; i++ {
		instance := fmt.Sprintf("api-%d", i)
		a := addr()
		upstreams = append(upstreams, "http://"+link("gateway-"+instance, a))
		names = append(names, instance)
		tp.procs = append(tp.procs, proc{instance: instance, role: "api", addr: a, args: append([]string{
			"--sentinel=http://" + sentinel.addr,
			"--cache=http://" + apiCache,
			"--nats=nats://" + apiQueue,
			"--jwt-secret-file=" + secretFile,
			"--token-ttl=24h",
		}, extra("api")...)})
	}
	gateway := proc{instance: "gateway", role: "gateway", addr: addr(), args: append([]string{
		"--upstreams=" + strings.Join(upstreams, ","),
		"--upstream-names=" + strings.Join(names, ","),
		// A game day's load is one signed-in user from one address standing
		// for many: its per-client limit is far above a phone's, so that
		// only a scenario that overloads on purpose meets it.
		"--rate-limit=" + strconv.Itoa(LoadUserRateLimit),
		"--rate-burst=" + strconv.Itoa(2*LoadUserRateLimit),
	}, extra("gateway")...)}
	tp.procs = append(tp.procs, gateway)
	t.BaseURL = "http://" + link("client-gateway", gateway.addr)
	if firstErr != nil {
		return nil, firstErr
	}
	return tp, nil
}

// signIn signs user up (an existing user is fine) and in through base, and
// returns the bearer token.
func signIn(ctx context.Context, base, user, password string) (string, error) {
	creds := map[string]string{"username": user, "password": password}
	if code, _, err := postJSON(ctx, base+"/v1/auth/signup", creds); err != nil {
		return "", err
	} else if code != http.StatusCreated && code != http.StatusConflict {
		return "", fmt.Errorf("signup: status %d", code)
	}
	code, body, err := postJSON(ctx, base+"/v1/auth/login", creds)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("login: status %d", code)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("login: no token in the answer (%v)", err)
	}
	return out.Token, nil
}

// postJSON posts v as JSON and returns the status and body.
func postJSON(ctx context.Context, url string, v any) (int, []byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}
