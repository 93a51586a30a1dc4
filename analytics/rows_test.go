package analytics

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

// The touch's properties and contact texts are what encoding/json writes
// (sorted keys, compact, its escaping): reports parse them with
// visitParam*, and rows written before the switch to goccy/go-json must
// compare equal to rows written after.
func TestTouchJSONAsEncodingJSON(t *testing.T) {
	props := map[string]any{
		"url": "https://example.com/a?b=1&c=<2>", "channel": "email", "n": 3.5, "big": 12345678901234.0,
		"nested": map[string]any{"z": []any{1.0, "x", nil, true}, "a": "é\u2028\t\"q\""}, "empty": map[string]any{},
	}
	contact := map[string]any{"email": "a@b.c", "lifecyclestage": "lead", "score": 7.0, "tags": []any{"<b>", "&"}}
	tc := TouchFromEvent(events.Event{ID: "e1", ContactID: "c1", Type: "page_view", OccurredAt: time.Unix(0, 0), Properties: props, Contact: contact}, "v1")
	for _, c := range []struct {
		name, got string
		v         any
	}{{"properties", tc.Properties, props}, {"contact", tc.Contact, contact}} {
		want, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if c.got != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, c.got, want)
		}
	}
	// The text an event arrived with, kept by DecodeKeepJSON, makes the
	// same touch.
	raw, err := json.Marshal(events.Event{ID: "e1", ContactID: "c1", Type: "page_view", OccurredAt: time.Unix(0, 0).UTC(), Properties: props, Contact: contact})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.DecodeKeepJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	if kept := TouchFromEvent(ev, "v1"); kept.Properties != tc.Properties || kept.Contact != tc.Contact {
		t.Errorf("touch from the kept text:\n%s %s\nwant\n%s %s", kept.Properties, kept.Contact, tc.Properties, tc.Contact)
	}
	// Without characters encoding/json escapes, the text is kept as is.
	plain := map[string]any{"url": "https://example.com/a?b=1", "n": 3.5, "nested": map[string]any{"z": []any{1.0, "x", nil, true}}}
	raw, _ = json.Marshal(events.Event{ID: "e2", ContactID: "c1", Type: "page_view", OccurredAt: time.Unix(0, 0).UTC(), Properties: plain, Contact: plain})
	if ev, err = events.DecodeKeepJSON(raw); err != nil || ev.PropertiesJSON == "" || ev.ContactJSON == "" {
		t.Fatalf("encoding/json's text not kept: %q, %q (%v)", ev.PropertiesJSON, ev.ContactJSON, err)
	}
	want, _ := json.Marshal(plain)
	if kept := TouchFromEvent(ev, "v1"); kept.Properties != string(want) || kept.Contact != string(want) {
		t.Errorf("touch from the kept text: %s %s, want %s", kept.Properties, kept.Contact, want)
	}
}
