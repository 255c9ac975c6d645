package main

import (
	"context"
	"flag"

	"github.com/gameday/gameday/reference-app/api"
	"github.com/gameday/gameday/reference-app/store"
)

// apiRole is the stateless HTTP API.
var apiRole = role{
	summary: "the mobile API (stateless; an in-memory store for now)",
	flags: func(fs *flag.FlagSet) setupFunc {
		return func(_ context.Context, e env) (parts, error) {
			api.New(store.NewMemory(), e.Instance, api.WithLogger(e.Log)).Register(e.Mux)
			return parts{}, nil
		}
	},
}
