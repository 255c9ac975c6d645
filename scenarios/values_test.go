package scenarios

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    Rate
		str     string // String of the result
		wantErr string // substring of the error; "" for none
	}{
		{"200/s", Rate{200, time.Second}, "200/s", ""},                 // bare unit
		{"50/100ms", Rate{50, 100 * time.Millisecond}, "50/100ms", ""}, // sub-second period
		{"30/1m", Rate{30, time.Minute}, "30/m", ""},                   // "1m" is written as its unit
		{"10/2s", Rate{10, 2 * time.Second}, "10/2s", ""},              // multi-unit period
		{" 5 / h ", Rate{5, time.Hour}, "5/h", ""},                     // spaces are allowed
		{"1/1m30s", Rate{1, 90 * time.Second}, "1/90s", ""},            // compound duration
		{"7/us", Rate{7, time.Microsecond}, "7/us", ""},                // microseconds
		{"50", Rate{}, "", `want <count>/<period>, such as "50/s"`},
		{"0/s", Rate{}, "", "not a positive integer"},
		{"-1/s", Rate{}, "", "not a positive integer"},
		{"0.5/s", Rate{}, "", "lengthen the period"},
		{"10/", Rate{}, "", "the period is missing"},
		{"10/0s", Rate{}, "", "must be positive"},
		{"10/-1s", Rate{}, "", "must be positive"},
		{"10/fortnight", Rate{}, "", `the period "fortnight" is not a duration`},
		{"", Rate{}, "", "want <count>/<period>"},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRate(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.str {
			t.Errorf("ParseRate(%q).String() = %q; want %q", tt.in, s, tt.str)
		}
		if back, err := ParseRate(got.String()); err != nil || back != got {
			t.Errorf("ParseRate(%q) = %v, %v; want %v (round trip)", got.String(), back, err, got)
		}
	}
}

func TestRatePerSecond(t *testing.T) {
	tests := []struct {
		r    Rate
		want float64
	}{
		{Rate{200, time.Second}, 200},
		{Rate{50, 100 * time.Millisecond}, 500},
		{Rate{30, time.Minute}, 0.5},
		{Rate{30, 0}, 0}, // no period: no rate
	}
	for _, tt := range tests {
		if got := tt.r.PerSecond(); got != tt.want {
			t.Errorf("%v.PerSecond() = %g; want %g", tt.r, got, tt.want)
		}
	}
}

