package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/template"
)

// MaxReplicas is the most instances a service of a ProcessesTarget may run.
const MaxReplicas = 16

// Topology is where everything of a started ProcessesTarget is: what its
// services' templates resolve against.
type Topology struct {
	// Links maps a link's name to its proxy's address, host:port.
	Links map[string]string
	// Addrs maps an instance to its ports' addresses by port name.
	Addrs map[string]map[string]string
	// DataDir is the target's folder in the run directory: SharedDir, and
	// the parent of every instance's DataDir.
	DataDir string
}

// Funcs returns the functions of service templates (see ServiceData) over
// top, with extra (env and file) added.
func (t *ProcessesTarget) Funcs(top Topology, extra template.FuncMap) template.FuncMap {
	fm := template.FuncMap{
		"link": func(name string) (string, error) {
			a, ok := top.Links[name]
			if !ok {
				return "", fmt.Errorf("unknown link %q (want one of %s)", name, strings.Join(t.Declaration().Links, ", "))
			}
			return a, nil
		},
		"links": func(edge string) ([]string, error) {
			i := slices.IndexFunc(t.Edges, func(e Edge) bool { return e.Name == edge })
			if i < 0 {
				return nil, fmt.Errorf("unknown edge %q (want one of %s)", edge, strings.Join(t.edgeNames(), ", "))
			}
			var out []string
			for _, l := range t.EdgeLinks(t.Edges[i]) {
				out = append(out, top.Links[l.Name])
			}
			return out, nil
		},
		"addr": func(instance string, port ...string) (string, error) {
			ports, ok := top.Addrs[instance]
			if !ok {
				return "", fmt.Errorf("unknown instance %q (want one of %s)", instance, strings.Join(t.instanceNames(), ", "))
			}
			if len(port) > 1 {
				return "", fmt.Errorf("addr takes an instance and at most one port")
			}
			if len(port) == 0 {
				for _, in := range t.Instances() {
					if in.Name == instance {
						port = []string{in.Service.PortNames()[0]}
					}
				}
			}
			a, ok := ports[port[0]]
			if !ok {
				return "", fmt.Errorf("instance %q has no port %q", instance, port[0])
			}
			return a, nil
		},
		"instances": func(service string) ([]string, error) {
			i := slices.IndexFunc(t.Services, func(s Service) bool { return s.Name == service })
			if i < 0 {
				return nil, fmt.Errorf("unknown service %q", service)
			}
			s := &t.Services[i]
			var out []string
			for r := 1; r <= s.ReplicaCount(); r++ {
				out = append(out, s.InstanceName(r))
			}
			return out, nil
		},
		"join": func(sep string, xs []string) string { return strings.Join(xs, sep) },
		"urls": func(addrs []string) []string {
			out := make([]string, len(addrs))
			for i, a := range addrs {
				out[i] = "http://" + a
			}
			return out
		},
	}
	for k, f := range extra {
		fm[k] = f
	}
	return fm
}

func (t *ProcessesTarget) edgeNames() []string {
	var out []string
	for _, e := range t.Edges {
		out = append(out, e.Name)
	}
	return out
}

func (t *ProcessesTarget) instanceNames() []string {
	var out []string
	for _, in := range t.Instances() {
		out = append(out, in.Name)
	}
	return out
}

// Data returns what in's templates see in top.
func (t *ProcessesTarget) Data(in ServiceInstance, top Topology) ServiceData {
	d := ServiceData{
		Service:   in.Service.Name,
		Instance:  in.Name,
		Replica:   in.Replica,
		Addrs:     map[string]string{},
		Ports:     map[string]int{},
		DataDir:   filepath.Join(top.DataDir, in.Name),
		SharedDir: top.DataDir,
	}
	for _, p := range in.Service.PortNames() {
		a := top.Addrs[in.Name][p]
		d.Addrs[p] = a
		var port int
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			_, _ = fmt.Sscan(a[i+1:], &port)
		}
		d.Ports[p] = port
	}
	first := in.Service.PortNames()[0]
	d.Addr, d.Port = d.Addrs[first], d.Ports[first]
	return d
}

// Render executes in's args and env templates: the args in order, an arg
// that renders empty left out (so an {{if}} can leave one out), and the env
// as "KEY=value" sorted by key.
func (t *ProcessesTarget) Render(in ServiceInstance, top Topology, extra template.FuncMap) (args, env []string, err error) {
	fm := t.Funcs(top, extra)
	data := t.Data(in, top)
	exec := func(name, text string) (string, error) {
		tm, err := template.New(name).Option("missingkey=error").Funcs(fm).Parse(text)
		if err != nil {
			return "", fmt.Errorf("invalid template %q: %w", text, err)
		}
		var b strings.Builder
		if err := tm.Execute(&limitedWriter{w: &b, n: 1 << 16}, data); err != nil {
			return "", fmt.Errorf("template %q: %w", text, err)
		}
		return b.String(), nil
	}
	for i, a := range in.Service.Args {
		out, err := exec(fmt.Sprintf("args[%d]", i), a)
		if err != nil {
			return nil, nil, err
		}
		if out != "" {
			args = append(args, out)
		}
	}
	keys := make([]string, 0, len(in.Service.Env))
	for k := range in.Service.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out, err := exec("env."+k, in.Service.Env[k])
		if err != nil {
			return nil, nil, err
		}
		env = append(env, k+"="+out)
	}
	return args, env, nil
}

// sampleTopology gives every declared link, instance and port a placeholder
// address, for validation.
func (t *ProcessesTarget) sampleTopology() Topology {
	top := Topology{Links: map[string]string{}, Addrs: map[string]map[string]string{}, DataDir: os.TempDir()}
	for _, l := range t.Declaration().Links {
		top.Links[l] = "127.0.0.1:10001"
	}
	for _, in := range t.Instances() {
		top.Addrs[in.Name] = map[string]string{}
		for _, p := range in.Service.PortNames() {
			top.Addrs[in.Name][p] = "127.0.0.1:10002"
		}
	}
	return top
}
