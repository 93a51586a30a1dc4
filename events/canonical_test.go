package events

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// DecodeKeepJSON keeps the text of properties and contact only where it
// is exactly encoding/json's encoding of the decoded objects.
func TestDecodeKeepJSON(t *testing.T) {
	head := `{"id":"e1","type":"page_view","contact_id":"c1","occurred_at":"2026-01-02T03:04:05Z",`
	for _, tc := range []struct {
		props string
		kept  bool
	}{
		{`{"a":1,"b":"x","c":true,"d":null,"e":[1,2.5,"y"],"f":{"g":-3,"h":{}}}`, true},
		{`{"url":"/pricing","utm":"q3 launch","\u00e9":"x"}`, false}, // an escape
		{`{"url":"/pricing","\u00e9t\u00e9":"x"}`, false},
		{`{"zz":"日本","été":"naïve"}`, true},
		{`{"été":"naïve","zz":"日本"}`, false}, // bytes order: é after z
		{`{"b":1,"a":2}`, false},             // keys out of order
		{`{"a":1,"a":2}`, false},             // a duplicate
		{`{"a": 1}`, false},                  // white space
		{`{"a":1.0}`, false},                 // float64 prints 1
		{`{"a":1e3}`, false},                 // float64 prints 1000
		{`{"a":0.1,"b":-0.25,"c":1e+21}`, true},
		{`{"a":12345678901234567890}`, false}, // prints 12345678901234567000
		{`{"a":"<b>"}`, false},                // encoding/json escapes HTML
		{`{"a":"x\u2028y"}`, false},
		{"{\"a\":\"x\u2028y\"}", false},
		{`{"a":"tab\tnot allowed"}`, false},
		{`{"a":[]}`, true},
		{`{}`, false}, // empty: nothing to keep
	} {
		data := []byte(head + `"properties":` + tc.props + `,"contact":` + tc.props + `}`)
		ev, err := DecodeKeepJSON(data)
		if err != nil {
			if tc.kept {
				t.Errorf("%s: %v", tc.props, err)
			}
			continue
		}
		want, _ := json.Marshal(ev.Properties)
		for name, got := range map[string]string{"properties": ev.PropertiesJSON, "contact": ev.ContactJSON} {
			if (got != "") != tc.kept {
				t.Errorf("%s %s: kept %q, want kept=%v", name, tc.props, got, tc.kept)
			}
			if got != "" && got != string(want) {
				t.Errorf("%s %s: kept %q, encoding/json writes %q", name, tc.props, got, want)
			}
		}
	}
	// A key matching a field case-insensitively may be the one decoded.
	ev, err := DecodeKeepJSON([]byte(head + `"properties":{"a":1},"PROPERTIES":{"a":2}}`))
	if err != nil || ev.PropertiesJSON != "" {
		t.Errorf("two spellings of properties: kept %q (%v)", ev.PropertiesJSON, err)
	}
	// A key given twice: the last is the one decoded, and its text is kept.
	ev, err = DecodeKeepJSON([]byte(head + `"properties":{"a":1},"properties":{"b":2}}`))
	if err != nil || ev.PropertiesJSON != `{"b":2}` {
		t.Errorf("properties given twice: kept %q (%v), want the last", ev.PropertiesJSON, err)
	}
	ev, err = DecodeKeepJSON([]byte(head + `"properties":{"a":1},"properties":null}`))
	if err != nil || ev.PropertiesJSON != "" || ev.Properties != nil {
		t.Errorf("properties given twice, then null: kept %q (%v)", ev.PropertiesJSON, err)
	}
	// Numbers the fast check takes, and the rest compared in print.
	for num, kept := range map[string]bool{"0": true, "-0": true, "-12": true, "123456789012345": true,
		"1234567890123456": true, "12345678901234567890": false, "01": false, "1.5": true, "1.50": false, "-1e-7": true} {
		ev, err := DecodeKeepJSON([]byte(head + `"properties":{"n":` + num + `}}`))
		if err != nil {
			if kept {
				t.Errorf("number %s: %v", num, err)
			}
			continue
		}
		if (ev.PropertiesJSON != "") != kept {
			t.Errorf("number %s: kept %q, want kept=%v", num, ev.PropertiesJSON, kept)
		}
	}
	// Events written by encoding/json keep their text.
	ev = Event{ID: "e2", Type: "t", ContactID: "c", OccurredAt: ev.OccurredAt,
		Properties: map[string]any{"z": "1", "a": 2.5, "m": map[string]any{"y": []any{"q", 1.0}}},
		Contact:    map[string]any{"email": "a@example.com", "lifecyclestage": "lead"}}
	data, _ := json.Marshal(ev)
	got, err := DecodeKeepJSON(data)
	wp, _ := json.Marshal(ev.Properties)
	wc, _ := json.Marshal(ev.Contact)
	if err != nil || got.PropertiesJSON != string(wp) || got.ContactJSON != string(wc) {
		t.Errorf("an encoding/json event: kept %q and %q (%v), want %s and %s", got.PropertiesJSON, got.ContactJSON, err, wp, wc)
	}
}

