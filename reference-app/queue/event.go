package queue

import (
	"errors"
	"time"
)

// The stream of notification events, as created by the broker.
const (
	// StreamName is the JetStream stream that holds notification events.
	StreamName = "NOTIFICATIONS"
	// StreamSubjects are the subjects the stream captures.
	StreamSubjects = "notifications.>"
	// SubjectPost is the subject of a new post's notification event.
	SubjectPost = "notifications.post"
	// DuplicateWindow is how long the stream remembers a Nats-Msg-Id: a
	// second publish of the same event id within it is dropped.
	DuplicateWindow = 10 * time.Minute
)

// ErrInvalidEvent is returned, wrapped, for an event without an id.
var ErrInvalidEvent = errors.New("invalid event")

// Event is a notification event, the JSON body of a message on
// SubjectPost. Its EventID is also the message's Nats-Msg-Id header, which
// makes publishing it idempotent within DuplicateWindow, and the key that
// consumers deduplicate by.
type Event struct {
	EventID   string    `json:"eventId"`
	UserID    string    `json:"userId"`
	PostID    string    `json:"postId"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"createdAt"`
}

// PostEventID is the event id of the notification of post postID.
func PostEventID(postID string) string { return "post:" + postID }
