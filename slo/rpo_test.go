package slo

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gameday/gameday/scenarios"
)

// probeLog returns the writes of a probe writing every 50ms in [0, 15000) ms
// after rtoT0, each acknowledged when sent, with IDs w0000, w0050, …; read
// gives each one's read-back from its ack time, in ms.
func probeLog(read func(ack int) ReadBack) []ProbeWrite {
	var out []ProbeWrite
	for a := 0; a < 15000; a += 50 {
		out = append(out, ProbeWrite{ID: fmt.Sprintf("w%04d", a), Acked: ms(a), Read: read(a)})
	}
	return out
}

// readsExcept reads every write back as found, except those whose ack time
// is listed, which read back as given.
func readsExcept(at map[int]ReadBack) func(int) ReadBack {
	return func(a int) ReadBack {
		if r, ok := at[a]; ok {
			return r
		}
		return ReadFound
	}
}

func TestProbeRPO(t *testing.T) {
	fault := Span{Fault: "kill-primary", Start: ms(10000)}
	// many returns the map of the writes acknowledged at from, from+50, … < to, all read back as r.
	many := func(from, to int, r ReadBack) map[int]ReadBack {
		m := map[int]ReadBack{}
		for a := from; a < to; a += 50 {
			m[a] = r
		}
		return m
	}
	merge := func(maps ...map[int]ReadBack) map[int]ReadBack {
		out := map[int]ReadBack{}
		for _, m := range maps {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	ids := func(from, to int) []string {
		var out []string
		for a := from; a < to; a += 50 {
			out = append(out, fmt.Sprintf("w%04d", a))
		}
		return out
	}
	type want struct {
		ack, lost, splitBrain, unverified int
		lostIDs, splitIDs, unverifiedIDs  []string
		lostFrom, lostTo                  int // ms; -1: zero
		rpo, worst                        time.Duration
	}
	tests := []struct {
		name   string
		writes []ProbeWrite
		want   want
	}{
		{"no loss", probeLog(readsExcept(nil)),
			want{ack: 300, lostFrom: -1, lostTo: -1}},
		// The last 5 writes before the fault, acknowledged at 9750 … 9950, are lost.
		{"last K before t0 lost", probeLog(readsExcept(many(9750, 10000, ReadNotFound))),
			want{ack: 300, lost: 5, lostIDs: ids(9750, 10000), lostFrom: 9750, lostTo: 9950, rpo: 250 * time.Millisecond, worst: 250 * time.Millisecond}},
		// A write acknowledged exactly at t0 is before it: not split brain, RPO 0.
		{"lost at t0", probeLog(readsExcept(many(10000, 10050, ReadNotFound))),
			want{ack: 300, lost: 1, lostIDs: ids(10000, 10050), lostFrom: 10000, lostTo: 10000}},
		// Acknowledged after t0 and lost: split brain, not in the RPO.
		{"split brain", probeLog(readsExcept(many(10050, 10250, ReadNotFound))),
			want{ack: 300, lost: 4, splitBrain: 4, lostIDs: ids(10050, 10250), splitIDs: ids(10050, 10250), lostFrom: 10050, lostTo: 10200}},
		{"both", probeLog(readsExcept(many(9900, 10250, ReadNotFound))),
			want{ack: 300, lost: 7, splitBrain: 4, lostIDs: ids(9900, 10250), splitIDs: ids(10050, 10250), lostFrom: 9900, lostTo: 10200,
				rpo: 100 * time.Millisecond, worst: 100 * time.Millisecond}},
		// A failed read is not a loss: unverified; it could hide an RPO of 100ms.
		{"read failed", probeLog(readsExcept(map[int]ReadBack{9900: ReadFailed})),
			want{ack: 300, unverified: 1, unverifiedIDs: ids(9900, 9950), lostFrom: -1, lostTo: -1, worst: 100 * time.Millisecond}},
		// Never read back (the run ended first): unverified too.
		{"not read back", probeLog(readsExcept(map[int]ReadBack{5000: ReadNotDone, 12000: ReadNotDone})),
			want{ack: 300, unverified: 2, unverifiedIDs: []string{"w5000", "w12000"}, lostFrom: -1, lostTo: -1, worst: 5 * time.Second}},
		// Lost and unverified: the worst case takes the older.
		{"lost and unverified", probeLog(readsExcept(merge(many(9900, 10000, ReadNotFound), map[int]ReadBack{9500: ReadFailed}))),
			want{ack: 300, lost: 2, unverified: 1, lostIDs: ids(9900, 10000), unverifiedIDs: ids(9500, 9550), lostFrom: 9900, lostTo: 9950,
				rpo: 100 * time.Millisecond, worst: 500 * time.Millisecond}},
		{"empty log", nil,
			want{lostFrom: -1, lostTo: -1}},
	}
	for _, tt := range tests {
		got := ProbeRPO(tt.writes, fault, nil)
		w := tt.want
		msOf := func(tm time.Time) int {
			if tm.IsZero() {
				return -1
			}
			return int(tm.Sub(rtoT0) / time.Millisecond)
		}
		if got.Writes != len(tt.writes) || got.Acknowledged != w.ack || got.Found != w.ack-w.lost-w.unverified ||
			got.Lost != w.lost || got.SplitBrain != w.splitBrain || got.Unverified != w.unverified ||
			!slices.Equal(got.LostIDs, w.lostIDs) || !slices.Equal(got.SplitBrainIDs, w.splitIDs) || !slices.Equal(got.UnverifiedIDs, w.unverifiedIDs) ||
			msOf(got.LostFrom) != w.lostFrom || msOf(got.LostTo) != w.lostTo || got.RPO != w.rpo || got.WorstRPO != w.worst {
			t.Errorf("%s: ProbeRPO = %+v;\nwant %+v", tt.name, got, w)
		}
		if got.Fault != "kill-primary" || !got.Injected.Equal(ms(10000)) || got.RPO < 0 || got.WorstRPO < got.RPO {
			t.Errorf("%s: ProbeRPO = fault %q injected %v RPO %s worst %s", tt.name, got.Fault, got.Injected, got.RPO, got.WorstRPO)
		}
	}
}

func TestProbeRPOUnacknowledged(t *testing.T) {
	// Writes never acknowledged are no promise: not lost, whatever their read-back.
	writes := []ProbeWrite{
		{ID: "a", Acked: ms(9000), Read: ReadFound},
		{ID: "b", Read: ReadNotFound},
		{ID: "c", Read: ReadFailed},
		{ID: "d", Read: ReadFound},
	}
	got := ProbeRPO(writes, Span{Start: ms(10000)}, nil)
	if got.Writes != 4 || got.Acknowledged != 1 || got.Found != 1 || got.Lost != 0 || got.Unverified != 0 || got.RPO != 0 {
		t.Errorf("ProbeRPO(one acknowledged of four) = %+v; want 4 writes, 1 acknowledged and found, nothing lost or unverified", got)
	}
}

func TestProbeRPOLag(t *testing.T) {
	fault := Span{Start: ms(10000)}
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		lag  *float64
		want *float64
	}{
		{nil, nil},
		{f(0.35), f(0.35)},
		{f(0), f(0)},
		// Not a value: not shown.
		{f(math.NaN()), nil},
		{f(math.Inf(1)), nil},
	}
	for _, tt := range tests {
		got := ProbeRPO(nil, fault, tt.lag).ReplicationLag
		if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
			t.Errorf("ProbeRPO(lag %v).ReplicationLag = %v; want %v", deref(tt.lag), deref(got), deref(tt.want))
		}
	}
	// The echo is a copy.
	lag := 1.5
	got := ProbeRPO(nil, fault, &lag)
	lag = 9
	if *got.ReplicationLag != 1.5 {
		t.Errorf("ProbeRPO(lag 1.5).ReplicationLag after the caller changed its value = %v; want 1.5", *got.ReplicationLag)
	}
}

