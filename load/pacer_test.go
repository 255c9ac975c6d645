package load

import (
	"testing"
	"testing/synctest"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// attackLoop paces hits the way Vegeta's Attack does (check the duration,
// Pace, sleep, hit) and returns how many hits it sent and when it ended.
func attackLoop(p vegeta.Pacer, du time.Duration) (hits uint64, ended time.Duration) {
	began := time.Now()
	for {
		elapsed := time.Since(began)
		if du > 0 && elapsed > du {
			return hits, time.Since(began)
		}
		wait, stop := p.Pace(elapsed, hits)
		if stop {
			return hits, time.Since(began)
		}
		time.Sleep(wait)
		hits++
	}
}

func TestStoppingPacer(t *testing.T) {
	tests := []struct {
		name      string
		rate      vegeta.Rate
		du        time.Duration
		stopAt    time.Duration // 0: never
		wantHits  uint64
		wantEnded time.Duration
	}{
		// 7/10 of 100/s for 1s: the 70th hit is due at 999.99998ms, the 71st after the end.
		{"share 7:10", vegeta.Rate{Freq: 700, Per: 10 * time.Second}, time.Second, 0, 70, 999999980},
		{"share 3:10", vegeta.Rate{Freq: 300, Per: 10 * time.Second}, time.Second, 0, 30, 999999990},
		// The first hit is due after the end: stop at once rather than sleep 100s.
		{"due after the end", vegeta.Rate{Freq: 1, Per: 100 * time.Second}, 90 * time.Second, 0, 0, 0},
		// Stopping interrupts a 60s wait.
		{"stop during a long wait", vegeta.Rate{Freq: 1, Per: time.Minute}, 0, 5 * time.Second, 0, 5 * time.Second},
		// Hits due before the stop are sent: 35 × 14.285714ms = 499.99999ms.
		{"stop mid-run", vegeta.Rate{Freq: 700, Per: 10 * time.Second}, 0, 500 * time.Millisecond, 35, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				done := make(chan struct{})
				if tt.stopAt > 0 {
					time.AfterFunc(tt.stopAt, func() { close(done) })
				}
				p := newStoppingPacer(tt.rate, tt.du, done)
				hits, ended := attackLoop(p, tt.du)
				if hits != tt.wantHits || ended != tt.wantEnded {
					t.Errorf("attack with Pace(%v, du %s, stop at %s) = %d hits, ended at %s; want %d hits, ended at %s",
						tt.rate, tt.du, tt.stopAt, hits, ended, tt.wantHits, tt.wantEnded)
				}
			})
		})
	}
}

func TestStoppingPacerDrops(t *testing.T) {
	// 100/s for 1s (hit n due at (n+1)×10ms); every worker busy from
	// 300ms until 500ms: the hits due at 300ms ... 490ms are dropped at
	// their due times, none is sent late, the schedule goes on after.
	synctest.Test(t, func(t *testing.T) {
		began := time.Now()
		p := newStoppingPacer(vegeta.Rate{Freq: 100, Per: time.Second}, time.Second, nil)
		p.full = func(uint64) bool {
			el := time.Since(began)
			return el >= 300*time.Millisecond && el < 500*time.Millisecond
		}
		var drops []time.Duration
		p.drop = func(due time.Time) { drops = append(drops, due.Sub(began)) }
		var sentAt []time.Duration
		hits, _ := attackLoopRecording(p, time.Second, &sentAt)

		if hits != 80 || p.Dropped() != 20 {
			t.Errorf("attack with all workers busy 300-500ms = %d sent, %d dropped; want 80 and 20", hits, p.Dropped())
		}
		for i, d := range drops {
			if want := 300*time.Millisecond + time.Duration(i)*10*time.Millisecond; d != want {
				t.Errorf("drop %d due at %s; want %s", i, d, want)
			}
		}
		for i, at := range sentAt {
			n := i
			if i >= 29 {
				n += 20 // the dropped hits' numbers are skipped
			}
			if want := time.Duration(n+1) * 10 * time.Millisecond; at != want {
				t.Errorf("hit %d sent at %s; want %s (its due time)", i, at, want)
			}
		}
	})
}

func TestStoppingPacerWaitsThenDrops(t *testing.T) {
	// As above, but a hit may wait 10ms for a worker: the hits due at
	// 300ms ... 480ms wait 10ms each and are dropped; the one due at
	// 490ms gets the worker freed at 500ms, 10ms late; the schedule goes
	// on after.
	synctest.Test(t, func(t *testing.T) {
		began := time.Now()
		p := newStoppingPacer(vegeta.Rate{Freq: 100, Per: time.Second}, time.Second, nil)
		p.full = func(uint64) bool {
			el := time.Since(began)
			return el >= 300*time.Millisecond && el < 500*time.Millisecond
		}
		p.freed, p.late = make(chan struct{}), 10*time.Millisecond // never signalled: the deadline decides
		var drops []time.Duration
		p.drop = func(due time.Time) { drops = append(drops, due.Sub(began)) }
		var sentAt []time.Duration
		hits, _ := attackLoopRecording(p, time.Second, &sentAt)

		if hits != 81 || p.Dropped() != 19 {
			t.Errorf("attack with all workers busy 300-500ms, 10ms lateness = %d sent, %d dropped; want 81 and 19", hits, p.Dropped())
		}
		for i, d := range drops {
			if want := 300*time.Millisecond + time.Duration(i)*10*time.Millisecond; d != want {
				t.Errorf("drop %d due at %s; want %s", i, d, want)
			}
		}
		if len(sentAt) > 30 && (sentAt[29] != 500*time.Millisecond || sentAt[30] != 500*time.Millisecond) {
			t.Errorf("hits 29 and 30 sent at %s and %s; want both at 500ms (due 490ms and 500ms)", sentAt[29], sentAt[30])
		}
	})
}

// attackLoopRecording is attackLoop that records when each hit was sent.
func attackLoopRecording(p vegeta.Pacer, du time.Duration, sentAt *[]time.Duration) (hits uint64, ended time.Duration) {
	began := time.Now()
	for {
		elapsed := time.Since(began)
		if du > 0 && elapsed > du {
			return hits, time.Since(began)
		}
		wait, stop := p.Pace(elapsed, hits)
		if stop {
			return hits, time.Since(began)
		}
		time.Sleep(wait)
		*sentAt = append(*sentAt, time.Since(began))
		hits++
	}
}
