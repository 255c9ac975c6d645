package refapp

import (
	"context"
	"flag"

	"github.com/gameday/gameday/reference-app/pushmock"
)

// pushmockRole is the mock push provider.
var pushmockRole = role{
	summary: "mock push provider that counts deliveries per event",
	flags: func(*flag.FlagSet) setupFunc {
		return func(_ context.Context, e env) (parts, error) {
			m, err := pushmock.New(pushmock.WithRegisterer(e.Registry), pushmock.WithLogger(e.Log))
			if err != nil {
				return parts{}, err
			}
			m.Register(e.Mux)
			return parts{}, nil
		}
	},
}
