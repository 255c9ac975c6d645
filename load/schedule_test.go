package load

import (
	"testing"
	"testing/synctest"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// takeAll takes every hit of s, each by a worker free at its due time
// plus lag(due), and returns them in the order taken.
func takeAll(s *schedule, lag func(due time.Duration) time.Duration) (taken, dropped []droppedHit) {
	var drops []droppedHit
	now := time.Duration(0)
	for range 1 << 16 {
		entry, due, ok, d := s.take(now, MaxLateness, drops[:0])
		dropped = append(dropped, d...)
		if !ok {
			return taken, dropped
		}
		taken = append(taken, droppedHit{entry: entry, due: due})
		now = max(now, due+lag(due))
	}
	panic("schedule never ended")
}

func onTime(time.Duration) time.Duration { return 0 }

func TestScheduleShares(t *testing.T) {
	// 100/s for 1s split 7:3: the 70th hit of the first share is due at
	// 999.99998ms, the 30th of the second at 999.99999ms; the next of each
	// after the end.
	s := newSchedule(time.Second, []vegeta.Pacer{
		shareOfPacer(vegeta.Rate{Freq: 100, Per: time.Second}, 7, 10),
		shareOfPacer(vegeta.Rate{Freq: 100, Per: time.Second}, 3, 10),
	})
	taken, dropped := takeAll(s, onTime)
	var n [2]int
	var last [2]time.Duration
	for i, h := range taken {
		n[h.entry]++
		last[h.entry] = h.due
		if i > 0 && h.due < taken[i-1].due {
			t.Errorf("hit %d due at %s taken after one due at %s: not in due order", i, h.due, taken[i-1].due)
		}
	}
	if n != [2]int{70, 30} || len(dropped) != 0 {
		t.Errorf("schedule of 100/s for 1s split 7:3 = %v hits, %d dropped; want [70 30], 0", n, len(dropped))
	}
	if want := [2]time.Duration{999999980, 999999990}; last != want {
		t.Errorf("last hits due at %v; want %v", last, want)
	}
}

func TestScheduleEnds(t *testing.T) {
	// The first hit is due after the end: nothing to take, at once.
	s := newSchedule(90*time.Second, []vegeta.Pacer{vegeta.Rate{Freq: 1, Per: 100 * time.Second}})
	if _, due, ok, _ := s.take(0, MaxLateness, nil); ok {
		t.Errorf("take() on a schedule whose first hit is due after its end = hit due at %s; want none", due)
	}
	// Without an end, hits keep coming.
	s = newSchedule(0, []vegeta.Pacer{vegeta.Rate{Freq: 1, Per: time.Hour}})
	for i := range 1000 {
		_, due, ok, _ := s.take(0, MaxLateness, nil)
		if want := time.Duration(i+1) * time.Hour; !ok || due != want {
			t.Fatalf("take() %d on an endless schedule = %s, %v; want %s, true", i, due, ok, want)
		}
	}
}

func TestScheduleDropsLateHits(t *testing.T) {
	// 100/s for 1s (hit n due at (n+1)×10ms); the worker that takes the
	// hit due at 290ms is busy until 500ms: the hits due at 300 ... 390ms
	// are late by more than MaxLateness (100ms) then and dropped, the one
	// due at 400ms is sent 100ms late, and the schedule goes on from
	// there: none is sent later than MaxLateness, every one is sent or
	// dropped.
	s := newSchedule(time.Second, []vegeta.Pacer{vegeta.Rate{Freq: 100, Per: time.Second}})
	taken, dropped := takeAll(s, func(due time.Duration) time.Duration {
		if due == 290*time.Millisecond {
			return 210 * time.Millisecond
		}
		return 0
	})
	if len(taken) != 90 || len(dropped) != 10 || s.dropped(0) != 10 {
		t.Fatalf("schedule with a worker busy 290-500ms = %d taken, %d dropped (counted %d); want 90, 10", len(taken), len(dropped), s.dropped(0))
	}
	for i, d := range dropped {
		if want := 300*time.Millisecond + time.Duration(i)*10*time.Millisecond; d.due != want {
			t.Errorf("drop %d due at %s; want %s", i, d.due, want)
		}
	}
	if taken[29].due != 400*time.Millisecond {
		t.Errorf("hit taken after the busy spell due at %s; want 400ms", taken[29].due)
	}
}

func TestScheduleIsThePacers(t *testing.T) {
	// A linear ramp 100 → 300/s over 2s, taken late by 5ms each: the due
	// times are the ones taken on time (the schedule does not drift with
	// the workers' lateness).
	ramp := func() *schedule {
		return newSchedule(2*time.Second, []vegeta.Pacer{vegeta.LinearPacer{StartAt: vegeta.Rate{Freq: 100, Per: time.Second}, Slope: 100}})
	}
	want, _ := takeAll(ramp(), onTime)
	got, dropped := takeAll(ramp(), func(time.Duration) time.Duration { return 5 * time.Millisecond })
	if len(got) != len(want) || len(dropped) != 0 {
		t.Fatalf("ramp taken 5ms late = %d hits, %d dropped; on time %d hits", len(got), len(dropped), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("hit %d taken late due at %s; on time %s", i, got[i].due, want[i].due)
		}
	}
	if n := len(want); n < 396 || n > 404 {
		t.Errorf("ramp 100 → 300/s over 2s = %d hits; want about 400", n)
	}
}

func TestWorkerSleepStopsOnDone(t *testing.T) {
	// Stopping interrupts a 60s wait at once.
	synctest.Test(t, func(t *testing.T) {
		w := newWorker()
		done := make(chan struct{})
		time.AfterFunc(5*time.Second, func() { close(done) })
		began := time.Now()
		if w.sleepUntil(began.Add(time.Minute), done) {
			t.Error("sleepUntil() = true after done closed; want false")
		}
		if d := time.Since(began); d != 5*time.Second {
			t.Errorf("sleepUntil() returned after %s; want 5s, when done closed", d)
		}
		if !w.sleepUntil(time.Now().Add(-time.Second), make(chan struct{})) {
			t.Error("sleepUntil(a time past) = false; want true at once")
		}
	})
}