func TestParseObjective(t *testing.T) {
	tests := []struct {
		in      string
		op      Op
		value   float64
		unit    Unit
		wantErr string
	}{
		{">= 0.99", OpGE, 0.99, UnitNone, ""},
		{"<= 500ms", OpLE, 0.5, UnitDuration, ""},  // durations in seconds
		{">= 99.5%", OpGE, 0.995, UnitPercent, ""}, // percentages as ratios
		{"< 2", OpLT, 2, UnitNone, ""},             // integer
		{"> 1m", OpGT, 60, UnitDuration, ""},       // minutes
		{">=0.5", OpGE, 0.5, UnitNone, ""},         // no space
		{"  <=  1e3  ", OpLE, 1000, UnitNone, ""},  // spaces and exponent
		{"> -1", OpGT, -1, UnitNone, ""},           // negative
		{"0.99", "", 0, "", "want \"<op> <value>\""},
		{"== 1", "", 0, "", "op one of <, <=, >, >="},
		{"=> 1", "", 0, "", "op one of"},
		{">=", "", 0, "", "the value is missing"},
		{">= %", "", 0, "", "not a percentage"},
		{"<= 3 seconds", "", 0, "", "not a number, a percentage or a duration"},
		{">= NaN", "", 0, "", "not a finite number"},
		{">= Inf", "", 0, "", "not a finite number"},
		{"", "", 0, "", "want"},
	}
	for _, tt := range tests {
		got, err := ParseObjective(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseObjective(%q) = %+v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		want := Objective{Op: tt.op, Value: tt.value, Unit: tt.unit, Text: tt.in}
		if err != nil || got != want {
			t.Errorf("ParseObjective(%q) = %+v, %v; want %+v, nil", tt.in, got, err, want)
		}
		if got.String() != tt.in {
			t.Errorf("ParseObjective(%q).String() = %q; want the text as written", tt.in, got.String())
		}
	}
}

func TestObjectiveStringWithoutText(t *testing.T) {
	o := Objective{Op: OpGE, Value: 0.99}
	if got := o.String(); got != ">= 0.99" {
		t.Errorf("Objective{>=, 0.99}.String() = %q; want %q", got, ">= 0.99")
	}
}

func TestObjectiveMet(t *testing.T) {
	tests := []struct {
		obj  string
		x    float64
		want bool
	}{
		{">= 0.99", 0.99, true},
		{">= 0.99", 0.98, false},
		{"> 1", 1, false},
		{"> 1", 1.1, true},
		{"<= 300ms", 0.3, true},
		{"<= 300ms", 0.31, false},
		{"< 2", 2, false},
		{"< 2", 1.9, true},
	}
	for _, tt := range tests {
		o, err := ParseObjective(tt.obj)
		if err != nil {
			t.Fatalf("ParseObjective(%q) = %v", tt.obj, err)
		}
		if got := o.Met(tt.x); got != tt.want {
			t.Errorf("ParseObjective(%q).Met(%g) = %t; want %t", tt.obj, tt.x, got, tt.want)
		}
	}
	if (Objective{Op: OpGE}).Met(nan()) {
		t.Errorf("Objective{>=, 0}.Met(NaN) = true; want false")
	}
}

func nan() float64 { var z float64; return z / z }

func TestJSON(t *testing.T) {
	in := ConstantProfile{Rate: Rate{50, 100 * time.Millisecond}}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `{"rate":"50/100ms"}` {
		t.Errorf("json.Marshal(%+v) = %s, %v; want {\"rate\":\"50/100ms\"}", in, b, err)
	}
	var back ConstantProfile
	if err := json.Unmarshal(b, &back); err != nil || back != in {
		t.Errorf("json.Unmarshal(%s) = %+v, %v; want %+v", b, back, err, in)
	}
	obj, _ := ParseObjective("<= 300ms")
	b, err = json.Marshal(SLO{Objective: obj})
	if err != nil || !strings.Contains(string(b), `"objective":"\u003c= 300ms"`) {
		t.Errorf("json.Marshal(SLO{<= 300ms}) = %s, %v; want the objective as a string", b, err)
	}
	var slo SLO
	if err := json.Unmarshal(b, &slo); err != nil || slo.Objective != obj {
		t.Errorf("json.Unmarshal(%s).Objective = %+v, %v; want %+v", b, slo.Objective, err, obj)
	}
	if err := json.Unmarshal([]byte(`{"rate":"fast"}`), &back); err == nil {
		t.Errorf(`json.Unmarshal({"rate":"fast"}) = nil error; want an invalid rate`)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"30s", 30 * time.Second, ""},
		{"1m30s", 90 * time.Second, ""},
		{"0", 0, ""}, // zero needs no unit
		{"30", 0, `a bare number needs a unit, such as "30s"`},
		{"1.5", 0, `"1.5s"`},
		{"1e3", 0, `a bare number needs a unit, as in "30s"`}, // no "1e3s" hint: it would not parse
		{"3 seconds", 0, "want a Go duration"},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseDuration(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{"q.yaml", Pos{12, 7}, "faults[1].network.latncy", "unknown field"}, "q.yaml:12:7: faults[1].network.latncy: unknown field"},
		{Problem{"q.yaml", Pos{}, "load", "required"}, "q.yaml: load: required"},            // position unknown
		{Problem{"q.yaml", Pos{4, 0}, "", "invalid YAML: x"}, "q.yaml:4: invalid YAML: x"},  // line only, no path
		{Problem{"", Pos{}, "name", "required"}, "name: required"},                          // no file
		{Problem{"", Pos{3, 2}, "", "the scenario is empty"}, "3:2: the scenario is empty"}, // neither file nor path
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q; want %q", tt.p, got, tt.want)
		}
	}
}
