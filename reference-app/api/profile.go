package api

import (
	"errors"
	"net/http"
	"unicode/utf8"
)

// ProfileUpdate is the body of PUT /v1/me. It replaces both fields.
type ProfileUpdate struct {
	// DisplayName is at most MaxDisplayNameRunes characters.
	DisplayName string `json:"displayName"`
	// Bio is at most MaxBioRunes characters.
	Bio string `json:"bio"`
}

// DeviceRegistration is the body of POST /v1/devices.
type DeviceRegistration struct {
	DeviceID string `json:"deviceId"`
	// Platform is "ios" or "android".
	Platform string `json:"platform"`
	// PushToken is the provider's token, 1 to MaxPushTokenBytes bytes.
	PushToken string `json:"pushToken"`
}

// storedDevice is a device as stored (with its push token).
type storedDevice struct {
	Device
	UserID    string `json:"userId"`
	PushToken string `json:"pushToken"`
}

// getMe answers the caller's profile; a user who never set one has an
// empty display name and bio.
func (a *API) getMe(w http.ResponseWriter, r *http.Request) {
	c := userOf(r)
	p := Profile{UserID: c.Subject, Username: c.Username}
	err := getJSON(r.Context(), a.store, bucketProfiles, c.Subject, &p)
	if err != nil && !errors.Is(err, ErrNotFound) {
		a.dependencyError(w, r, "get profile", err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *API) putMe(w http.ResponseWriter, r *http.Request) {
	var u ProfileUpdate
	if e := decode(w, r, a.o.maxBody, &u); e != nil {
		writeRequestError(w, e)
		return
	}
	if n := utf8.RuneCountInString(u.DisplayName); n > MaxDisplayNameRunes {
		writeRequestError(w, badRequest("displayName is %d characters long; at most %d allowed", n, MaxDisplayNameRunes))
		return
	}
	if n := utf8.RuneCountInString(u.Bio); n > MaxBioRunes {
		writeRequestError(w, badRequest("bio is %d characters long; at most %d allowed", n, MaxBioRunes))
		return
	}
	c := userOf(r)
	p := Profile{UserID: c.Subject, Username: c.Username, DisplayName: u.DisplayName, Bio: u.Bio}
	if _, err := a.store.Write(r.Context(), []Op{put(bucketProfiles, c.Subject, p)}); err != nil {
		a.dependencyError(w, r, "update profile", err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// registerDevice stores the device under (user, deviceId); registering it
// again replaces its platform and token.
func (a *API) registerDevice(w http.ResponseWriter, r *http.Request) {
	var d DeviceRegistration
	if e := decode(w, r, a.o.maxBody, &d); e != nil {
		writeRequestError(w, e)
		return
	}
	if e := checkID("deviceId", d.DeviceID); e != nil {
		writeRequestError(w, e)
		return
	}
	if d.Platform != "ios" && d.Platform != "android" {
		writeRequestError(w, badRequest("platform %q: want ios or android", d.Platform))
		return
	}
	if n := len(d.PushToken); n == 0 || n > MaxPushTokenBytes {
		writeRequestError(w, badRequest("pushToken: want 1 to %d bytes, got %d", MaxPushTokenBytes, n))
		return
	}
	c := userOf(r)
	sd := storedDevice{
		Device:    Device{DeviceID: d.DeviceID, Platform: d.Platform, UpdatedAt: a.o.now().UTC()},
		UserID:    c.Subject,
		PushToken: d.PushToken,
	}
	if _, err := a.store.Write(r.Context(), []Op{put(bucketDevices, c.Subject+"/"+d.DeviceID, sd)}); err != nil {
		a.dependencyError(w, r, "register device", err)
		return
	}
	writeJSON(w, http.StatusCreated, sd.Device)
}
