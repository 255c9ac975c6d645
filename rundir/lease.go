package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Leases tell, on this machine, which runs are alive: a run (and its guard)
// holds a shared flock on a file named after its run id, which the kernel
// releases when the process dies, SIGKILL included. Another run finding a
// resource of run R on a shared Toxiproxy asks Live(R) before it calls it a
// leftover.

// LeaseDir is the folder of the lease files.
func LeaseDir() string { return filepath.Join(os.TempDir(), "gameday-leases") }

// Lease is a held lease.
type Lease struct{ f *os.File }

// TakeLease takes run id's lease; it is held until Release or the process
// dies. Several holders (a run and its guard) may hold it at once.
func TakeLease(id string) (*Lease, error) {
	if err := os.MkdirAll(LeaseDir(), 0o1777); err != nil {
		return nil, fmt.Errorf("take lease: %w", err)
	}
	// Every user's runs share the folder: it is world-writable and sticky,
	// whatever the umask (the owner makes it so; others cannot, and need not).
	if st, err := os.Stat(LeaseDir()); err == nil && st.Mode().Perm() != 0o777 {
		_ = os.Chmod(LeaseDir(), 0o1777)
	}
	f, err := os.OpenFile(filepath.Join(LeaseDir(), id+".lock"), os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("take lease: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("take lease: %w", err)
	}
	return &Lease{f: f}, nil
}

// Release releases the lease and removes its file when nobody else holds it.
func (l *Lease) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	name := l.f.Name()
	err := l.f.Close()
	l.f = nil
	if !Live(filepath.Base(name[:len(name)-len(".lock")])) {
		_ = os.Remove(name)
	}
	return err
}

// Live reports whether a process on this machine holds run id's lease.
func Live(id string) bool {
	f, err := os.Open(filepath.Join(LeaseDir(), id+".lock"))
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }() // read only
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true
	}
	if err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}
	return false
}

// Dead reports whether run id is known to have died on this machine: its
// lease file is there (it is removed when a run ends normally) and nobody
// holds it. A run this machine has no record of is not known dead: it may
// run on another machine.
func Dead(id string) bool {
	if _, err := os.Stat(filepath.Join(LeaseDir(), id+".lock")); err != nil {
		return false
	}
	return !Live(id)
}

// Forget removes the lease file of a dead run, once what it left is gone.
func Forget(id string) {
	if Dead(id) {
		_ = os.Remove(filepath.Join(LeaseDir(), id+".lock"))
	}
}
