package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Limits applied to every decoded event. They bound what one hostile or
// broken line can cost; a line over them is rejected with a clear reason.
const (
	MaxEventBytes = 1 << 20 // one JSON line
	MaxDepth      = 32      // nesting of properties and contact
	MaxIDBytes    = 512     // id, type, contact_id, company_id
)

// Event is one engagement event: a line of a JSONL file or one Kafka message.
type Event struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	ContactID  string         `json:"contact_id"`
	CompanyID  string         `json:"company_id,omitempty"`
	OccurredAt time.Time      `json:"occurred_at"`
	Properties map[string]any `json:"properties,omitempty"`
	Contact    map[string]any `json:"contact,omitempty"`
	// PropertiesJSON and ContactJSON, set only by DecodeKeepJSON, are the
	// objects' text where it is what encoding/json writes for them.
	PropertiesJSON string `json:"-"`
	ContactJSON    string `json:"-"`
}

// Before orders events by (occurred_at, id): the order the semantics walk.
func (e *Event) Before(o *Event) bool {
	if !e.OccurredAt.Equal(o.OccurredAt) {
		return e.OccurredAt.Before(o.OccurredAt)
	}
	return e.ID < o.ID
}

// wire mirrors Event with raw fields so each can be checked and named.
type wire struct {
	ID         *string         `json:"id"`
	Type       *string         `json:"type"`
	ContactID  *string         `json:"contact_id"`
	CompanyID  *string         `json:"company_id"`
	OccurredAt *string         `json:"occurred_at"`
	Properties json.RawMessage `json:"properties"`
	Contact    json.RawMessage `json:"contact"`
}

// Decode parses and validates one event. Errors name the field at fault;
// the caller adds the place (line number, offset).
//
// Decoding is the scorer's largest cost, so a well-formed event takes one
// pass of a scanner made for it (see scanner: encoding/json's behaviour,
// many times faster); anything it does not take goes through the slower
// path below, which is the reference and finds and names the field at
// fault.
func Decode(data []byte) (Event, error) {
	ev, _, err := decode(data, nil, false)
	return ev, err
}

// decode is Decode keeping only p's keys of the objects (p nil: all);
// with keep (and no p), the scanner also keeps the canonical text of
// properties and contact, and kept says it ran (false: decodeSlow
// decided, which keeps nothing).
func decode(data []byte, p *Projection, keep bool) (ev Event, kept bool, err error) {
	if len(data) > MaxEventBytes {
		return ev, false, fmt.Errorf("event is %d bytes, over the %d-byte limit", len(data), MaxEventBytes)
	}
	s := scanner{proj: p, keep: keep && p == nil}
	var out scanned
	if s.event(data, &out) {
		w, parsed := out.wire()
		ev, err = validate(out.ev, &w, parsed, nil)
		if err == nil && keep {
			if len(ev.Properties) > 0 && out.props != nil {
				ev.PropertiesJSON = string(out.props)
			}
			if len(ev.Contact) > 0 && out.contact != nil {
				ev.ContactJSON = string(out.contact)
			}
		}
		return ev, true, err
	}
	// The scanner keeps to MaxDepth itself; what it accepts, checkDepth
	// passes.
	if err := checkDepth(data); err != nil {
		return ev, false, err
	}
	ev, err = decodeSlow(data)
	p.Apply(&ev)
	return ev, false, err
}

// decodeSlow decodes field by field so that an error names its field.
func decodeSlow(data []byte) (Event, error) {
	var ev Event
	var w wire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return ev, fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return ev, errors.New("malformed JSON: trailing data after the object")
	}
	var problems []string
	var err error
	if ev.Properties, err = object("properties", w.Properties); err != nil {
		problems = append(problems, err.Error())
	}
	if ev.Contact, err = object("contact", w.Contact); err != nil {
		problems = append(problems, err.Error())
	}
	return validate(ev, &w, false, problems)
}

// validate checks the fields every event needs. atParsed says the fast
// path has parsed occurred_at into ev already.
func validate(ev Event, w *wire, atParsed bool, problems []string) (Event, error) {
	req := func(name string, v *string) string {
		switch {
		case v == nil:
			problems = append(problems, "missing "+name)
		case strings.TrimSpace(*v) == "":
			problems = append(problems, "empty "+name)
		case len(*v) > MaxIDBytes:
			problems = append(problems, fmt.Sprintf("%s longer than %d bytes", name, MaxIDBytes))
		default:
			return *v
		}
		return ""
	}
	ev.ID = req("id", w.ID)
	ev.Type = req("type", w.Type)
	ev.ContactID = req("contact_id", w.ContactID)
	if w.CompanyID != nil {
		if len(*w.CompanyID) > MaxIDBytes {
			problems = append(problems, fmt.Sprintf("company_id longer than %d bytes", MaxIDBytes))
		}
		ev.CompanyID = *w.CompanyID
	}
	if w.OccurredAt == nil {
		problems = append(problems, "missing occurred_at")
	} else if atParsed {
		// ev.OccurredAt is set
	} else if t, err := time.Parse(time.RFC3339Nano, *w.OccurredAt); err != nil {
		problems = append(problems, fmt.Sprintf("occurred_at %q is not an RFC 3339 timestamp", *w.OccurredAt))
	} else {
		ev.OccurredAt = t.UTC()
	}
	if len(problems) > 0 {
		if ev.ID != "" {
			return ev, fmt.Errorf("event %q: %s", ev.ID, strings.Join(problems, "; "))
		}
		return ev, errors.New(strings.Join(problems, "; "))
	}
	return ev, nil
}

// object decodes an optional JSON object; numbers become float64 so rule
// expressions compare them with integer and float literals alike.
func object(name string, raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s must be a JSON object", name)
	}
	return m, nil
}

// checkDepth rejects documents nested deeper than MaxDepth before the
// decoder recurses into them.
func checkDepth(data []byte) error {
	// Nesting needs an opening bracket per level: few brackets, no scan.
	if bytes.Count(data, []byte{'{'})+bytes.Count(data, []byte{'['}) <= MaxDepth {
		return nil
	}
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString:
			if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > MaxDepth {
				return fmt.Errorf("nested deeper than %d levels", MaxDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
