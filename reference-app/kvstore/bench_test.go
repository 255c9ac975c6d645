package kvstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gameday/gameday/reference-app/kvstore"
	"github.com/gameday/gameday/reference-app/kvstore/kvstoretest"
)

// BenchmarkWrite measures one acknowledged single-op write over loopback
// HTTP: async (an fsync on the primary) and sync (plus a replica's poll,
// apply and acknowledgement).
func BenchmarkWrite(b *testing.B) {
	for _, mode := range []kvstore.Replication{kvstore.Async, kvstore.Sync} {
		b.Run(string(mode), func(b *testing.B) {
			p := kvstoretest.Start(b, "", append(kvstoretest.FastOptions, kvstore.WithReplication(mode))...)
			kvstoretest.Start(b, "", append(kvstoretest.FastOptions, kvstore.WithNode("r"),
				kvstore.WithMode(kvstore.RoleReplica), kvstore.WithPrimary(p.URL))...)
			c := kvstore.NewClient(kvstore.FixedPrimary(p.URL), nil) // keep-alive: this is the hot path
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				if _, err := c.Write(ctx, kvstore.Put("b", fmt.Sprint(i), raw(`{"n":1}`))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
