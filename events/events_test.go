package events

import (
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	ev, err := Decode([]byte(`{"id":"e1","type":"call_started","contact_id":"c1","company_id":"co1",
		"occurred_at":"2026-03-01T10:00:00+02:00","properties":{"duration_s":90,"tags":["a"]},"contact":{"owner_id":"u-1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "e1" || ev.Type != "call_started" || ev.ContactID != "c1" || ev.CompanyID != "co1" {
		t.Errorf("fields: %+v", ev)
	}
	if !ev.OccurredAt.Equal(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)) || ev.OccurredAt.Location() != time.UTC {
		t.Errorf("occurred_at = %v", ev.OccurredAt)
	}
	if ev.Properties["duration_s"] != 90.0 || ev.Contact["owner_id"] != "u-1" {
		t.Errorf("numbers must decode as float64 for rules: %#v", ev.Properties)
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"`, "malformed JSON"},
		{`[1,2]`, "malformed JSON"},
		{`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"} {}`, "trailing data"},
		{`{"type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, "missing id"},
		{`{"id":"e1","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, `event "e1": missing type`},
		{`{"id":"e1","type":"x","occurred_at":"2026-03-01T10:00:00Z"}`, "missing contact_id"},
		{`{"id":"e1","type":"x","contact_id":" ","occurred_at":"2026-03-01T10:00:00Z"}`, "empty contact_id"},
		{`{"id":"e1","type":"x","contact_id":"c1"}`, "missing occurred_at"},
		{`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"yesterday"}`, `occurred_at "yesterday" is not an RFC 3339`},
		{`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01 10:00:00"}`, "not an RFC 3339"},
		{`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","properties":[1]}`, "properties must be a JSON object"},
		{`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","contact":"bob"}`, "contact must be a JSON object"},
		{`{"id":1,"type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, "malformed JSON"},
		{`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","properties":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`, "nested deeper than 32"},
		{`{"id":"` + strings.Repeat("x", 600) + `","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`, "id longer than 512 bytes"},
		{`{"id":"e1","pad":"` + strings.Repeat("x", MaxEventBytes) + `"}`, "over the 1048576-byte limit"},
	}
	for _, tc := range cases {
		_, err := Decode([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: err = %v, want %q", tc.in, err, tc.want)
		}
	}
	// All problems at once.
	_, err := Decode([]byte(`{"id":"e1"}`))
	if err == nil || !strings.Contains(err.Error(), "missing type; missing contact_id; missing occurred_at") {
		t.Errorf("err = %v", err)
	}
}

func TestDepthIgnoresBracketsInStrings(t *testing.T) {
	in := `{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","properties":{"q":"` + strings.Repeat(`[{\"`, 50) + `"}}`
	if _, err := Decode([]byte(in)); err != nil {
		t.Fatal(err)
	}
}

func TestCrossing(t *testing.T) {
	a := CrossingID("c1", "engagement", "default", "e9")
	if a != CrossingID("c1", "engagement", "default", "e9") || len(a) != 32 {
		t.Fatalf("not deterministic: %s", a)
	}
	// Pinned: a replay after an upgrade must announce a crossing under the
	// id the previous version gave it, or downstream counts it twice.
	if id := CrossingID("c-000042", "engagement", "default", "ev-7-00000123"); id != "db85ca963d72d29a25e7903531c0ec84" {
		t.Fatalf("crossing ids changed between versions: %s", id)
	}
	for _, other := range []string{
		CrossingID("c1", "engagement", "sales", "e9"), CrossingID("c1", "intent", "default", "e9"),
		CrossingID("c2", "engagement", "default", "e9"), CrossingID("c1", "engagement", "default", "e8"),
		CrossingID("c1e", "ngagement", "default", "e9"),
	} {
		if other == a {
			t.Errorf("different crossings share id %s", a)
		}
	}
	c, err := DecodeCrossing([]byte(`{"crossing_id":"x","contact_id":"c1","model":"m","crossed_at":"2026-03-01T10:00:00Z","score":41.5}`))
	if err != nil || c.ThresholdName != DefaultThreshold || c.Score != 41.5 {
		t.Errorf("%+v %v", c, err)
	}
	_, err = DecodeCrossing([]byte(`{"score":1}`))
	if err == nil || err.Error() != "crossing missing crossing_id, contact_id, model, crossed_at" {
		t.Errorf("err = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"e1","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z","properties":{"a":[1,{"b":null}]}}`))
	f.Add([]byte(`{"id":"e1"`))
	f.Add([]byte(`{"id":"\u0000","type":"\"","contact_id":"[","occurred_at":"2026-03-01T10:00:00.123456789-07:00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Decode(data)
		if err != nil {
			return
		}
		if ev.ID == "" || ev.Type == "" || ev.ContactID == "" || ev.OccurredAt.IsZero() && !strings.Contains(string(data), "0001-01-01") {
			t.Fatalf("accepted an incomplete event: %+v", ev)
		}
	})
}
