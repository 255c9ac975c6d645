// Package kvstore is refapp's durable, replicated key-value store: buckets
// of JSON values in one bbolt file, written in atomic batches that the
// primary numbers and logs, and that replicas pull and apply in order.
//
//	client ──POST /v1/write──▶ primary: batch → seq N, data + log + meta in one transaction
//	                              ▲      (sync mode: answer once a replica polled with after >= N)
//	                              │
//	replica ──GET /v1/repl/log?after=applied&epoch=E&node=name&wait=1s── long poll
//	        applies entries in order, in one transaction per answer
//
//	sentinel ──POST /v1/admin/promote {"epoch":E}──▶ replica becomes primary at E
//	         ──POST /v1/admin/follow {"primary",E}──▶ any node becomes a replica;
//	           log entries past the new primary's history are discarded
//
// Fencing: every promotion raises the epoch. A write or a poll that carries
// a higher epoch than the store's proves the store stale: it refuses writes
// (409) until told to follow. A lower one is a stale client: 409.
//
// A Node is one store process's engine, HTTP handlers (Register) and pull
// loop (Run). Client talks to a primary from another process.
package kvstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults and limits of a Node.
const (
	// DefaultSyncTimeout bounds how long a sync-mode write waits for a
	// replica to apply it.
	DefaultSyncTimeout = 2 * time.Second
	// DefaultPollWait is how long a replica's long poll waits for new
	// entries.
	DefaultPollWait = time.Second
	// DefaultPollGrace is how long a poll may take beyond its wait before
	// the replica gives up on it.
	DefaultPollGrace = 2 * time.Second
	// DefaultRetryMin and DefaultRetryMax bound the replica's backoff
	// between failed polls; it doubles from min to max.
	DefaultRetryMin = 50 * time.Millisecond
	DefaultRetryMax = 2 * time.Second
	// MaxLogBatch is the most entries one log answer carries.
	MaxLogBatch = 1000
	// MaxPollWait caps a poll's wait parameter.
	MaxPollWait = 30 * time.Second
	// MaxWriteBytes is the largest write body accepted (413 beyond).
	MaxWriteBytes = 1 << 20
	// MaxOps is the most ops one batch may hold.
	MaxOps = 1000
	// MaxBucketBytes and MaxKeyBytes bound names of buckets and keys.
	MaxBucketBytes = 255
	MaxKeyBytes    = 1024
	// DefaultListLimit and MaxListLimit are list's limit when absent and
	// its cap.
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Errors of a Node's operations; the HTTP layer maps them to statuses.
var (
	// errNotPrimary: the node is a replica (503).
	errNotPrimary = errors.New(MsgNotPrimary)
	// errFenced: the node is a primary that saw a higher epoch (409).
	errFenced = errors.New("fenced: a higher epoch exists; this store refuses writes until told to follow")
	// errStaleEpoch: the request carries an epoch below the store's (409).
	errStaleEpoch = errors.New("stale epoch")
	// errNotReplicated: sync mode, no replica applied the batch in time
	// (503, not acknowledged).
	errNotReplicated = errors.New(MsgNotReplicated)
	// errClosed: the node is closing.
	errClosed = errors.New("store closed")
)

type options struct {
	node           string
	mode           Role
	primary        string
	replication    Replication
	syncTimeout    time.Duration
	pollWait       time.Duration
	pollGrace      time.Duration
	retryMin       time.Duration
	retryMax       time.Duration
	logBatch       int
	client         *http.Client
	backupDir      string
	backupInterval time.Duration
	reg            prometheus.Registerer
	log            *slog.Logger
	now            func() time.Time
}

// Option configures Open.
type Option func(*options)

// WithNode names the node in its status and its polls (default "store").
func WithNode(name string) Option { return func(o *options) { o.node = name } }

// WithMode sets the role of a fresh data dir (default RolePrimary); an
// existing one keeps its persisted role.
func WithMode(r Role) Option { return func(o *options) { o.mode = r } }

// WithPrimary sets the primary URL a replica pulls from when its data dir
// has none persisted (a fresh one); a persisted one (from an earlier flag
// or a follow) wins.
func WithPrimary(baseURL string) Option { return func(o *options) { o.primary = baseURL } }

// WithReplication sets when the node, as primary, acknowledges a write
// (default Async).
func WithReplication(r Replication) Option { return func(o *options) { o.replication = r } }

// WithSyncTimeout bounds a sync-mode write's wait for a replica (default
// DefaultSyncTimeout).
func WithSyncTimeout(d time.Duration) Option { return func(o *options) { o.syncTimeout = d } }

// WithPollWait sets the replica's long-poll wait (default DefaultPollWait).
func WithPollWait(d time.Duration) Option { return func(o *options) { o.pollWait = d } }

// WithRetry bounds the replica's backoff between failed polls (default
// DefaultRetryMin, DefaultRetryMax).
func WithRetry(min, max time.Duration) Option {
	return func(o *options) { o.retryMin, o.retryMax = min, max }
}

// WithLogBatch sets the most entries one log answer carries, from 1 to
// MaxLogBatch (default MaxLogBatch).
func WithLogBatch(n int) Option { return func(o *options) { o.logBatch = n } }

// WithHTTPClient sets the client of the replica's polls (default: a
// dedicated transport without a global timeout; each poll has its own).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithRegisterer sets where the node registers its metrics (default: a
// private registry nobody scrapes).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithLogger sets the logger of role changes, discards and replication
// errors (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Node is one store node: its bbolt file, its role and epoch, the acks of
// the replicas that poll it and, as a replica, its pull loop. Its methods
// are safe for concurrent use.
type Node struct {
	opts    options
	eng     *engine
	metrics *metrics
	done    chan struct{} // closed by Close

	// writeMu serialises every change to the file: writes, applies,
	// promotions, follows, fencing.
	writeMu sync.Mutex

	mu      sync.Mutex         // guards the fields below
	st      state              // as persisted
	changed chan struct{}      // closed and replaced on every change of st or acks
	acks    map[string]uint64  // replica → highest seq it applied, at st.Epoch
	session context.CancelFunc // cancels the pull session; nil when none
	kick    chan struct{}      // wakes the pull loop after a role change (1 buffered)
	repl    replInfo           // replica's view of its primary
	closed  bool
}

// replInfo is what a replica last learnt from its primary.
type replInfo struct {
	primaryLast uint64    // the primary's last sequence at its last answer
	lastTime    time.Time // commit time of the last entry applied
	// freshAsOf is the latest time as of which the replica is known to
	// hold every write its primary acknowledged (zero: unknown).
	freshAsOf time.Time
}

// Open opens the store in dataDir (creating it), with the role, primary and
// epoch it persisted, or those of the options for a fresh dir.
func Open(dataDir string, opts ...Option) (*Node, error) {
	o := options{
		node:        "store",
		mode:        RolePrimary,
		replication: Async,
		syncTimeout: DefaultSyncTimeout,
		pollWait:    DefaultPollWait,
		pollGrace:   DefaultPollGrace,
		retryMin:    DefaultRetryMin,
		retryMax:    DefaultRetryMax,
		logBatch:    MaxLogBatch,
		log:         slog.New(slog.DiscardHandler),
		now:         time.Now,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	if o.client == nil {
		o.client = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}}
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := o.checkNotLost(dataDir); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	eng, st, err := openEngine(dataDir, state{Role: o.mode, Primary: o.primary})
	if err != nil {
		return nil, err
	}
	if st.Role == RoleReplica && st.Primary == "" && o.primary != "" {
		// A replica that was waiting to be told whom to follow.
		st.Primary = o.primary
		if err := eng.setState(st); err != nil {
			return nil, errors.Join(fmt.Errorf("open store: %w", err), eng.close())
		}
	}
	n := &Node{
		opts:    o,
		eng:     eng,
		done:    make(chan struct{}),
		st:      st,
		changed: make(chan struct{}),
		acks:    map[string]uint64{},
		kick:    make(chan struct{}, 1),
	}
	if n.metrics, err = newMetrics(o.reg, n); err != nil {
		return nil, errors.Join(fmt.Errorf("open store: %w", err), eng.close())
	}
	n.initBackupMetrics()
	o.log.Info("store opened", "node", o.node, "role", st.Role, "epoch", st.Epoch,
		"lastSeq", st.LastSeq, "primary", st.Primary, "fenced", st.Fenced)
	return n, nil
}

func (o options) validate() error {
	var errs []error
	if o.node == "" {
		errs = append(errs, errors.New("empty node name"))
	}
	if _, err := ParseRole(string(o.mode)); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseReplication(string(o.replication)); err != nil {
		errs = append(errs, err)
	}
	if o.primary != "" {
		if err := CheckBaseURL(o.primary); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"sync timeout", o.syncTimeout}, {"poll wait", o.pollWait}, {"poll grace", o.pollGrace},
		{"retry min", o.retryMin}, {"retry max", o.retryMax},
	} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s %v: want > 0", d.name, d.d))
		}
	}
	if o.logBatch < 1 || o.logBatch > MaxLogBatch {
		errs = append(errs, fmt.Errorf("log batch %d: want 1 to %d", o.logBatch, MaxLogBatch))
	}
	if o.backupInterval < 0 {
		errs = append(errs, fmt.Errorf("backup interval %v: want >= 0", o.backupInterval))
	}
	if o.backupInterval > 0 && o.backupDir == "" {
		errs = append(errs, errors.New("a backup interval needs a backup folder"))
	}
	if o.retryMax < o.retryMin {
		errs = append(errs, fmt.Errorf("retry max %v below retry min %v", o.retryMax, o.retryMin))
	}
	return errors.Join(errs...)
}

