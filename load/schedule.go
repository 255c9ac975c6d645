package load

import (
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// schedule is when a stream's hits are due. Each entry of the mix paces its
// own share of the stream's rate (entryPlan.pacer); a free worker of the
// stream takes the earliest hit due among the entries (see take).
//
// A hit's due time is a function of the pacer alone: an entry's hit n+1 is
// due Pace(due(n), n+1) after its hit n, the way Vegeta's attack loop asks
// its Pacer right after each hit. So the schedule never depends on when a
// worker took a hit, the machine's pauses do not shift it, and it is the
// same on a virtual clock (tests) as on the real one. The hit due exactly
// at the end of the duration is sent; the first due after it ends the
// entry.
type schedule struct {
	du time.Duration // 0: no end

	mu      sync.Mutex // guards entries
	entries []entryClock
}

// entryClock is one entry's place in the schedule.
type entryClock struct {
	pacer   vegeta.Pacer
	hits    uint64        // hits taken: sent or dropped
	next    time.Duration // when hit number hits is due, from the start
	done    bool          // no hit is due any more
	dropped uint64
}

// newSchedule starts the schedule of pacers (one per entry) at 0.
func newSchedule(du time.Duration, pacers []vegeta.Pacer) *schedule {
	s := &schedule{du: du, entries: make([]entryClock, len(pacers))}
	for i, p := range pacers {
		s.entries[i].pacer = p
		s.entries[i].advance(du, 0)
	}
	return s
}

// advance computes when the entry's next hit is due, from the due time of
// the one before (0 for the first).
func (e *entryClock) advance(du, from time.Duration) {
	wait, stop := e.pacer.Pace(from, e.hits)
	next := from + max(wait, 0)
	if stop || (du > 0 && next > du) || next < from {
		e.done = true
		return
	}
	e.next = next
}

// droppedHit is a hit take dropped: its entry and when it was due.
type droppedHit struct {
	entry int
	due   time.Duration
}

// take hands the earliest hit due to a worker free at now (from the
// start): its entry and due time. A hit already late by more than late is
// dropped instead (its worker was busy past that: the open model does not
// send it later) and appended to drops, and the next one is taken. ok is
// false once no hit is due any more.
func (s *schedule) take(now, late time.Duration, drops []droppedHit) (entry int, due time.Duration, ok bool, _ []droppedHit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		entry = -1
		for i := range s.entries {
			if e := &s.entries[i]; !e.done && (entry < 0 || e.next < s.entries[entry].next) {
				entry = i
			}
		}
		if entry < 0 {
			return -1, 0, false, drops
		}
		e := &s.entries[entry]
		due = e.next
		e.hits++
		e.advance(s.du, due)
		if now-due <= late {
			return entry, due, true, drops
		}
		e.dropped++
		drops = append(drops, droppedHit{entry: entry, due: due})
	}
}

// dropped is how many hits of entry i were dropped so far.
func (s *schedule) dropped(i int) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries[i].dropped
}
