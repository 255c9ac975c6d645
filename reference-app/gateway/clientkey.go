package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"strings"
)

// ClientIDHeader names the request header that identifies a client for
// rate limiting.
const ClientIDHeader = "X-Client-Id"

// Bounds on what ClientKey reads and keeps.
const (
	// maxTokenBytes is the longest bearer token whose payload is decoded.
	maxTokenBytes = 8 << 10
	// maxKeyBytes is the longest identity kept as is in a key; longer ones
	// are replaced by their SHA-256, so that a key's size stays bounded.
	maxKeyBytes = 128
)

// ClientKey returns the rate-limiting key of r: "id:" and the X-Client-Id
// header when present; else "sub:" and the `sub` claim of a bearer JWT in
// Authorization; else "ip:" and the remote IP. The JWT is NOT verified (its
// payload is only decoded, never trusted for anything but keying), so a
// client can pick its own key: the limit gives fairness between well-behaved
// clients, not protection from a hostile one.
func ClientKey(r *http.Request) string {
	if id := strings.TrimSpace(r.Header.Get(ClientIDHeader)); id != "" {
		return "id:" + bounded(id)
	}
	if sub := bearerSubject(r.Header.Get("Authorization")); sub != "" {
		return "sub:" + bounded(sub)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + bounded(host)
}

// bearerSubject returns the string `sub` claim of the JWT in an
// Authorization header value ("Bearer <header>.<payload>.<signature>"), or
// "" when there is none. Nothing is verified.
func bearerSubject(authorization string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	token = strings.TrimSpace(token)
	if len(token) > maxTokenBytes || strings.Count(token, ".") != 2 {
		return ""
	}
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return "" // not JSON, or a sub that is not a string
	}
	return strings.TrimSpace(claims.Sub)
}

// bounded returns s, or the hex SHA-256 of s when s is longer than
// maxKeyBytes.
func bounded(s string) string {
	if len(s) <= maxKeyBytes {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}