// CheckBaseURL returns an error unless s is an http(s) base URL: scheme
// and host, no path, query or user.
func CheckBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("base URL %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("base URL %q: want http(s)://host:port with no path, query or user", s)
	}
	return nil
}

// Close stops waits in progress (sync writes and long polls answer at once)
// and closes the bbolt file. Run returns soon after.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	close(n.done)
	if n.session != nil {
		n.session()
	}
	n.mu.Unlock()
	n.writeMu.Lock() // let a change in progress finish
	defer n.writeMu.Unlock()
	if err := n.eng.close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Status returns the node's current status.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.statusLocked()
}

func (n *Node) statusLocked() Status {
	return Status{
		Node:        n.opts.node,
		Role:        n.st.Role,
		Epoch:       n.st.Epoch,
		LastSeq:     n.st.LastSeq,
		AppliedSeq:  n.st.AppliedSeq,
		Primary:     n.st.Primary,
		Replication: n.opts.replication,
	}
}

// History returns the node's epoch history, oldest first.
func (n *Node) History() []EpochStart {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.st.History)
}

// Ready returns nil when the node can do its job: a replica always (it
// serves reads), a primary unless fenced, nothing once closed.
func (n *Node) Ready(context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.closed:
		return errClosed
	case n.st.Role == RolePrimary && n.st.Fenced:
		return errFenced
	}
	return nil
}

