// Package target holds what every kind of target gives a run once it is up
// (Running): where clients reach it, the links network faults act on, the
// processes process faults signal, and where its metrics are. Each kind
// lives in a sub-package: local (the reference backend), processes (the
// user's own programs), external (a running system named by URLs).
package target

import (
	"crypto/x509"
	"net/http"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"k8s.io/client-go/kubernetes"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/process"
	"github.com/gameday/gameday/metrics"
)

// Running is a target that is up and ready for load.
type Running struct {
	// Base is {{.Base}}: where clients reach the system, no trailing slash.
	Base string
	// URLs are the named URLs {{.URL "name"}} returns.
	URLs map[string]string
	// Header holds headers added to every request of the load. Secret:
	// never written anywhere.
	Header http.Header
	// Token is {{.Token}}, a bearer token of a load user; may be empty.
	Token string
	// RootCAs are the certificate authorities the load trusts, instead of
	// the system's (a local target's run CA); nil: the system's.
	RootCAs *x509.CertPool
	// Links are the links network faults act on, by name.
	Links map[string]Link
	// Processes selects and watches the target's processes for process
	// faults; nil when the target has none.
	Processes process.Supervisor
	// Scrape lists the metrics endpoints the run's embedded Prometheus
	// scrapes, besides gameday's own.
	Scrape []metrics.Target
	// Prometheus answers the scenario's PromQL checks when the target has
	// a Prometheus of its own; nil: the run's embedded one does.
	Prometheus metrics.Querier
	// Attrs are facts about the target for the run's events (no secrets).
	Attrs map[string]string
	// Dirs are the target's folders on this machine that an exec action's
	// command reaches as {{.Dir "name"}}: a local target's data dir of
	// each instance, by instance name, and "shared", the target's folder
	// (its store backups in backups/). Nil for a target with none.
	Dirs map[string]string
	// Commands are the executables the target runs that an exec action's
	// command may name as its first element, with the arguments that come
	// first: a local target's "refapp", its reference backend. Nil for a
	// target with none.
	Commands map[string][]string
	// Kube is a client of the target's Kubernetes API, and Namespaces the
	// only namespaces pod faults may touch; nil for other kinds.
	Kube       kubernetes.Interface
	Namespaces []string
}

// Link is one edge of a target that runs through a Toxiproxy proxy.
type Link struct {
	Name     string // as faults name it: "gateway-api-1"
	Proxy    string // the proxy's name on the server
	Listen   string // the proxy's address
	Upstream string // where it forwards to
	// Toxiproxy is a client of the server that holds the proxy, Server
	// that server's API URL, and Journal where changes to it are recorded
	// (chaos.NopJournal for an embedded server).
	Toxiproxy *toxiclient.Client
	Server    string
	Journal   chaos.Journal
}

// Event is something that happened to a target's process.
type Event struct {
	Time     time.Time
	Type     string
	Instance string
	PID      int
	Detail   string
}