// Whatever DecodeKeepJSON keeps is encoding/json's encoding of what it
// decoded.
func FuzzDecodeKeepJSON(f *testing.F) {
	f.Add(`{"a":1,"b":"x"}`, `{"email":"a@b.c"}`)
	f.Add(`{"b":1,"a":2}`, `{"a":1.5e-7}`)
	f.Add(`{"a":[{"b":null}],"c":false}`, `{}`)
	f.Fuzz(func(t *testing.T, props, contact string) {
		data := []byte(`{"id":"e1","type":"t","contact_id":"c1","occurred_at":"2026-01-02T03:04:05Z","properties":` + props + `,"contact":` + contact + `}`)
		ev, err := DecodeKeepJSON(data)
		if err != nil {
			return
		}
		if ev.PropertiesJSON != "" {
			if want, _ := json.Marshal(ev.Properties); ev.PropertiesJSON != string(want) {
				t.Fatalf("kept properties %q, encoding/json writes %q", ev.PropertiesJSON, want)
			}
		} else if want, _ := json.Marshal(ev.Properties); len(ev.Properties) > 0 && props == string(want) && !unusualKey(props) {
			// Text that is encoding/json's is kept (the check is not
			// merely safe but does its job).
			t.Fatalf("properties %q are encoding/json's encoding and were not kept", props)
		}
		if ev.ContactJSON != "" {
			if want, _ := json.Marshal(ev.Contact); ev.ContactJSON != string(want) {
				t.Fatalf("kept contact %q, encoding/json writes %q", ev.ContactJSON, want)
			}
		}
	})
}

// unusualKey: a key that spells a top-level field another way makes the
// scanner give up, and the second pass keeps nothing where the event's
// keys are ambiguous.
func unusualKey(text string) bool {
	return strings.ContainsFunc(text, func(r rune) bool { return r >= utf8.RuneSelf }) || foldsToField([]byte(strings.ToLower(text)))
}

// BenchmarkDecodeKeepJSON is the cost of keeping the objects' text over
// Decode's.
func BenchmarkDecodeKeepJSON(b *testing.B) {
	data := []byte(`{"id":"e1","type":"page_view","contact_id":"c1","company_id":"co1","occurred_at":"2026-01-02T03:04:05Z","properties":{"campaign":"q3-launch","channel":"email","url":"/pricing","duration_s":42},"contact":{"email":"a@example.com","jobtitle":"VP Sales","lifecyclestage":"lead","country":"DE"}}`)
	b.Run("keep", func(b *testing.B) {
		for b.Loop() {
			ev, _ := DecodeKeepJSON(data)
			_ = ev
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			ev, _ := Decode(data)
			_ = ev
		}
	})
}
