package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The wiring between roles: Toxiproxy's config, name resolution as cluster
// DNS does it, and the documented edges of ARCHITECTURE.md.

// toxiproxyName is the Deployment, Service and ConfigMap of Toxiproxy.
const toxiproxyName = "toxiproxy"

// proxy is one entry of Toxiproxy's -config file.
type proxy struct {
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	Enabled  bool   `json:"enabled"`
}

// proxies decodes Toxiproxy's config strictly: toxiproxy itself only logs
// a config it cannot load and starts with no proxies.
func (m *manifests) proxies() ([]proxy, error) {
	cm := m.configMaps[toxiproxyName]
	if cm == nil {
		return nil, fmt.Errorf("no ConfigMap %s", toxiproxyName)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(cm.Data["proxies.json"])))
	dec.DisallowUnknownFields()
	var ps []proxy
	if err := dec.Decode(&ps); err != nil {
		return nil, fmt.Errorf("ConfigMap %s: proxies.json: %w", toxiproxyName, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("ConfigMap %s: proxies.json: data after the array", toxiproxyName)
	}
	return ps, nil
}

// checkToxiproxy: every proxy listens on all interfaces on a port the pod
// and the Service expose under the proxy's name, and reaches a real
// upstream; the readiness probe names a real proxy.
func checkToxiproxy(m *manifests, p *problems) {
	w := m.workload("Deployment", toxiproxyName)
	svc := m.services[toxiproxyName]
	if w == nil || svc == nil {
		p.add("no Deployment and Service %s", toxiproxyName)
		return
	}
	ps, err := m.proxies()
	if err != nil {
		p.add("%v", err)
		return
	}
	names := map[string]bool{}
	for _, px := range ps {
		where := fmt.Sprintf("toxiproxy proxy %q", px.Name)
		if px.Name == "" || names[px.Name] {
			p.add("%s: empty or repeated name", where)
		}
		names[px.Name] = true
		if !px.Enabled {
			p.add("%s: not enabled", where)
		}
		host, port, err := net.SplitHostPort(px.Listen)
		if err != nil || host != "0.0.0.0" {
			p.add("%s: listen %q; want 0.0.0.0:PORT", where, px.Listen)
			continue
		}
		cp := podPort(w, intstr.Parse(port))
		if cp == nil || cp.Name != px.Name {
			p.add("%s: listen port %s is not a container port named %s", where, port, px.Name)
		}
		if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool {
			return strconv.Itoa(int(sp.Port)) == port && sp.TargetPort.String() == px.Name
		}) {
			p.add("%s: Service %s has no port %s targeting %s", where, toxiproxyName, port, px.Name)
		}
		to, _, err := m.resolve(px.Upstream, false)
		if err != nil {
			p.add("%s: upstream %s: %v", where, px.Upstream, err)
		} else if to.w == w {
			p.add("%s: upstream %s is toxiproxy itself", where, px.Upstream)
		}
	}
	for _, ctr := range w.template.Spec.Containers {
		if pr := ctr.ReadinessProbe; pr != nil && pr.HTTPGet != nil {
			if name, ok := strings.CutPrefix(pr.HTTPGet.Path, "/proxies/"); ok && !names[name] {
				p.add("Deployment %s: readinessProbe asks for proxy %q, which the config lacks", toxiproxyName, name)
			}
		}
	}
}

// endpoint is where an address lands: a workload's container port.
type endpoint struct {
	w    *workload
	port *corev1.ContainerPort
}

