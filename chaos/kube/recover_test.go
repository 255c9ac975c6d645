package kube

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/chaos"
)

// stepNames are the names of steps, in order.
func stepNames(steps []chaos.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

func stepAt(r chaos.Record, name string) time.Time {
	for _, s := range r.Steps {
		if s.Name == name {
			return s.At
		}
	}
	return time.Time{}
}

func TestRecoverSteps(t *testing.T) {
	full := []string{StepKilled, StepCreated, StepScheduled, StepReady, StepOwnerReady}
	tests := []struct {
		name  string
		spec  Spec
		steps []string
		// recoveredAt is the step whose time RecoveredAt is.
		recoveredAt string
		// owner is in the owner ready step's Detail.
		owner string
	}{
		{"a pod of a Deployment", Spec{LabelSelector: "app=api"}, full, StepOwnerReady, "Deployment/api: 3/3 ready, 3/3 updated, 3/3 available"},
		{"every pod of a Deployment", Spec{LabelSelector: "app=api", Mode: ModeAll}, full, StepOwnerReady, "Deployment/api: 3/3 ready"},
		{"a pod of a StatefulSet, replaced under its name", Spec{FieldSelector: "metadata.name=db-0"}, full, StepOwnerReady, "StatefulSet/db: 2/2 ready"},
		{"a pod of a Job: no owner readiness", Spec{LabelSelector: "app=report"}, full[:4], StepReady, ""},
		{"a bare pod: nothing replaces it", Spec{LabelSelector: "app=debug"}, full[:1], StepKilled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := newClient()
			r := startReplacer(t, client, nil, "")
			tt.spec.Namespace, tt.spec.RunID = ns, "run-1"
			f := New("kill", client, tt.spec)
			injected, err := f.Inject(testCtx(t))
			if err != nil {
				t.Fatalf("Inject() = _, %v", err)
			}
			recs, err := f.Recover(testCtx(t))
			if err != nil || len(recs) != len(injected) {
				t.Fatalf("Recover() = %+v, %v; want %d records, no error", recs, err, len(injected))
			}
			for i, rec := range recs {
				if rec.Target != injected[i].Target || !rec.InjectedAt.Equal(injected[i].InjectedAt) {
					t.Errorf("Recover() record %d = %+v; want Inject's %+v", i, rec, injected[i])
				}
				if got := stepNames(rec.Steps); !slices.Equal(got, tt.steps) {
					t.Errorf("Recover() %s steps = %q; want %q\n%+v", rec.Target, got, tt.steps, rec.Steps)
				}
				if !slices.IsSortedFunc(rec.Steps, func(a, b chaos.Step) int { return a.At.Compare(b.At) }) {
					t.Errorf("Recover() %s steps = %+v; want in time order", rec.Target, rec.Steps)
				}
				if want := stepAt(rec, tt.recoveredAt); rec.RecoveredAt.IsZero() || !rec.RecoveredAt.Equal(want) {
					t.Errorf("Recover() %s RecoveredAt = %v; want the %s step's %v", rec.Target, rec.RecoveredAt, tt.recoveredAt, want)
				}
				if rec.Steps[0].At.Before(rec.InjectedAt) {
					t.Errorf("Recover() %s killed at %v; want after InjectedAt %v", rec.Target, rec.Steps[0].At, rec.InjectedAt)
				}
				for _, s := range rec.Steps {
					switch s.Name {
					case StepCreated:
						if !strings.Contains(s.Detail, "(creationTimestamp 20") {
							t.Errorf("Recover() %s step %q detail = %q; want the API's creationTimestamp", rec.Target, s.Name, s.Detail)
						}
					case StepOwnerReady:
						if !strings.Contains(s.Detail, tt.owner) {
							t.Errorf("Recover() %s step %q detail = %q; want %q", rec.Target, s.Name, s.Detail, tt.owner)
						}
						// Never the owner's stale status from before the kill.
						if full := r.lastFull(); rec.RecoveredAt.Before(full) {
							t.Errorf("Recover() %s RecoveredAt = %v; want after the owner was full again at %v", rec.Target, rec.RecoveredAt, full)
						}
					}
				}
			}
			if again, err := f.Recover(testCtx(t)); len(again) != 0 || err != nil {
				t.Errorf("second Recover() = %+v, %v; want nothing", again, err)
			}
		})
	}
}

// Each victim of one owner gets its own replacement.
func TestRecoverDistinctReplacements(t *testing.T) {
	client := newClient()
	startReplacer(t, client, nil, "")
	f := New("kill", client, Spec{Namespace: ns, LabelSelector: "app=api", Mode: ModeAll})
	if _, err := f.Inject(testCtx(t)); err != nil {
		t.Fatalf("Inject() = _, %v", err)
	}
	recs, err := f.Recover(testCtx(t))
	if err != nil {
		t.Fatalf("Recover() = _, %v", err)
	}
	seen := map[string]bool{}
	for _, rec := range recs {
		for _, s := range rec.Steps {
			if s.Name == StepCreated {
				name, _, _ := strings.Cut(s.Detail, " ")
				if seen[name] {
					t.Errorf("Recover() gave replacement %s to two victims: %+v", name, recs)
				}
				seen[name] = true
			}
		}
	}
	if len(seen) != 3 {
		t.Errorf("Recover() replacements = %v; want 3", seen)
	}
}

