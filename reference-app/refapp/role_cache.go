package refapp

import (
	"context"
	"flag"

	"github.com/gameday/gameday/reference-app/cache"
)

// cacheRole is the TTL + LRU cache service.
var cacheRole = role{
	summary: "TTL + LRU cache of byte values, over HTTP",
	flags: func(fs *flag.FlagSet) setupFunc {
		var (
			capacity      = fs.Int("capacity", cache.DefaultCapacity, "entries held; one more evicts the least recently used")
			defaultTTL    = fs.Duration("default-ttl", cache.DefaultTTL, "time to live of a value PUT without X-Cache-TTL")
			maxTTL        = fs.Duration("max-ttl", cache.DefaultMaxTTL, "longest X-Cache-TTL accepted (400 beyond)")
			maxValueBytes = fs.Int64("max-value-bytes", cache.DefaultMaxValueBytes, "largest value accepted (413 beyond)")
		)
		return func(_ context.Context, e env) (parts, error) {
			c, err := cache.New(
				cache.WithCapacity(*capacity),
				cache.WithDefaultTTL(*defaultTTL),
				cache.WithMaxTTL(*maxTTL),
				cache.WithMaxValueBytes(*maxValueBytes),
				cache.WithRegisterer(e.Registry),
				cache.WithLogger(e.Log),
			)
			if err != nil {
				return parts{}, err
			}
			c.Register(e.Mux)
			return parts{Background: []func(context.Context) error{c.Run}}, nil
		}
	},
}