// resolve follows host:port as cluster DNS would from inside the
// namespace: "svc:port" or "pod.svc:port" (a StatefulSet pod behind its
// headless Service). With throughProxy, an address of Toxiproxy is followed
// to the proxy's upstream, and the proxy's name is returned.
func (m *manifests) resolve(hostport string, throughProxy bool) (endpoint, string, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return endpoint{}, "", err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return endpoint{}, "", fmt.Errorf("port %q: %w", portStr, err)
	}
	pod, svcName, isPod := strings.Cut(host, ".")
	if !isPod {
		svcName = host
	}
	if strings.Contains(svcName, ".") {
		return endpoint{}, "", fmt.Errorf("host %q: want SERVICE or POD.SERVICE (namespace-relative, so that kustomize can move it)", host)
	}
	svc := m.services[svcName]
	if svc == nil {
		return endpoint{}, "", fmt.Errorf("no Service %s", svcName)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if int(svc.Spec.Ports[i].Port) == port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		return endpoint{}, "", fmt.Errorf("Service %s has no port %d", svcName, port)
	}
	ws := m.selected(labels.SelectorFromSet(svc.Spec.Selector))
	if len(ws) != 1 {
		return endpoint{}, "", fmt.Errorf("Service %s selects %v; want exactly one workload", svcName, ws)
	}
	w := ws[0]
	if isPod {
		ordinal, ok := strings.CutPrefix(pod, w.name+"-")
		n, err := strconv.Atoi(ordinal)
		if !ok || err != nil || w.kind != "StatefulSet" || w.serviceName != svcName || n < 0 || n >= int(w.replicas) ||
			svc.Spec.ClusterIP != corev1.ClusterIPNone {
			return endpoint{}, "", fmt.Errorf("host %q: no pod %s of a StatefulSet governed by headless Service %s", host, pod, svcName)
		}
	}
	target := sp.TargetPort
	if target.Type == intstr.Int && target.IntVal == 0 {
		target = intstr.FromInt(port)
	}
	cp := podPort(w, target)
	if cp == nil {
		return endpoint{}, "", fmt.Errorf("Service %s port %d targets %s, not a port of %s", svcName, port, target.String(), w)
	}
	to := endpoint{w: w, port: cp}
	if !throughProxy || w.name != toxiproxyName {
		return to, "", nil
	}
	ps, err := m.proxies()
	if err != nil {
		return endpoint{}, "", err
	}
	for _, px := range ps {
		if _, lp, _ := net.SplitHostPort(px.Listen); lp == strconv.Itoa(int(cp.ContainerPort)) {
			next, _, err := m.resolve(px.Upstream, false)
			if err != nil {
				return endpoint{}, "", fmt.Errorf("toxiproxy proxy %s: %w", px.Name, err)
			}
			return next, px.Name, nil
		}
	}
	return endpoint{}, "", fmt.Errorf("no toxiproxy proxy listens on port %d", cp.ContainerPort)
}

// urlPattern finds the URLs in a flag value ("a=http://x:1,b=http://y:2").
var urlPattern = regexp.MustCompile(`([a-z]+)://([^,/\s]+)(/[^,\s]*)?`)

// edge is one documented connection between roles, as a flag value.
type edge struct {
	from  string // workload, "Deployment api"
	flag  string
	key   string // for name=URL lists, the entry; "" for a single URL
	proxy string // the Toxiproxy proxy it must go through; "" for direct
	to    string // workload it must reach
}

// wantEdges is the wiring of ARCHITECTURE.md on Kubernetes: the api's store
// and cache traffic and the replicas' log pulls go through Toxiproxy; the
// sentinel checks the stores directly.
var wantEdges = []edge{
	{"Deployment gateway", "upstreams", "", "", "Deployment api"},
	{"Deployment api", "sentinel", "", "", "Deployment sentinel"},
	{"Deployment api", "cache", "", "api-cache", "Deployment cache"},
	{"Deployment api", "nats", "", "", "StatefulSet queue"},
	{"Deployment sentinel", "stores", "store-a", "", "StatefulSet store-a"},
	{"Deployment sentinel", "stores", "store-b", "", "StatefulSet store-b"},
	{"Deployment sentinel", "client-urls", "store-a", "api-store-a", "StatefulSet store-a"},
	{"Deployment sentinel", "client-urls", "store-b", "api-store-b", "StatefulSet store-b"},
	{"Deployment sentinel", "repl-urls", "store-a", "repl-store-a", "StatefulSet store-a"},
	{"Deployment sentinel", "repl-urls", "store-b", "repl-store-b", "StatefulSet store-b"},
	{"StatefulSet store-b", "primary", "", "repl-store-a", "StatefulSet store-a"},
	{"Deployment worker", "nats", "", "", "StatefulSet queue"},
	{"Deployment worker", "push-url", "", "", "Deployment pushmock"},
}

