package external

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"text/template"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/network"
	"github.com/gameday/gameday/scenarios"
)

// journal records effects in memory.
type journal struct{ applied, undone []chaos.Effect }

func (j *journal) Applying(e chaos.Effect) error { j.applied = append(j.applied, e); return nil }
func (j *journal) Undone(e chaos.Effect) error   { j.undone = append(j.undone, e); return nil }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestStartFindsAndCreatesLinksAndStopRemovesWhatItCreated(t *testing.T) {
	var gotAuth string
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gotAuth = r.Header.Get("Authorization") }))
	defer svc.Close()
	tp, err := network.StartToxiproxy()
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	c := network.NewClient(tp.URL)
	if _, err := c.CreateProxy("db", "127.0.0.1:0", svc.Listener.Addr().String()); err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	spec := &scenarios.ExternalTarget{
		BaseURL: "http://" + listen,
		URLs:    map[string]string{"admin": svc.URL + "/admin"},
		Header:  map[string]string{"Authorization": `Bearer {{env "T"}}`},
		Toxiproxy: &scenarios.ExternalToxiproxy{URL: tp.URL, Links: []scenarios.ExternalLink{
			{Name: "edge", Listen: listen, Upstream: svc.Listener.Addr().String()},
			{Name: "db", Proxy: "db"},
		}},
	}
	j := &journal{}
	target := New(spec, Config{RunID: "20261128T091500Z-abcdef", Journal: j,
		Funcs: template.FuncMap{"env": func(string) string { return "s3cret" }}})
	r, err := target.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if gotAuth != "Bearer s3cret" {
		t.Errorf("the reachability check sent Authorization %q; want the target's header", gotAuth)
	}
	if r.Base != "http://"+listen || r.URLs["admin"] != svc.URL+"/admin" || r.Header.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("Running = base %s, urls %v, header %v", r.Base, r.URLs, r.Header)
	}
	edge, db := r.Links["edge"], r.Links["db"]
	if edge.Proxy != "gameday-20261128T091500Z-abcdef-edge" || edge.Listen != listen || db.Proxy != "db" || db.Journal != chaos.Journal(j) {
		t.Errorf("links = %+v", r.Links)
	}
	if len(j.applied) != 1 || j.applied[0].Kind != chaos.EffectProxy {
		t.Errorf("journal applied %v; want the created proxy", j.applied)
	}
	for _, v := range r.Attrs {
		if strings.Contains(v, "s3cret") {
			t.Errorf("attrs %v hold the secret", r.Attrs)
		}
	}
	if err := target.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := target.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	proxies, err := c.Proxies()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := proxies[edge.Proxy]; ok || len(proxies) != 1 {
		t.Errorf("after Stop the server holds %v; want only db", proxies)
	}
	if len(j.undone) != 1 {
		t.Errorf("journal undone %v; want the created proxy", j.undone)
	}
}

func TestStartRefusesMissingProxyAndUnreachableParts(t *testing.T) {
	svc := httptest.NewServer(http.NotFoundHandler())
	defer svc.Close()
	tp, err := network.StartToxiproxy()
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	closed := "http://" + freeAddr(t)
	for _, tt := range []struct {
		name string
		spec scenarios.ExternalTarget
		what string // of an UnreachableError; "" for another error
		want string
	}{
		{"base", scenarios.ExternalTarget{BaseURL: closed}, "baseURL", "connection refused"},
		{"toxiproxy", scenarios.ExternalTarget{BaseURL: svc.URL, Toxiproxy: &scenarios.ExternalToxiproxy{URL: closed}}, "toxiproxy", "connection refused"},
		{"prometheus", scenarios.ExternalTarget{BaseURL: svc.URL, Prometheus: &scenarios.PrometheusServer{URL: closed}}, "prometheus", "connection refused"},
		{"missing proxy", scenarios.ExternalTarget{BaseURL: svc.URL, Toxiproxy: &scenarios.ExternalToxiproxy{URL: tp.URL,
			Links: []scenarios.ExternalLink{{Name: "db", Proxy: "nope"}}}}, "", `link "db": proxy "nope"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(&tt.spec, Config{}).Start(context.Background())
			var ue *UnreachableError
			switch {
			case err == nil:
				t.Fatal("Start() = nil error")
			case tt.what != "" && (!errors.As(err, &ue) || ue.What != tt.what):
				t.Errorf("Start() = %v; want %s unreachable", err, tt.what)
			case !strings.Contains(err.Error(), tt.want):
				t.Errorf("Start() = %v; want it to say %q", err, tt.want)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@host/x": "https://REDACTED@host/x",
		"https://host/x?a=b@c":   "https://host/x?a=b@c",
		"http://host:1":          "http://host:1",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q; want %q", in, got, want)
		}
	}
}
