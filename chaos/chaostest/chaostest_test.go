package chaostest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gameday/gameday/chaos"
)

// flagFault is the smallest correct fault: its effect is a flag. It shows
// that Run passes a fault that keeps the contract; the fault packages'
// tests show that Run fails faults that break it.
type flagFault struct {
	mu  sync.Mutex // guards on and rec
	on  bool
	rec *chaos.Record
}

func (f *flagFault) Name() string { return "flag" }

func (f *flagFault) Inject(ctx context.Context) ([]chaos.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = true
	f.rec = &chaos.Record{Fault: "flag", Kind: "memory", Target: "flag", Action: "set", InjectedAt: time.Now()}
	return []chaos.Record{*f.rec}, nil
}

func (f *flagFault) Recover(ctx context.Context) ([]chaos.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = false
	if f.rec == nil {
		return nil, nil
	}
	f.rec.RecoveredAt = time.Now()
	r := *f.rec
	f.rec = nil
	return []chaos.Record{r}, nil
}

func (f *flagFault) observed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.on
}

func TestRunPassesACorrectFault(t *testing.T) {
	var cur *flagFault
	Run(t, Harness{
		New:      func(t *testing.T) chaos.Fault { cur = &flagFault{}; return cur },
		Observed: func(t *testing.T) bool { return cur.observed() },
	})
}