// takesWrites reports whether the node is an open, unfenced primary.
func (n *Node) takesWrites() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.closed && n.st.Role == RolePrimary && !n.st.Fenced
}

// setLocked installs a new state and wakes every waiter. n.mu must be held.
func (n *Node) setLocked(st state) {
	n.st = st
	n.broadcastLocked()
}

func (n *Node) broadcastLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// snapshot returns the state and the channel closed on its next change.
func (n *Node) snapshot() (state, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.st, n.changed
}

// newTermLocked ends the current term's acks and pull session after a role
// or epoch change. n.mu must be held.
func (n *Node) newTermLocked() {
	clear(n.acks)
	n.repl = replInfo{}
	if n.session != nil {
		n.session()
	}
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// write applies ops as one batch, when the node is an unfenced primary and
// epoch (0: none given) is its own. It returns errNotPrimary, errFenced
// (the store is stale; a higher epoch fences it at once), errStaleEpoch, or
// in sync mode errNotReplicated when no replica applied the batch within
// the sync timeout: that batch is in the log but not acknowledged.
func (n *Node) write(ctx context.Context, ops []Op, epoch uint64) (WriteResult, error) {
	n.writeMu.Lock()
	st, err := n.admitLocked(epoch, "a write")
	if err != nil {
		n.writeMu.Unlock()
		return WriteResult{}, err
	}
	st, res, err := n.eng.write(st, ops, n.opts.now())
	if err == nil {
		n.mu.Lock()
		n.setLocked(st)
		n.mu.Unlock()
	}
	n.writeMu.Unlock()
	if err != nil || n.opts.replication != Sync {
		return res, err
	}
	return res, n.awaitReplica(ctx, res.Seq, res.Epoch)
}

// admitLocked returns the node's state when it may act as the primary at
// epoch (0: none given): an open, unfenced primary whose epoch is not below
// epoch. Otherwise it returns errClosed, errNotPrimary, errFenced (a higher
// epoch, carried by what, fences the store at once) or errStaleEpoch.
// n.writeMu must be held.
func (n *Node) admitLocked(epoch uint64, what string) (state, error) {
	n.mu.Lock()
	st, closed := n.st, n.closed
	n.mu.Unlock()
	var err error
	switch {
	case closed:
		err = errClosed
	case st.Role != RolePrimary:
		err = errNotPrimary
	case st.Fenced:
		err = errFenced
	case epoch > st.Epoch:
		err = n.fenceLocked(fmt.Sprintf("%s carried epoch %d", what, epoch))
	case epoch != 0 && epoch < st.Epoch:
		err = fmt.Errorf("%w: the request's epoch %d is below the store's %d", errStaleEpoch, epoch, st.Epoch)
	}
	return st, err
}

// primaryRead runs read as the primary at epoch (0: any epoch), under the
// rules of a write (admitLocked): a replica, a fenced or closed store and
// another epoch refuse it, and a higher epoch fences the store. No
// promotion, follow or discard can happen while read runs, so what it reads
// is the data of the primary the caller named, not a replica's copy or a
// deposed primary's.
func (n *Node) primaryRead(epoch uint64, read func() error) error {
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	if _, err := n.admitLocked(epoch, "a primary read"); err != nil {
		return err
	}
	return read()
}

// fenceLocked marks the primary stale after it saw a higher epoch, and
// returns errFenced. n.writeMu must be held.
func (n *Node) fenceLocked(why string) error {
	n.mu.Lock()
	st := n.st
	n.mu.Unlock()
	if st.Fenced {
		return errFenced
	}
	st.Fenced = true
	if err := n.eng.setState(st); err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	n.mu.Lock()
	n.setLocked(st)
	n.mu.Unlock()
	n.opts.log.Warn("fenced: this store is stale and refuses writes until told to follow", "why", why, "epoch", st.Epoch)
	return errFenced
}

// awaitReplica waits until a replica acknowledged seq at epoch, for up to
// the sync timeout.
func (n *Node) awaitReplica(ctx context.Context, seq, epoch uint64) error {
	timer := time.NewTimer(n.opts.syncTimeout)
	defer timer.Stop()
	for {
		n.mu.Lock()
		acked := n.maxAckLocked() >= seq
		moved := n.st.Epoch != epoch || n.st.Role != RolePrimary
		ch := n.changed
		n.mu.Unlock()
		switch {
		case acked && !moved:
			return nil
		case moved:
			return fmt.Errorf("%w: the store left epoch %d before a replica applied seq %d", errNotReplicated, epoch, seq)
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("%w: no replica applied seq %d within %v", errNotReplicated, seq, n.opts.syncTimeout)
		case <-ctx.Done():
			return fmt.Errorf("await replica: %w", ctx.Err())
		case <-n.done:
			return fmt.Errorf("%w: %w", errNotReplicated, errClosed)
		}
	}
}

// maxAckLocked returns the highest sequence any replica acknowledged in
// this epoch. n.mu must be held.
func (n *Node) maxAckLocked() uint64 {
	var m uint64
	for _, a := range n.acks {
		m = max(m, a)
	}
	return m
}

// get and list read the node's own data, primary or replica (see
// primaryRead for a read that must come from the primary).
func (n *Node) get(bucket, key string) (Item, bool, error) { return n.eng.get(bucket, key) }

func (n *Node) list(bucket, prefix string, limit int, reverse bool) ([]KV, error) {
	return n.eng.list(bucket, prefix, limit, reverse)
}

// Promote makes the node primary at epoch, which must be above its own,
// and records that epoch began after its last sequence.
func (n *Node) Promote(epoch uint64) (Status, error) {
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	st, _ := n.snapshot()
	if epoch <= st.Epoch {
		return Status{}, fmt.Errorf("promote to epoch %d: %w: the store is at epoch %d", epoch, errStaleEpoch, st.Epoch)
	}
	old := st
	st.Role, st.Epoch, st.Primary, st.Fenced = RolePrimary, epoch, "", false
	st.History = append(slices.Clone(st.History), EpochStart{Epoch: epoch, After: st.LastSeq})
	if err := n.eng.setState(st); err != nil {
		return Status{}, fmt.Errorf("promote to epoch %d: %w", epoch, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.newTermLocked()
	n.setLocked(st)
	n.opts.log.Warn("promoted to primary", "epoch", epoch, "after", st.LastSeq, "was", old.Role, "wasEpoch", old.Epoch)
	return n.statusLocked(), nil
}

// Follow makes the node a replica of primary (a base URL) at epoch, which
// must not be below its own (and must be above it for a primary). Entries
// the new primary does not hold are discarded by the pull loop once it has
// the primary's history.
func (n *Node) Follow(primary string, epoch uint64) (Status, error) {
	if err := CheckBaseURL(primary); err != nil {
		return Status{}, fmt.Errorf("follow: %w", err)
	}
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	st, _ := n.snapshot()
	if epoch < st.Epoch || (epoch == st.Epoch && st.Role == RolePrimary && !st.Fenced) {
		return Status{}, fmt.Errorf("follow %s at epoch %d: %w: the store is %s at epoch %d",
			primary, epoch, errStaleEpoch, st.Role, st.Epoch)
	}
	if st.Role == RoleReplica && st.Primary == primary && st.Epoch == epoch {
		return n.Status(), nil // already so
	}
	old := st
	st.Role, st.Epoch, st.Primary, st.Fenced = RoleReplica, epoch, primary, false
	if err := n.eng.setState(st); err != nil {
		return Status{}, fmt.Errorf("follow %s: %w", primary, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.newTermLocked()
	n.setLocked(st)
	n.opts.log.Warn("following", "primary", primary, "epoch", epoch, "was", old.Role, "wasEpoch", old.Epoch)
	return n.statusLocked(), nil
}
