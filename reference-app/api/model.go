package api

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the API's inputs.
const (
	// DefaultFeedLimit is the number of feed items when ?limit is absent.
	DefaultFeedLimit = 20
	// MaxFeedLimit caps ?limit; larger values are lowered to it. The
	// cached feed holds this many posts.
	MaxFeedLimit = 100
	// MaxTextRunes is the longest post text, in characters.
	MaxTextRunes = 1000
	// MaxIDLength is the longest client-chosen id (clientId, deviceId,
	// Idempotency-Key), in bytes.
	MaxIDLength = 128
	// MaxSyncItems is the most items one POST /v1/sync may carry.
	MaxSyncItems = 100
	// MinPasswordBytes and MaxPasswordBytes bound a password (bcrypt
	// reads at most 72 bytes).
	MinPasswordBytes, MaxPasswordBytes = 8, 72
	// MaxDisplayNameRunes and MaxBioRunes bound a profile.
	MaxDisplayNameRunes, MaxBioRunes = 64, 500
	// MaxPushTokenBytes bounds a device's push token.
	MaxPushTokenBytes = 4096
	// TitleRunes is the length of a notification's title, cut from the
	// post's text.
	TitleRunes = 80
)

// Store buckets the API uses.
const (
	bucketUsers       = "users"       // username → user
	bucketProfiles    = "profiles"    // userId → Profile
	bucketPosts       = "posts"       // postId (time-ordered) → Post
	bucketOutbox      = "outbox"      // eventId → Event not yet published
	bucketIdempotency = "idempotency" // userId/Idempotency-Key → Post
	bucketSync        = "sync"        // userId/clientId → Post
	bucketDevices     = "devices"     // userId/deviceId → Device
	bucketUserKV      = "userkv"      // userId/key → a JSON value (PUT /v1/kv/{key})
)

// Post is one post.
type Post struct {
	// ID is unique; ids sort by creation time.
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"createdAt"`
	// ClientID is the offline client's id of a post that came through
	// POST /v1/sync.
	ClientID string `json:"clientId,omitempty"`
}

// Feed is the body of GET /v1/feed.
type Feed struct {
	// Items are the newest posts, newest first; never null.
	Items []Post `json:"items"`
	// BuiltAt is when this copy of the feed was read from the store.
	BuiltAt time.Time `json:"builtAt"`
	// Instance names the api process that answered.
	Instance string `json:"instance"`
}

// Profile is the body of GET and PUT /v1/me.
type Profile struct {
	UserID      string `json:"userId"`
	Username    string `json:"username"`
	DisplayName string `json:"displayName"`
	Bio         string `json:"bio"`
}

// Device is a registered device, the answer of POST /v1/devices. The push
// token is stored but never echoed.
type Device struct {
	DeviceID  string    `json:"deviceId"`
	Platform  string    `json:"platform"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Event is a notification event: the body published on SubjectPost.
type Event struct {
	// EventID is "post:<postId>"; the broker drops a repeated one.
	EventID   string    `json:"eventId"`
	UserID    string    `json:"userId"`
	PostID    string    `json:"postId"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"createdAt"`
}

// SubjectPost is the NATS subject of post notifications.
const SubjectPost = "notifications.post"

// EventID returns the id of the notification event of post postID.
func EventID(postID string) string { return "post:" + postID }

// eventOf returns the notification event of p.
func eventOf(p Post) Event {
	title := p.Text
	if utf8.RuneCountInString(title) > TitleRunes {
		title = string([]rune(title)[:TitleRunes-1]) + "…"
	}
	return Event{EventID: EventID(p.ID), UserID: p.UserID, PostID: p.ID, Title: title, CreatedAt: p.CreatedAt}
}

// newPostID returns a fresh post id that sorts by t: 16 hex digits of
// Unix nanoseconds, then 10 random base32 characters.
func newPostID(t time.Time) string {
	return fmt.Sprintf("%016x", uint64(t.UnixNano())) + strings.ToLower(rand.Text()[:10])
}

// newUserID returns a fresh random user id.
func newUserID() string { return "u" + strings.ToLower(rand.Text()) }

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}

// requestError is an answer to a bad request: its status and message.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

// badRequest returns a 400 requestError.
func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// decode reads r's body into v: one JSON object, no unknown field, nothing
// after it, at most maxBytes (413 beyond).
func decode(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) *requestError {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &requestError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body larger than %d bytes", maxBytes)}
	}
	return badRequest("malformed JSON body: %v", err)
}

// ValidID reports whether id is acceptable as a client-chosen id: 1 to
// MaxIDLength URL-safe characters (A-Z a-z 0-9 . _ ~ -), other than "."
// and "..", so that it travels unescaped in a path and a store key.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLength || id == "." || id == ".." {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}

// checkID returns the 400 for an invalid id in field, nil for a valid one.
func checkID(field, id string) *requestError {
	if ValidID(id) {
		return nil
	}
	return badRequest("%s %q: want 1 to %d characters from A-Z a-z 0-9 . _ ~ -, not . or ..", field, id, MaxIDLength)
}

// checkText returns the 400 for an invalid post text in field.
func checkText(field, text string) *requestError {
	if strings.TrimSpace(text) == "" {
		return badRequest("%s is required", field)
	}
	if n := utf8.RuneCountInString(text); n > MaxTextRunes {
		return badRequest("%s is %d characters long; at most %d allowed", field, n, MaxTextRunes)
	}
	return nil
}

func writeRequestError(w http.ResponseWriter, e *requestError) { writeError(w, e.status, e.msg) }

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent: a write error means the client left
}
