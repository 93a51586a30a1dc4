package events

import (
	"fmt"

	gojson "github.com/goccy/go-json"
)

// DecodeSlow is the precise reference path, for the benchmark's baseline.
var DecodeSlow = decodeSlow

// fastWire is what the fast path decoded into while it was one pass of
// goccy/go-json; kept for the benchmark's baseline.
type fastWire struct {
	ID         *string        `json:"id"`
	Type       *string        `json:"type"`
	ContactID  *string        `json:"contact_id"`
	CompanyID  *string        `json:"company_id"`
	OccurredAt *string        `json:"occurred_at"`
	Properties map[string]any `json:"properties"`
	Contact    map[string]any `json:"contact"`
}

// DecodeGoccy is Decode as it was before the scanner: goccy/go-json into
// fastWire, encoding/json field by field when it rejects.
func DecodeGoccy(data []byte) (Event, error) {
	var ev Event
	if len(data) > MaxEventBytes {
		return ev, fmt.Errorf("event is %d bytes, over the %d-byte limit", len(data), MaxEventBytes)
	}
	if err := checkDepth(data); err != nil {
		return ev, err
	}
	var f fastWire
	if gojson.Unmarshal(data, &f) == nil {
		w := wire{ID: f.ID, Type: f.Type, ContactID: f.ContactID, CompanyID: f.CompanyID, OccurredAt: f.OccurredAt}
		ev.Properties, ev.Contact = f.Properties, f.Contact
		return validate(ev, &w, false, nil)
	}
	return decodeSlow(data)
}

// Scans says whether Decode's fast path takes data itself.
var Scans = scans
