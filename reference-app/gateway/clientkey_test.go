package gateway

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
)

// jwt builds an unsigned-looking token with payload as its claims.
func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".c2lnbmF0dXJl"
}

func TestClientKey(t *testing.T) {
	long := strings.Repeat("x", maxKeyBytes+1)
	tests := []struct {
		name          string
		clientID      string
		authorization string
		remote        string
		want          string
	}{
		{"client id wins", "app-7", "Bearer " + jwt(`{"sub":"alice"}`), "10.1.2.3:5000", "id:app-7"},
		{"client id trimmed", "  app-7 ", "", "10.1.2.3:5000", "id:app-7"},
		{"jwt sub", "", "Bearer " + jwt(`{"sub":"alice","exp":1}`), "10.1.2.3:5000", "sub:alice"},
		{"scheme case-insensitive", "", "bearer " + jwt(`{"sub":"alice"}`), "10.1.2.3:5000", "sub:alice"},
		{"padded payload", "", "Bearer " + strings.Replace(jwt(`{"sub":"bob"}`), ".c2ln", "==.c2ln", 1), "10.1.2.3:5000", "sub:bob"},
		{"no sub", "", "Bearer " + jwt(`{"name":"alice"}`), "10.1.2.3:5000", "ip:10.1.2.3"},
		{"numeric sub", "", "Bearer " + jwt(`{"sub":42}`), "10.1.2.3:5000", "ip:10.1.2.3"},
		{"payload not JSON", "", "Bearer " + jwt(`sub=alice`), "10.1.2.3:5000", "ip:10.1.2.3"},
		{"payload not base64", "", "Bearer aGVhZA.!!!.c2ln", "10.1.2.3:5000", "ip:10.1.2.3"},
		{"not a JWT", "", "Bearer opaque-token", "10.1.2.3:5000", "ip:10.1.2.3"},
		{"basic auth", "", "Basic YWxpY2U6cHc=", "10.1.2.3:5000", "ip:10.1.2.3"},
		{"token too long", "", "Bearer " + jwt(`{"sub":"alice","pad":"`+strings.Repeat("p", maxTokenBytes)+`"}`), "10.1.2.3:5000", "ip:10.1.2.3"},
		{"ipv6", "", "", "[::1]:5000", "ip:::1"},
		{"remote without port", "", "", "10.1.2.3", "ip:10.1.2.3"},
		{"long id hashed", long, "", "10.1.2.3:5000", "id:" + bounded(long)},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.clientID != "" {
			r.Header.Set(ClientIDHeader, tt.clientID)
		}
		if tt.authorization != "" {
			r.Header.Set("Authorization", tt.authorization)
		}
		if got := ClientKey(r); got != tt.want {
			t.Errorf("ClientKey(%s) = %q; want %q", tt.name, got, tt.want)
		}
	}
	if b := bounded(long); len(b) > maxKeyBytes || !strings.HasPrefix(b, "sha256:") {
		t.Errorf("bounded(%d bytes) = %q; want a sha256 of at most %d bytes", len(long), b, maxKeyBytes)
	}
}

func FuzzClientKey(f *testing.F) {
	f.Add("", "Bearer "+jwt(`{"sub":"alice"}`), "127.0.0.1:1")
	f.Add("app", "", "[::1]:2")
	f.Add("", "Bearer a.b.c", "garbage")
	f.Add("", "Bearer "+jwt(`{"sub":"`+strings.Repeat("z", 300)+`"}`), "127.0.0.1:1")
	f.Fuzz(func(t *testing.T, clientID, authorization, remote string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set(ClientIDHeader, clientID)
		r.Header.Set("Authorization", authorization)
		key := ClientKey(r)
		prefix, rest, _ := strings.Cut(key, ":")
		if prefix != "id" && prefix != "sub" && prefix != "ip" {
			t.Fatalf("ClientKey = %q; want an id:, sub: or ip: key", key)
		}
		if len(rest) > maxKeyBytes {
			t.Fatalf("ClientKey = %d bytes after the prefix; want at most %d", len(rest), maxKeyBytes)
		}
	})
}
