package kvstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// maxAnswer bounds what CallJSON reads of an answer.
const maxAnswer = 1 << 20

// CallJSON sends one request of the store's and the sentinel's admin APIs
// with hc: in, when not nil, as a JSON body; a 200 answer is decoded into
// out (when not nil). Any other status is an error naming it and the
// answer's ErrorBody message (or its text when it is not one).
func CallJSON(ctx context.Context, hc *http.Client, method, url string, in, out any) error {
	fail := func(err error) error { return fmt.Errorf("%s %s: %w", method, url, err) }
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fail(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return fail(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fail(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := string(bytes.TrimSpace(b))
		var e ErrorBody
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return fmt.Errorf("%s %s: status %d: %s", method, url, resp.StatusCode, msg)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, url, err)
		}
	}
	return nil
}
