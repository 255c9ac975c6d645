package run

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"text/template"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target"
	"github.com/gameday/gameday/target/external"
	"github.com/gameday/gameday/target/kubernetes"
	"github.com/gameday/gameday/target/local"
	"github.com/gameday/gameday/target/processes"
)

// Target is a system a game day is played against, of whichever kind.
// Start brings it up (or checks that it answers) and returns once it is
// ready for load: what the run needs of it. Stop stops what Start started
// and removes what it created; it is idempotent, bounded by ctx, and is
// called on every exit path, after a failed Start too.
type Target interface {
	Start(ctx context.Context) (*target.Running, error)
	Stop(ctx context.Context) error
}

// targetEnv is what a run gives the target it builds.
type targetEnv struct {
	runID   string
	dir     string // the run directory
	funcs   template.FuncMap
	journal chaos.Journal
	live    func(runID string) bool
	logs    func(instance string) io.Writer
	onEvent func(target.Event)
	refapp  string // the reference backend's executable, for local targets
	// refappArgs come before its own arguments (local.Refapp.BinaryArgs).
	refappArgs []string
	// kubeconfig is $KUBECONFIG, for kubernetes targets that name no
	// kubeconfig.
	kubeconfig string
}

// targetKinds builds a target of each kind from its scenario: one row per
// kind (see scenarios.Target).
func targetKinds() map[string]func(s *scenarios.Scenario, env targetEnv) Target {
	return map[string]func(*scenarios.Scenario, targetEnv) Target{
		scenarios.TargetLocal: func(s *scenarios.Scenario, env targetEnv) Target {
			lt := s.Target.Local
			bin, binArgs := lt.Binary, []string(nil)
			if bin == "" {
				bin, binArgs = env.refapp, env.refappArgs
			}
			return &localTarget{cfg: local.Refapp{
				Binary:           bin,
				BinaryArgs:       binArgs,
				APIReplicas:      lt.APIReplicas,
				StoreReplicas:    lt.StoreReplicas,
				Replication:      string(lt.Replication),
				RestartDelay:     lt.RestartDelay,
				TokenTTL:         lt.TokenTTL,
				GatewayRateLimit: lt.GatewayRateLimit,
				TLS:              lt.TLS,
				Autoscale:        lt.Autoscale,
				Regions:          lt.Regions,
				DataDir:          filepath.Join(env.dir, rundir.DirData),
				Toxiproxy:        lt.Toxiproxy,
				RunID:            env.runID,
				Journal:          env.journal,
				Live:             env.live,
				Logs:             env.logs,
				OnEvent:          env.onEvent,
			}}
		},
		scenarios.TargetProcesses: func(s *scenarios.Scenario, env targetEnv) Target {
			dir := ""
			if s.File != "" {
				dir = s.ResolvePath(".")
			}
			return &processesTarget{spec: s.Target.Processes, cfg: processes.Config{
				Dir:     dir,
				DataDir: filepath.Join(env.dir, rundir.DirData),
				RunID:   env.runID,
				Journal: env.journal,
				Live:    env.live,
				Funcs:   env.funcs,
				Logs:    env.logs,
				OnEvent: env.onEvent,
			}}
		},
		scenarios.TargetExternal: func(s *scenarios.Scenario, env targetEnv) Target {
			return external.New(s.Target.External, external.Config{
				RunID:   env.runID,
				Journal: env.journal,
				Funcs:   env.funcs,
				Live:    env.live,
			})
		},
		scenarios.TargetKubernetes: func(s *scenarios.Scenario, env targetEnv) Target {
			dir := ""
			if s.File != "" {
				dir = s.ResolvePath(".")
			}
			return kubernetes.New(s.Target.Kubernetes, kubernetes.Config{
				Dir: dir,
				External: external.Config{
					RunID:   env.runID,
					Journal: env.journal,
					Funcs:   env.funcs,
					Live:    env.live,
				},
				Funcs:         env.funcs,
				KubeconfigEnv: env.kubeconfig,
			})
		},
	}
}

// newTarget builds the scenario's target.
func newTarget(s *scenarios.Scenario, env targetEnv) (Target, error) {
	kind := s.Target.Kind()
	build, ok := targetKinds()[kind]
	if !ok {
		return nil, fmt.Errorf("target: unsupported kind %q", kind)
	}
	return build(s, env), nil
}

// localTarget adapts the reference backend to Target.
type localTarget struct {
	cfg local.Refapp
	t   *local.Target
}

func (l *localTarget) Start(ctx context.Context) (*target.Running, error) {
	t, err := local.StartRefapp(ctx, l.cfg)
	if err != nil {
		return nil, err
	}
	l.t = t
	return t.Running(), nil
}

func (l *localTarget) Stop(ctx context.Context) error {
	if l.t == nil {
		return nil
	}
	return l.t.Stop(ctx)
}

// processesTarget adapts the user's programs to Target.
type processesTarget struct {
	spec *scenarios.ProcessesTarget
	cfg  processes.Config
	t    *processes.Target
}

func (p *processesTarget) Start(ctx context.Context) (*target.Running, error) {
	t, err := processes.Start(ctx, p.spec, p.cfg)
	if err != nil {
		return nil, err
	}
	p.t = t
	return t.Running(), nil
}

func (p *processesTarget) Stop(ctx context.Context) error {
	if p.t == nil {
		return nil
	}
	return p.t.Stop(ctx)
}
