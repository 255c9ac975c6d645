package run

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/kube"
	"github.com/gameday/gameday/chaos/network"
	"github.com/gameday/gameday/chaos/process"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target"
)

// faultEnv is what building a fault needs of the run.
type faultEnv struct {
	runID   string
	running *target.Running
	s       *scenarios.Scenario
	vals    *scenarios.Values
}

// faultKinds builds a chaos fault of each kind from its scenario entry,
// which Validate accepted: one row per kind (see scenarios.Fault).
func faultKinds() map[string]func(f scenarios.Fault, env faultEnv) (chaos.Fault, error) {
	return map[string]func(scenarios.Fault, faultEnv) (chaos.Fault, error){
		scenarios.FaultNetwork: newNetworkFault,
		scenarios.FaultProcess: newProcessFault,
		scenarios.FaultHTTP:    newHTTPFault,
		scenarios.FaultExec:    newExecFault,
		scenarios.FaultPod:     newPodFault,
	}
}

// newFault builds the chaos fault of a scenario's fault.
func newFault(f scenarios.Fault, env faultEnv) (chaos.Fault, error) {
	build, ok := faultKinds()[f.Kind()]
	if !ok {
		return nil, fmt.Errorf("fault %q: unsupported kind %q", f.Name, f.Kind())
	}
	return build(f, env)
}

func newNetworkFault(f scenarios.Fault, env faultEnv) (chaos.Fault, error) {
	n := f.Network
	link, ok := env.running.Links[n.Link]
	if !ok {
		return nil, fmt.Errorf("fault %q: the target has no link %q", f.Name, n.Link)
	}
	spec := network.Spec{Link: link.Proxy, Down: n.Toxic == scenarios.ToxicDown, Action: n.Describe()}
	for _, t := range n.Toxics() {
		spec.Toxics = append(spec.Toxics, network.Toxic{Part: t.Part, Type: t.Type, Stream: t.Stream, Toxicity: t.Toxicity, Attributes: t.Attributes})
	}
	return network.New(f.Name, link.Toxiproxy, spec, network.WithRunID(env.runID), network.WithJournal(link.Journal, link.Server)), nil
}

func newProcessFault(f scenarios.Fault, env faultEnv) (chaos.Fault, error) {
	if env.running.Processes == nil {
		return nil, fmt.Errorf("fault %q: the target has no processes", f.Name)
	}
	p := f.Process
	sig, err := process.ParseSignal(string(p.Signal))
	if err != nil {
		return nil, fmt.Errorf("fault %q: %w", f.Name, err)
	}
	seed := randomSeed()
	if p.Seed != nil {
		seed = *p.Seed
	}
	return process.New(f.Name, env.running.Processes, process.Spec{
		Selector: p.Selector, Signal: sig, Victims: p.VictimCount, Seed: seed,
	}), nil
}

func newPodFault(f scenarios.Fault, env faultEnv) (chaos.Fault, error) {
	if env.running.Kube == nil {
		return nil, fmt.Errorf("fault %q: the target has no Kubernetes cluster", f.Name)
	}
	p := f.Pod
	if !slices.Contains(env.running.Namespaces, p.Namespace) {
		// Validate refuses it; the target says it again, as the last word.
		return nil, fmt.Errorf("fault %q: namespace %q is not one of the target's (%s)", f.Name, p.Namespace, strings.Join(env.running.Namespaces, ", "))
	}
	seed := randomSeed()
	if p.Seed != nil {
		seed = *p.Seed
	}
	return kube.New(f.Name, env.running.Kube, kube.Spec{
		Namespace:     p.Namespace,
		LabelSelector: p.LabelSelector,
		FieldSelector: p.FieldSelector,
		Mode:          kube.Mode(p.Mode),
		Count:         p.Count,
		Percent:       p.Percent,
		MaxVictims:    p.MaxVictims,
		Seed:          seed,
		GracePeriod:   p.GracePeriod,
		ReadyTimeout:  p.ReadyTimeout,
		RunID:         env.runID,
	}), nil
}

// randomSeed is a seed for a fault that names none; the records say it.
func randomSeed() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return int64(binary.LittleEndian.Uint64(b[:]) >> 1)
}

// endsByItself reports whether f's effect ends by itself (Recover waits
// for that end), by the optional method of chaos faults.
func endsByItself(f chaos.Fault) bool {
	e, ok := f.(interface{ EndsByItself() bool })
	return ok && e.EndsByItself()
}