// checkWiring: every URL in refapp's arguments reaches a port named after
// its scheme (http, nats), and the documented edges reach the right
// workload by the right path.
func checkWiring(m *manifests, p *problems) {
	type hop struct {
		to    endpoint
		proxy string
	}
	hops := map[string]hop{} // "Deployment api --cache key" → where it lands
	for _, w := range m.workloads {
		for i := range w.template.Spec.Containers {
			ctr := &w.template.Spec.Containers[i]
			if !isRefapp(ctr) {
				continue
			}
			for _, a := range ctr.Args {
				am := argPattern.FindStringSubmatch(a)
				if am == nil {
					continue // reported by checkRefappContainer
				}
				for entry := range strings.SplitSeq(am[2], ",") {
					key, _, isKV := strings.Cut(entry, "=")
					if !isKV || strings.Contains(key, "://") {
						key = ""
					}
					for _, u := range urlPattern.FindAllStringSubmatch(entry, -1) {
						to, px, err := m.resolve(u[2], true)
						if err != nil {
							p.add("%s: --%s: %s: %v", w, am[1], u[0], err)
							continue
						}
						if to.port.Name != u[1] {
							p.add("%s: --%s: %s reaches %s port %q; want the port named %q", w, am[1], u[0], to.w, to.port.Name, u[1])
						}
						hops[fmt.Sprintf("%s --%s %s", w, am[1], key)] = hop{to, px}
					}
				}
			}
		}
	}
	for _, e := range wantEdges {
		h, ok := hops[fmt.Sprintf("%s --%s %s", e.from, e.flag, e.key)]
		what := strings.TrimSpace(fmt.Sprintf("%s: --%s %s", e.from, e.flag, e.key))
		switch {
		case !ok:
			p.add("%s: no URL; want one reaching %s", what, e.to)
		case h.to.w.String() != e.to:
			p.add("%s reaches %s; want %s", what, h.to.w, e.to)
		case h.proxy != e.proxy && e.proxy == "":
			p.add("%s goes through toxiproxy proxy %s; want direct", what, h.proxy)
		case h.proxy != e.proxy:
			p.add("%s reaches %s via %q; want through toxiproxy proxy %s", what, e.to, h.proxy, e.proxy)
		}
	}
}

// checkStores: exactly one store starts as primary; every other one starts
// as a replica that knows where to pull from; each has its own --node, the
// name the sentinel knows it by.
func checkStores(m *manifests, p *problems) {
	primaries := 0
	sentinelStores := ""
	if s := m.workload("Deployment", "sentinel"); s != nil && len(s.template.Spec.Containers) > 0 {
		sentinelStores, _ = flagValue(s.template.Spec.Containers[0].Args, "stores")
	}
	for _, w := range m.workloads {
		for _, ctr := range w.template.Spec.Containers {
			if role, _ := flagValue(ctr.Args, "role"); !isRefapp(&ctr) || role != "store" {
				continue
			}
			node, _ := flagValue(ctr.Args, "node")
			mode, _ := flagValue(ctr.Args, "mode")
			_, hasPrimary := flagValue(ctr.Args, "primary")
			switch {
			case mode == "primary":
				primaries++
			case mode == "replica" && !hasPrimary:
				p.add("%s: --mode=replica without --primary", w)
			case mode != "replica":
				p.add("%s: --mode=%q; want primary or replica", w, mode)
			}
			if w.replicas != 1 {
				p.add("%s: %d replicas with one --mode and --node: want 1", w, w.replicas)
			}
			if node == "" || !strings.Contains(","+sentinelStores, ","+node+"=") {
				p.add("%s: --node=%q is not in the sentinel's --stores", w, node)
			}
		}
	}
	if primaries != 1 {
		p.add("%d stores start as primary; want 1", primaries)
	}
}
