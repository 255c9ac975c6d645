package chaos

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestRecordJSON(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		rec  Record
		want string
	}{
		// An open record has no recoveredAt.
		{Record{Fault: "kill-primary", Kind: KindProcess, Target: "store-1", Action: "SIGKILL pid 4242", InjectedAt: at},
			`{"fault":"kill-primary","kind":"process","target":"store-1","action":"SIGKILL pid 4242","injectedAt":"2026-03-01T12:00:00Z"}`},
		// A closed one has.
		{Record{Fault: "slow", Kind: KindNetwork, Target: "db", Action: "latency 1s downstream", InjectedAt: at, RecoveredAt: at.Add(1500 * time.Millisecond)},
			`{"fault":"slow","kind":"network","target":"db","action":"latency 1s downstream","injectedAt":"2026-03-01T12:00:00Z","recoveredAt":"2026-03-01T12:00:01.5Z"}`},
		// An action's output travels with its record.
		{Record{Fault: "kill-pod", Kind: KindPod, Target: "shop/api-1", Action: "delete", InjectedAt: at, RecoveredAt: at.Add(time.Second),
			Steps: []Step{{Name: "killed", At: at}, {Name: "owner ready", At: at.Add(time.Second), Detail: "Deployment/api: 3/3 ready"}}},
			`{"fault":"kill-pod","kind":"pod","target":"shop/api-1","action":"delete","injectedAt":"2026-03-01T12:00:00Z","recoveredAt":"2026-03-01T12:00:01Z","steps":[{"name":"killed","at":"2026-03-01T12:00:00Z"},{"name":"owner ready","at":"2026-03-01T12:00:01Z","detail":"Deployment/api: 3/3 ready"}]}`},
		{Record{Fault: "restore", Kind: KindAction, Target: "restore.sh", Action: "exec restore.sh → exit 0 in 1.2s", InjectedAt: at, Output: "restored 3 tables\n"},
			`{"fault":"restore","kind":"action","target":"restore.sh","action":"exec restore.sh → exit 0 in 1.2s","injectedAt":"2026-03-01T12:00:00Z","output":"restored 3 tables\n"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.rec)
		if err != nil || string(b) != tt.want {
			t.Errorf("json.Marshal(%+v) = %s, %v; want %s", tt.rec, b, err, tt.want)
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, tt.rec) {
			t.Errorf("json.Unmarshal(%s) = %+v, %v; want %+v", b, back, err, tt.rec)
		}
		if got, want := tt.rec.Recovered(), !tt.rec.RecoveredAt.IsZero(); got != want {
			t.Errorf("%+v.Recovered() = %v; want %v", tt.rec, got, want)
		}
	}
}
