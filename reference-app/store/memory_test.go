package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestMemoryCreateIsIdempotentByID(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	first, created, err := m.Create(ctx, Post{ID: "a", Text: "one", CreatedAt: at})
	if err != nil || !created || first.Seq != 1 {
		t.Fatalf("Create(a) = %+v, %v, %v; want seq 1, created, no error", first, created, err)
	}
	again, created, err := m.Create(ctx, Post{ID: "a", Text: "other", CreatedAt: at.Add(time.Hour)})
	if err != nil || created || again != first {
		t.Fatalf("Create(a) again = %+v, %v, %v; want %+v, not created, no error", again, created, err, first)
	}
	second, _, err := m.Create(ctx, Post{ID: "b", Text: "two"})
	if err != nil || second.Seq != 2 {
		t.Fatalf("Create(b) = %+v, %v; want seq 2", second, err)
	}
	if _, _, err := m.Create(ctx, Post{Text: "no id"}); err == nil {
		t.Errorf("Create(no id) = nil error; want an error")
	}
}

func TestMemoryGet(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	want, _, err := m.Create(ctx, Post{ID: "a", Text: "one"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Get(ctx, "a"); err != nil || got != want {
		t.Errorf("Get(a) = %+v, %v; want %+v", got, err, want)
	}
	if _, err := m.Get(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(missing) error = %v; want ErrNotFound", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Get(canceled, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get(canceled ctx) error = %v; want context.Canceled", err)
	}
}

func TestMemoryLatest(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	for i := range 5 {
		if _, _, err := m.Create(ctx, Post{ID: fmt.Sprint(i), Text: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		limit int
		want  []string // ids, newest first
	}{
		{limit: 2, want: []string{"4", "3"}},
		{limit: 5, want: []string{"4", "3", "2", "1", "0"}},
		{limit: 9, want: []string{"4", "3", "2", "1", "0"}}, // more than stored
		{limit: 0, want: []string{}},
		{limit: -1, want: []string{}},
	}
	for _, tt := range tests {
		got, err := m.Latest(ctx, tt.limit)
		if err != nil {
			t.Fatalf("Latest(%d) error = %v", tt.limit, err)
		}
		ids := []string{}
		for _, p := range got {
			ids = append(ids, p.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
			t.Errorf("Latest(%d) = %v; want %v", tt.limit, ids, tt.want)
		}
	}
}

// TestMemoryConcurrentCreate checks that concurrent creators of the same
// ids store each id once and hand out every Seq exactly once.
func TestMemoryConcurrentCreate(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	const writers, ids = 8, 50
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for i := range ids {
				if _, _, err := m.Create(ctx, Post{ID: fmt.Sprint(i), Text: "t"}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	all, err := m.Latest(ctx, 2*ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != ids {
		t.Fatalf("Latest after %d writers x %d ids: %d posts; want %d", writers, ids, len(all), ids)
	}
	for i, p := range all {
		if want := int64(ids - i); p.Seq != want {
			t.Errorf("Latest()[%d].Seq = %d; want %d", i, p.Seq, want)
		}
	}
}
