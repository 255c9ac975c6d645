package network

import (
	"testing"

	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"
)

// TestEmbeddedToxiproxySilencesToxics: toxics log to zerolog's global
// logger, which writes to stderr; an embedded server mutes it.
func TestEmbeddedToxiproxySilencesToxics(t *testing.T) {
	tp, err := StartToxiproxy()
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if lvl := zlog.Logger.GetLevel(); lvl != zerolog.Disabled {
		t.Errorf("zerolog's global logger is at level %s after StartToxiproxy; want disabled", lvl)
	}
}
