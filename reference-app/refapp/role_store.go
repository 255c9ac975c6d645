package refapp

import (
	"context"
	"flag"

	"github.com/gameday/gameday/reference-app/kvstore"
)

// storeRole is a node of the durable, replicated key-value store.
var storeRole = role{
	summary: "durable replicated key-value store (bbolt): a primary or a replica",
	flags: func(fs *flag.FlagSet) setupFunc {
		var (
			dataDir     = fs.String("data-dir", "", "directory of the store's bbolt file, "+kvstore.DBFile+" (required)")
			node        = fs.String("node", "", "node name in status and replication polls (default: the instance)")
			primary     = fs.String("primary", "", "replica: base URL of the primary to pull the log from, unless the data dir has one persisted (from an earlier start or a follow)")
			syncTimeout = fs.Duration("sync-timeout", kvstore.DefaultSyncTimeout, "sync replication: how long a write waits for a replica before 503 (not acknowledged)")
			pollWait    = fs.Duration("poll-wait", kvstore.DefaultPollWait, "replica: how long one replication long poll waits for new entries (bounds how stale an idle replica may think it is)")
			backupDir   = fs.String("backup-dir", "", "folder standing for an object store that backups go to (POST /v1/admin/backup, --backup-interval); empty: no backups")
			backupEvery = fs.Duration("backup-interval", 0, "take a backup this often (0: only on request); needs --backup-dir")
			mode        = kvstore.RolePrimary
			replication = kvstore.Async
		)
		fs.TextVar(&mode, "mode", kvstore.RolePrimary, "role of a fresh data dir: primary or replica (afterwards the persisted role and epoch win)")
		fs.TextVar(&replication, "replication", kvstore.Async, "as primary: async (acknowledge at once) or sync (once a replica applied the write)")
		return func(_ context.Context, e env) (parts, error) {
			if *dataDir == "" {
				return parts{}, badFlag("data-dir", "required for --role=store")
			}
			if *primary != "" {
				if mode == kvstore.RolePrimary {
					return parts{}, badFlag("primary", "only for --mode=replica")
				}
				if err := kvstore.CheckBaseURL(*primary); err != nil {
					return parts{}, badFlag("primary", "%v", err)
				}
			}
			if *syncTimeout <= 0 {
				return parts{}, badFlag("sync-timeout", "%v: want > 0", *syncTimeout)
			}
			if *pollWait <= 0 || *pollWait > kvstore.MaxPollWait {
				return parts{}, badFlag("poll-wait", "%v: want > 0 and at most %v", *pollWait, kvstore.MaxPollWait)
			}
			if *backupEvery < 0 || (*backupEvery > 0 && *backupDir == "") {
				return parts{}, badFlag("backup-interval", "%v: want >= 0, and a --backup-dir when > 0", *backupEvery)
			}
			name := *node
			if name == "" {
				name = e.Instance
			}
			n, err := kvstore.Open(*dataDir,
				kvstore.WithNode(name),
				kvstore.WithMode(mode),
				kvstore.WithPrimary(*primary),
				kvstore.WithReplication(replication),
				kvstore.WithSyncTimeout(*syncTimeout),
				kvstore.WithPollWait(*pollWait),
				kvstore.WithBackupDir(*backupDir),
				kvstore.WithBackupInterval(*backupEvery),
				kvstore.WithRegisterer(e.Registry),
				kvstore.WithLogger(e.Log),
			)
			if err != nil {
				return parts{}, err
			}
			n.Register(e.Mux)
			return parts{
				Ready:      n.Ready,
				Background: []func(context.Context) error{n.Run, n.RunBackups},
				Close:      n.Close,
			}, nil
		}
	},
}