func deref(p *float64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func TestDataLossMeets(t *testing.T) {
	le2s, err := scenarios.ParseObjective("<= 2s")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		l    DataLoss
		want bool
	}{
		{"nothing lost", DataLoss{Acknowledged: 10}, true},
		{"RPO at the bound", DataLoss{Acknowledged: 10, Lost: 3, RPO: 2 * time.Second, WorstRPO: 2 * time.Second}, true},
		{"RPO above", DataLoss{Acknowledged: 10, Lost: 3, RPO: 2050 * time.Millisecond, WorstRPO: 2050 * time.Millisecond}, false},
		// An unverified write older than the bound cannot prove it.
		{"unverified above", DataLoss{Acknowledged: 10, Unverified: 1, WorstRPO: 5 * time.Second}, false},
		{"unverified within", DataLoss{Acknowledged: 10, Unverified: 1, WorstRPO: time.Second}, true},
		// Nothing acknowledged proves nothing.
		{"empty log", DataLoss{}, false},
	}
	for _, tt := range tests {
		if got := tt.l.Meets(le2s); got != tt.want {
			t.Errorf("%s: DataLoss{RPO: %s, WorstRPO: %s}.Meets(<= 2s) = %v; want %v", tt.name, tt.l.RPO, tt.l.WorstRPO, got, tt.want)
		}
	}
}

func TestReadBackString(t *testing.T) {
	for r, want := range map[ReadBack]string{ReadNotDone: "not_done", ReadFound: "found", ReadNotFound: "not_found", ReadFailed: "failed", 9: "ReadBack(9)"} {
		if got := r.String(); got != want {
			t.Errorf("ReadBack(%d).String() = %q; want %q", r, got, want)
		}
	}
}
