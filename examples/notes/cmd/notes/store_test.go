package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 11, 20, 9, 0, 0, 0, time.UTC)

// line is the journal line of a note written at t0 plus sec seconds.
func line(id, text string, sec int) string {
	at := t0.Add(time.Duration(sec) * time.Second).Format(time.RFC3339)
	return `{"id":"` + id + `","text":"` + text + `","created":"` + t0.Format(time.RFC3339) + `","updated":"` + at + `"}` + "\n"
}

func ids(notes []Note) []string {
	s := []string{}
	for _, n := range notes {
		s = append(s, n.ID+"="+n.Text)
	}
	return s
}

func TestOpenStore(t *testing.T) {
	tests := []struct {
		name        string
		journal     string
		wantList    []string // newest first
		wantDropped int64
		wantErr     string
	}{
		{name: "empty file", journal: "", wantList: []string{}},
		// A later line replaces an earlier note and makes it the newest.
		{name: "replay in order", journal: line("a", "1", 0) + line("b", "1", 1) + line("a", "2", 2),
			wantList: []string{"a=2", "b=1"}},
		// A write torn by a crash was never acknowledged: dropped.
		{name: "torn last line", journal: line("a", "1", 0) + `{"id":"b","te`,
			wantList: []string{"a=1"}, wantDropped: int64(len(`{"id":"b","te`))},
		{name: "complete last line without newline is torn too", journal: line("a", "1", 0) + strings.TrimSuffix(line("b", "1", 1), "\n"),
			wantList: []string{"a=1"}, wantDropped: int64(len(line("b", "1", 1)) - 1)},
		// Damage before the end is not a crash: refuse to guess.
		{name: "bad line in the middle", journal: line("a", "1", 0) + "{oops\n" + line("b", "1", 1),
			wantErr: "notes.jsonl:2: invalid character 'o'"},
		{name: "unknown field", journal: `{"id":"a","txt":"1"}` + "\n",
			wantErr: `notes.jsonl:1: json: unknown field "txt"`},
		{name: "no id", journal: `{"text":"1"}` + "\n",
			wantErr: "notes.jsonl:1: note without an id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "notes.jsonl")
			if err := os.WriteFile(path, []byte(tt.journal), 0o644); err != nil {
				t.Fatal(err)
			}
			s, dropped, err := openStore(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("openStore(%q) error = %v; want one containing %q", tt.journal, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("openStore(%q): %v", tt.journal, err)
			}
			defer s.Close()
			if got := ids(s.list(10)); !reflect.DeepEqual(got, tt.wantList) {
				t.Errorf("openStore(%q).list(10) = %v; want %v", tt.journal, got, tt.wantList)
			}
			if dropped != tt.wantDropped {
				t.Errorf("openStore(%q) dropped %d bytes; want %d", tt.journal, dropped, tt.wantDropped)
			}
			// The file now ends on a line boundary: a new write replays.
			if _, _, err := s.put("c", "1", t0); err != nil {
				t.Fatalf("put after open: %v", err)
			}
			s.Close()
			s2, dropped, err := openStore(path)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s2.Close()
			if want := append([]string{"c=1"}, tt.wantList...); !reflect.DeepEqual(ids(s2.list(10)), want) || dropped != 0 {
				t.Errorf("after put and reopen: list = %v, dropped %d; want %v, 0", ids(s2.list(10)), dropped, want)
			}
		})
	}
}

func TestStoreDurableAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.jsonl")
	s, _, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	writes := []struct {
		id, text    string
		at          time.Time
		wantCreated bool
	}{
		{"a", "first", t0, true},
		{"b", "other", t0.Add(time.Second), true},
		{"a", "second", t0.Add(2 * time.Second), false},
	}
	for _, w := range writes {
		if _, created, err := s.put(w.id, w.text, w.at); err != nil || created != w.wantCreated {
			t.Fatalf("put(%q, %q) = created %v, %v; want %v, nil", w.id, w.text, created, err, w.wantCreated)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.put("c", "late", t0); err == nil {
		t.Errorf("put after Close = nil error; want refused")
	}

	s, _, err = openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := Note{ID: "a", Text: "second", Created: t0, Updated: t0.Add(2 * time.Second)}
	if got, ok := s.get("a"); !ok || !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) || got.Text != want.Text {
		t.Errorf("get(a) after reopen = %+v, %v; want %+v, true", got, ok, want)
	}
	if got := ids(s.list(1)); !reflect.DeepEqual(got, []string{"a=second"}) {
		t.Errorf("list(1) after reopen = %v; want [a=second]", got)
	}
}

func TestStoreRefusesWritesAfterAFailedOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.jsonl")
	s, _, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.journal.Close() // the next write fails
	if _, _, err := s.put("a", "1", t0); err == nil {
		t.Fatalf("put on a closed journal = nil error; want an error")
	}
	if _, ok := s.get("a"); ok {
		t.Errorf("get(a) after a failed put found it; want the note unwritten")
	}
	if _, _, err := s.put("b", "1", t0); err == nil || !strings.Contains(err.Error(), "writes refused") {
		t.Errorf("second put = %v; want writes refused", err)
	}
}
