package refapp

import (
	"bytes"
	"context"
	"flag"
	"net/url"
	"os"
	"strings"

	"github.com/gameday/gameday/reference-app/api"
)

// JWTSecretEnv names the environment variable that may hold the JWT secret
// instead of --jwt-secret-file.
const JWTSecretEnv = "REFAPP_JWT_SECRET" //nolint:gosec // G101: the variable's name, not a secret

// apiRole is the stateless mobile API.
var apiRole = role{
	summary: "the stateless mobile API over the store, the cache and the queue",
	flags: func(fs *flag.FlagSet) setupFunc {
		var (
			sentinel        = fs.String("sentinel", "", "base URL of the sentinel that names the store primary (this or --store is required)")
			store           = fs.String("store", "", "base URL of a fixed store primary, without failover")
			cache           = fs.String("cache", "", "base URL of the cache (default: none; feeds come from the store)")
			natsURL         = fs.String("nats", "", "nats://host:port of the queue (default: none; no notification events)")
			secretFile      = fs.String("jwt-secret-file", "", "file holding the JWT HMAC key, at least 32 bytes ("+JWTSecretEnv+" in the environment also works; required)")
			issuer          = fs.String("jwt-issuer", api.DefaultIssuer, "JWT issuer, signed and required")
			tokenTTL        = fs.Duration("token-ttl", api.DefaultTokenTTL, "lifetime of an issued token")
			maxBody         = fs.Int64("max-body-bytes", api.DefaultMaxBodyBytes, "largest request body (413 beyond)")
			feedFresh       = fs.Duration("feed-fresh", api.DefaultFeedFresh, "a cached feed younger than this is served without the store")
			breakerFailures = fs.Int("breaker-failures", api.DefaultBreakerFailures, "dependency failures in a row that open its circuit breaker")
			breakerOpen     = fs.Duration("breaker-open", api.DefaultBreakerOpen, "how long an open breaker refuses calls before probing")
			relayInterval   = fs.Duration("outbox-relay-interval", api.DefaultRelayInterval, "time between two passes of the outbox relay")
			relayAge        = fs.Duration("outbox-relay-age", api.DefaultRelayAge, "age from which the relay republishes an outbox record")
			replicaStale    = fs.Duration("replica-max-staleness", 0, "feed reads go to store replicas (named by the sentinel) whose data is at most this stale, else to the primary (0: every read on the primary; needs --sentinel)")
		)
		return func(_ context.Context, e env) (parts, error) {
			if (*sentinel == "") == (*store == "") {
				return parts{}, badFlag("sentinel", "give exactly one of --sentinel and --store")
			}
			for name, v := range map[string]*string{"sentinel": sentinel, "store": store, "cache": cache} {
				if *v == "" {
					continue
				}
				u, err := url.Parse(*v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return parts{}, badFlag(name, "%q: want an http:// or https:// base URL", *v)
				}
				*v = strings.TrimSuffix(*v, "/")
			}
			if *natsURL != "" {
				u, err := url.Parse(*natsURL)
				if err != nil || u.Scheme != "nats" || u.Hostname() == "" || u.Port() == "" {
					return parts{}, badFlag("nats", "%q: want nats://host:port", *natsURL)
				}
			}
			if *replicaStale < 0 || (*replicaStale > 0 && *sentinel == "") {
				return parts{}, badFlag("replica-max-staleness", "%v: want >= 0, and --sentinel (which names the replicas) when > 0", *replicaStale)
			}
			secret, err := jwtSecret(*secretFile)
			if err != nil {
				return parts{}, err
			}

			var (
				p       parts
				src     api.PrimarySource
				deps    api.Deps
				closers []func()
			)
			if *sentinel != "" {
				s := api.NewSentinel(*sentinel, api.WithClientLogger(e.Log))
				src, p.Ready = s, s.Ready
				p.Background = append(p.Background, s.Run)
				if *replicaStale > 0 {
					deps.Replicas = api.NewReplicaClient(s, *replicaStale)
				}
			} else {
				src = api.FixedPrimary(*store)
			}
			deps.Store = api.NewStoreClient(src)
			if *cache != "" {
				deps.Cache = api.NewCacheClient(*cache)
			}
			if *natsURL != "" {
				q, err := api.DialNATS(*natsURL, e.Log)
				if err != nil {
					return parts{}, badFlag("nats", "%v", err)
				}
				deps.Queue = q
				closers = append(closers, q.Close)
			} else {
				e.Log.Warn("no --nats: posts raise no notification events")
			}
			a, err := api.New(deps, secret, e.Instance,
				api.WithLogger(e.Log),
				api.WithRegisterer(e.Registry),
				api.WithIssuer(*issuer),
				api.WithTokenTTL(*tokenTTL),
				api.WithMaxBodyBytes(*maxBody),
				api.WithFeedFresh(*feedFresh),
				api.WithBreaker(*breakerFailures, *breakerOpen),
				api.WithRelay(*relayInterval, *relayAge),
			)
			if err != nil {
				for _, c := range closers {
					c()
				}
				return parts{}, flagError{err}
			}
			a.Register(e.Mux)
			p.Background = append(p.Background, a.RunRelay, a.RunHealth)
			p.Close = func() error {
				for _, c := range closers {
					c()
				}
				return nil
			}
			return p, nil
		}
	},
}

// jwtSecret reads the JWT key from file, else from the environment; the
// error names the flag. Surrounding whitespace (a trailing newline) is not
// part of the key. The key itself never appears in an error.
func jwtSecret(file string) ([]byte, error) {
	var secret []byte
	switch env, ok := os.LookupEnv(JWTSecretEnv); {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, badFlag("jwt-secret-file", "%v", err)
		}
		secret = bytes.TrimSpace(b)
	case ok:
		secret = []byte(strings.TrimSpace(env))
	default:
		return nil, badFlag("jwt-secret-file", "required (or %s in the environment)", JWTSecretEnv)
	}
	if len(secret) < api.MinSecretBytes {
		return nil, badFlag("jwt-secret-file", "the JWT secret is %d bytes; want at least %d", len(secret), api.MinSecretBytes)
	}
	return secret, nil
}
