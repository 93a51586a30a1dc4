package analytics

import (
	"fmt"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/scorebridge/scorebridge/events"
)

// MicroPoints is how many stored units make one point.
const MicroPoints = 1_000_000

// Touch is one scored engagement event.
type Touch struct {
	EventID     string    `json:"event_id"`
	ContactID   string    `json:"contact_id"`
	CompanyID   string    `json:"company_id"`
	Type        string    `json:"type"`
	Channel     string    `json:"channel"`
	Campaign    string    `json:"campaign"`
	OccurredAt  time.Time `json:"occurred_at"`
	Properties  string    `json:"properties"` // compact JSON object text
	Contact     string    `json:"-"`          // the event's contact snapshot, compact JSON (replays need it)
	RuleVersion string    `json:"rule_version"`
	IngestedAt  time.Time `json:"-"` // zero: the writer stamps the time of Add
}

// LedgerRow is what one rule group did to one contact's score in one model
// when one event was processed. Rows with Group TotalClampGroup account for
// the total clamp, so SUM(delta) per contact and model is the score exactly.
type LedgerRow struct {
	ContactID   string    `json:"contact_id"`
	Model       string    `json:"model"`
	EventID     string    `json:"event_id"`
	Group       string    `json:"group"`
	Points      int64     `json:"points"` // micro-points the group's rule awarded (raw)
	Delta       int64     `json:"delta"`  // micro-points the group's clamped sum changed by
	OccurredAt  time.Time `json:"occurred_at"`
	RuleVersion string    `json:"rule_version"`
	IngestedAt  time.Time `json:"-"`
}

// TotalClampGroup is the ledger group that carries the total clamp.
const TotalClampGroup = "_total_clamp"

// CrossingRow records a contact reaching a threshold of a model.
type CrossingRow struct {
	CrossingID    string    `json:"crossing_id"`
	ContactID     string    `json:"contact_id"`
	CompanyID     string    `json:"company_id"`
	Model         string    `json:"model"`
	ThresholdName string    `json:"threshold_name"`
	Threshold     int64     `json:"threshold"` // micro-points
	Score         int64     `json:"score"`     // micro-points
	CrossedAt     time.Time `json:"crossed_at"`
	EventID       string    `json:"event_id"`
	RuleVersion   string    `json:"rule_version"`
	IngestedAt    time.Time `json:"-"`
}

// Decision is one bridge decision about one crossing.
type Decision struct {
	DecisionID string    `json:"decision_id"`
	CrossingID string    `json:"crossing_id"`
	ContactID  string    `json:"contact_id"`
	CompanyID  string    `json:"company_id"`
	Model      string    `json:"model"`
	TargetKind string    `json:"target_kind"` // sequence | workflow
	TargetID   string    `json:"target_id"`
	Sender     string    `json:"sender"`
	Outcome    string    `json:"outcome"` // enrolled, suppressed, held, failed, no_route, unenrolled, ...
	Reason     string    `json:"reason"`
	Detail     string    `json:"detail"`
	DecidedAt  time.Time `json:"decided_at"`
	IngestedAt time.Time `json:"-"`
}

// APICall is one HTTP exchange the bridge had with HubSpot or a webhook.
// Bodies must already have tokens removed.
type APICall struct {
	CallID        string    `json:"call_id"`
	ContactID     string    `json:"contact_id"`
	CrossingID    string    `json:"crossing_id"`
	Method        string    `json:"method"`
	Path          string    `json:"path"`
	Status        int64     `json:"status"`
	LatencyMS     int64     `json:"latency_ms"`
	CorrelationID string    `json:"correlation_id"`
	RequestBody   string    `json:"request_body"`
	ResponseBody  string    `json:"response_body"`
	Error         string    `json:"error"`
	At            time.Time `json:"at"`
	IngestedAt    time.Time `json:"-"`
}

// Enrollment event kinds.
const (
	KindEnrolled      = "enrolled"
	KindReplied       = "replied"
	KindMeetingBooked = "meeting_booked"
	KindUnenrolled    = "unenrolled"
)

// EnrollmentEvent is a step in a contact's life in a sequence: enrolled by
// the bridge, or replied / booked a meeting / unenrolled as learned later.
type EnrollmentEvent struct {
	EventID    string    `json:"event_id"`
	ContactID  string    `json:"contact_id"`
	SequenceID string    `json:"sequence_id"`
	OwnerID    string    `json:"owner_id"`
	CrossingID string    `json:"crossing_id"` // the crossing that led to the enrollment, when known
	Kind       string    `json:"kind"`
	Reason     string    `json:"reason"` // why unenrolled (reply, meeting, bounce, unsubscribe, manual, ...)
	At         time.Time `json:"at"`
	IngestedAt time.Time `json:"-"`
}

// TouchFromEvent turns an engagement event into its touch row. Channel and
// campaign come from the properties `channel` and `campaign` when present.
func TouchFromEvent(e events.Event, ruleVersion string) Touch {
	t := Touch{
		EventID: e.ID, ContactID: e.ContactID, CompanyID: e.CompanyID, Type: e.Type,
		OccurredAt: e.OccurredAt, RuleVersion: ruleVersion, Properties: "{}",
	}
	// Compact text with sorted keys, which the visitParam* functions used
	// by reports require (no spaces): the text the event arrived with when
	// it is already that (events.DecodeKeepJSON), else encoded again;
	// goccy/go-json writes what encoding/json does
	// (TestTouchJSONAsEncodingJSON), at a third of the cost.
	switch {
	case e.PropertiesJSON != "":
		t.Properties = e.PropertiesJSON
	case len(e.Properties) > 0:
		if b, err := gojson.Marshal(e.Properties); err == nil {
			t.Properties = string(b)
		}
	}
	switch {
	case e.ContactJSON != "":
		t.Contact = e.ContactJSON
	case len(e.Contact) > 0:
		if b, err := gojson.Marshal(e.Contact); err == nil {
			t.Contact = string(b)
		}
	}
	t.Channel = propString(e.Properties, "channel")
	t.Campaign = propString(e.Properties, "campaign")
	return t
}

func propString(p map[string]any, key string) string {
	v, ok := p[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}
