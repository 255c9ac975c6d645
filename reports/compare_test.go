package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		name       string
		change     func(r *Report)
		tol        []string
		regressed  []string // figure/subject of every regression
		wantBetter string   // a figure/subject that improved
	}{
		{"equal: nothing regresses", func(*Report) {}, nil, nil, ""},
		{"p99 20% worse, 10% allowed", func(r *Report) { r.Load[0].P99 = 192 * time.Millisecond }, nil, []string{"p99 mobile/feed"}, ""},
		{"p99 20% worse, 25% allowed", func(r *Report) { r.Load[0].P99 = 192 * time.Millisecond }, []string{"p99=25%"}, nil, ""},
		{"p99 32ms worse, 50ms allowed", func(r *Report) { r.Load[0].P99 = 192 * time.Millisecond }, []string{"p99=50ms"}, nil, ""},
		{"p99 better", func(r *Report) { r.Load[0].P99 = 100 * time.Millisecond }, nil, nil, "p99 mobile/feed"},
		{"max 10x worse: shown only", func(r *Report) { r.Load[0].Max *= 10 }, nil, nil, ""},
		{"max judged when given", func(r *Report) { r.Load[0].Max *= 10 }, []string{"max=100%"}, []string{"max mobile/feed"}, ""},
		{"success ratio down 1 point", func(r *Report) { r.Load[0].SuccessRatio -= 0.01 }, nil, []string{"success mobile/feed"}, ""},
		{"throughput down 5%", func(r *Report) { r.Load[0].Throughput *= 0.95 }, nil, nil, ""},
		{"throughput down 15%", func(r *Report) { r.Load[0].Throughput *= 0.85 }, nil, []string{"throughput mobile/feed"}, ""},
		{"an SLO passed, now fails (within tolerance)", func(r *Report) { r.Checks[0].Passed, r.Checks[0].Measured = false, 0.9985 }, nil, []string{"slo availability"}, ""},
		{"a ratio SLO: lower is worse", func(r *Report) { r.Checks[0].Measured = 0.5 }, nil, []string{"slo availability"}, ""},
		{"a latency SLO: lower is better", func(r *Report) { r.Checks[1].Measured = 0.05 }, nil, nil, "slo p99|pipe"},
		{"RTO unbounded", func(r *Report) { r.RTO[0].Recovery.Recovered = false }, nil, []string{"rto api-recovers"}, ""},
		{"RPO doubled", func(r *Report) { r.RPO[0].Loss.RPO *= 2 }, nil, []string{"rpo no-loss"}, ""},
		{"a check missing from the run", func(r *Report) { r.Checks = r.Checks[1:] }, nil, []string{"slo availability"}, ""},
		{"a route missing from the run", func(r *Report) { r.Load = nil }, nil, []string{"route mobile/feed"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tol := DefaultTolerances()
			for _, spec := range tc.tol {
				f, v, err := ParseTolerance(spec)
				if err != nil {
					t.Fatal(err)
				}
				tol[f] = v
			}
			run := sample()
			tc.change(run)
			c := Compare(sample(), run, tol)
			var got []string
			better := map[string]bool{}
			for _, d := range c.Differences {
				if d.Regressed {
					got = append(got, d.Figure+" "+d.Subject)
				}
				if d.Improved {
					better[d.Figure+" "+d.Subject] = true
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.regressed, ",") {
				t.Errorf("Compare: regressions %v; want %v", got, tc.regressed)
			}
			if tc.wantBetter != "" && !better[tc.wantBetter] {
				t.Errorf("Compare: %s not marked better", tc.wantBetter)
			}
			var b bytes.Buffer
			if err := WriteComparison(&b, c); err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(b.String(), "\n") {
				if n := len([]rune(line)); n > TableWidth {
					t.Errorf("comparison line %d is %d columns; want at most %d: %s", i+1, n, TableWidth, line)
				}
			}
			if want := len(tc.regressed) > 0; strings.Contains(b.String(), "REGRESSED:") != want {
				t.Errorf("comparison table, regressed %v:\n%s", want, b.String())
			}
		})
	}
}

func TestParseTolerance(t *testing.T) {
	for _, tc := range []struct {
		spec, figure string
		want         Tolerance
		err          string
	}{
		{"p99=10%", "p99", Tolerance{Relative: 0.1, IsRelative: true}, ""},
		{"rto=500ms", "rto", Tolerance{Absolute: 0.5}, ""},
		{"success=0.005", "success", Tolerance{Absolute: 0.005}, ""},
		{"dropped=0", "dropped", Tolerance{}, ""},
		{"p99=fast", "", Tolerance{}, `"fast" is neither a percentage nor a duration`},
		{"p98=10%", "", Tolerance{}, "FIGURE one of"},
		{"p99=-5%", "", Tolerance{}, "not a percentage of 0 or more"},
		{"p99", "", Tolerance{}, "want FIGURE=VALUE"},
	} {
		f, got, err := ParseTolerance(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseTolerance(%q) = %v; want an error with %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || f != tc.figure || got != tc.want {
			t.Errorf("ParseTolerance(%q) = %s, %+v, %v; want %s, %+v", tc.spec, f, got, err, tc.figure, tc.want)
		}
	}
}
