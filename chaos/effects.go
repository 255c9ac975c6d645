package chaos

// Kinds of Effect.
const (
	// EffectToxic is a toxic added to a proxy.
	EffectToxic = "toxic"
	// EffectProxy is a proxy gameday created.
	EffectProxy = "proxy"
	// EffectDisabled is a proxy gameday disabled (a down fault).
	EffectDisabled = "disabled"
)

// Effect is one change gameday makes to a system outside itself — an
// external Toxiproxy server — that outlives gameday if it is not undone.
// Effects are journalled in the run directory before they are applied and
// again once undone, so that a guard process, or `gameday cleanup`, can undo
// what a run killed with SIGKILL left applied.
type Effect struct {
	Kind string `json:"kind"` // EffectToxic, EffectProxy, EffectDisabled
	// Server is the base URL of the Toxiproxy API it was applied through.
	Server string `json:"server"`
	Proxy  string `json:"proxy"`
	Toxic  string `json:"toxic,omitempty"` // for EffectToxic and EffectDisabled (its marker toxic)
}

// Journal records effects: Applying before the change is attempted (so an
// effect whose call was cut short is undone too; undoing what was never
// applied is harmless), Undone once it is reverted. Both must be durable
// when they return. Implementations are safe for concurrent use.
type Journal interface {
	Applying(Effect) error
	Undone(Effect) error
}

// NopJournal records nothing: for servers that die with gameday (an
// embedded Toxiproxy).
type NopJournal struct{}

// Applying does nothing.
func (NopJournal) Applying(Effect) error { return nil }

// Undone does nothing.
func (NopJournal) Undone(Effect) error { return nil }