// Past ReadyTimeout the fault ends unrecovered: the records come back
// with RecoveredAt zero and the steps seen, with an error saying what was
// missing; nothing stays open.
func TestRecoverTimeout(t *testing.T) {
	tests := []struct {
		name    string
		spec    Spec
		stopAt  string
		steps   []string
		missing string
	}{
		{"no replacement", Spec{LabelSelector: "app=api"}, "create", []string{StepKilled}, "no replacement created"},
		{"replacement never ready", Spec{LabelSelector: "app=api"}, "ready", []string{StepKilled, StepCreated, StepScheduled}, "replacement api-7d9-r1 not ready"},
		{"owner never full", Spec{LabelSelector: "app=api"}, "owner", []string{StepKilled, StepCreated, StepScheduled, StepReady},
			"owner not ready: 2/3 ready, 3/3 updated, 2/3 available"},
		{"StatefulSet never full", Spec{LabelSelector: "app=db"}, "owner", []string{StepKilled, StepCreated, StepScheduled, StepReady}, "owner not ready: 1/2 ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := newClient()
			startReplacer(t, client, nil, tt.stopAt)
			tt.spec.Namespace, tt.spec.ReadyTimeout = ns, 300*time.Millisecond
			f := New("kill", client, tt.spec)
			injected, err := f.Inject(testCtx(t))
			if err != nil {
				t.Fatalf("Inject() = _, %v", err)
			}
			recs, err := f.Recover(testCtx(t))
			var nre *NotReadyError
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, chaos.ErrNotRecovered) || !errors.As(err, &nre) {
				t.Fatalf("Recover() = _, %v; want a NotReadyError (context.DeadlineExceeded)", err)
			}
			if want := injected[0].Target + " ("; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.missing) {
				t.Errorf("Recover() error = %v; want it to name %s and say %q", err, injected[0].Target, tt.missing)
			}
			if len(recs) != 1 || recs[0].Recovered() || recs[0].Target != injected[0].Target {
				t.Fatalf("Recover() = %+v; want Inject's record, RecoveredAt zero", recs)
			}
			if got := stepNames(recs[0].Steps); !slices.Equal(got, tt.steps) {
				t.Errorf("Recover() steps = %q; want %q", got, tt.steps)
			}
			if again, err := f.Recover(testCtx(t)); len(again) != 0 || err != nil {
				t.Errorf("second Recover() = %+v, %v; want nothing: the fault ended", again, err)
			}
			if _, err := f.Inject(testCtx(t)); err != nil {
				t.Errorf("Inject() after the timeout = _, %v; want no error", err)
			}
		})
	}
}

// A Recover whose ctx ends first returns what closed with ctx's error; the
// next one resumes, with the steps seen meanwhile.
func TestRecoverResumes(t *testing.T) {
	client := newClient()
	gate := make(chan struct{})
	startReplacer(t, client, gate, "")
	f := New("kill", client, Spec{Namespace: ns, LabelSelector: "app in (api, debug)", Mode: ModeAll})
	injected, err := f.Inject(testCtx(t))
	if err != nil || len(injected) != 4 {
		t.Fatalf("Inject() = %+v, %v; want 4 records", injected, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	recs, err := f.Recover(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Recover() with the replacements held = _, %v; want context.DeadlineExceeded", err)
	}
	var nre *NotReadyError
	if errors.As(err, &nre) {
		t.Errorf("Recover() = _, %v; want ctx's error, not the fault's own timeout", err)
	}
	// The bare pod recovered when it was gone.
	if len(recs) != 1 || recs[0].Target != ns+"/debug" || !recs[0].Recovered() {
		t.Errorf("Recover() with the replacements held = %+v; want the bare pod's record, closed", recs)
	}
	if _, err := f.Inject(testCtx(t)); err == nil || !strings.Contains(err.Error(), "already injected: 3 pod record(s) still open") {
		t.Errorf("Inject() with records open = _, %v; want an error", err)
	}
	close(gate)
	recs, err = f.Recover(testCtx(t))
	if err != nil || len(recs) != 3 {
		t.Fatalf("Recover() = %+v, %v; want the 3 others", recs, err)
	}
	for _, rec := range recs {
		if !rec.Recovered() || len(rec.Steps) != 5 {
			t.Errorf("Recover() record = %+v; want closed, with 5 steps", rec)
		}
	}
}
