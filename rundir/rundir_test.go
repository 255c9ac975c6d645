package rundir

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gameday/gameday/chaos"
)

func TestNewRunIDUniqueWithinASecond(t *testing.T) {
	now := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)
	seen := map[string]bool{}
	shape := regexp.MustCompile(`^20261128T091500Z-[0-9a-f]{6}$`)
	for range 100 {
		id := NewRunID(now)
		if !shape.MatchString(id) {
			t.Fatalf("NewRunID() = %q; want 20261128T091500Z-xxxxxx", id)
		}
		seen[id] = true
	}
	if len(seen) < 99 { // 24 random bits: a collision in 100 is about 3e-4
		t.Errorf("100 run ids in one second: %d distinct", len(seen))
	}
}

func TestJournalPending(t *testing.T) {
	dir := t.TempDir()
	j, err := CreateJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	proxy := chaos.Effect{Kind: chaos.EffectProxy, Server: "http://t", Proxy: "gameday-x-edge"}
	toxic := chaos.Effect{Kind: chaos.EffectToxic, Server: "http://t", Proxy: "gameday-x-edge", Toxic: "gameday-x-slow"}
	down := chaos.Effect{Kind: chaos.EffectDisabled, Server: "http://t", Proxy: "db", Toxic: "gameday-x-cut"}
	for _, step := range []func() error{
		func() error { return j.Applying(proxy) },
		func() error { return j.Applying(toxic) },
		func() error { return j.Applying(down) },
		func() error { return j.Undone(toxic) },
		func() error { return j.Applying(toxic) }, // applied again
		func() error { return j.Undone(down) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := Pending(dir)
	if err != nil || !slices.Equal(got, []chaos.Effect{proxy, toxic}) {
		t.Fatalf("Pending() = %v, %v; want [proxy toxic]", got, err)
	}

	// A torn last line, as SIGKILL leaves it, is ignored; appending cuts it.
	path := filepath.Join(dir, FileJournal)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"time":"2026-11-28T09:15:00Z","op":"undone","effect":{"kind":"pro`)
	f.Close()
	if got, err := Pending(dir); err != nil || len(got) != 2 {
		t.Errorf("Pending() with a torn last line = %v, %v; want the 2 effects", got, err)
	}
	j, err = CreateJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Undone(proxy); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if got, err := Pending(dir); err != nil || !slices.Equal(got, []chaos.Effect{toxic}) {
		t.Errorf("Pending() after appending past a torn line = %v, %v; want [toxic]", got, err)
	}
	if got, err := Pending(t.TempDir()); err != nil || len(got) != 0 {
		t.Errorf("Pending(no journal) = %v, %v; want none", got, err)
	}
}

func TestLease(t *testing.T) {
	id := NewRunID(time.Now())
	if Live(id) {
		t.Fatalf("Live(%s) before any lease = true", id)
	}
	a, err := TakeLease(id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := TakeLease(id) // the guard holds it beside the run
	if err != nil {
		t.Fatal(err)
	}
	if !Live(id) {
		t.Errorf("Live(%s) with two holders = false", id)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if !Live(id) {
		t.Errorf("Live(%s) with one holder left = false", id)
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	if Live(id) {
		t.Errorf("Live(%s) after both released = true", id)
	}
	if _, err := os.Stat(filepath.Join(LeaseDir(), id+".lock")); !os.IsNotExist(err) {
		t.Errorf("lease file left after the last release: %v", err)
	}
}
