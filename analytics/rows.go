package analytics

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

// MicroPoints is how many stored units make one point.
const MicroPoints = 1_000_000

// Touch is one scored engagement event.
type Touch struct {
	EventID     string
	ContactID   string
	CompanyID   string
	Type        string
	Channel     string
	Campaign    string
	OccurredAt  time.Time
	Properties  string // compact JSON object text
	RuleVersion string
	IngestedAt  time.Time // zero: the writer stamps the time of Add
}

// LedgerRow is what one rule group did to one contact's score in one model
// when one event was processed. Rows with Group TotalClampGroup account for
// the total clamp, so SUM(delta) per contact and model is the score exactly.
type LedgerRow struct {
	ContactID   string
	Model       string
	EventID     string
	Group       string
	Points      int64 // micro-points the group's rule awarded (raw)
	Delta       int64 // micro-points the group's clamped sum changed by
	OccurredAt  time.Time
	RuleVersion string
	IngestedAt  time.Time
}

// TotalClampGroup is the ledger group that carries the total clamp.
const TotalClampGroup = "_total_clamp"

// CrossingRow records a contact reaching a threshold of a model.
type CrossingRow struct {
	CrossingID    string
	ContactID     string
	CompanyID     string
	Model         string
	ThresholdName string
	Threshold     int64 // micro-points
	Score         int64 // micro-points
	CrossedAt     time.Time
	EventID       string
	RuleVersion   string
	IngestedAt    time.Time
}

// Decision is one bridge decision about one crossing.
type Decision struct {
	DecisionID string
	CrossingID string
	ContactID  string
	CompanyID  string
	Model      string
	TargetKind string // sequence | workflow
	TargetID   string
	Sender     string
	Outcome    string // enrolled, suppressed, held, failed, no_route, unenrolled, ...
	Reason     string
	Detail     string
	DecidedAt  time.Time
	IngestedAt time.Time
}

// APICall is one HTTP exchange the bridge had with HubSpot or a webhook.
// Bodies must already have tokens removed.
type APICall struct {
	CallID        string
	ContactID     string
	CrossingID    string
	Method        string
	Path          string
	Status        int64
	LatencyMS     int64
	CorrelationID string
	RequestBody   string
	ResponseBody  string
	Error         string
	At            time.Time
	IngestedAt    time.Time
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
	EventID    string
	ContactID  string
	SequenceID string
	OwnerID    string
	CrossingID string // the crossing that led to the enrollment, when known
	Kind       string
	Reason     string // why unenrolled (reply, meeting, bounce, unsubscribe, manual, ...)
	At         time.Time
	IngestedAt time.Time
}

// TouchFromEvent turns an engagement event into its touch row. Channel and
// campaign come from the properties `channel` and `campaign` when present.
func TouchFromEvent(e events.Event, ruleVersion string) Touch {
	t := Touch{
		EventID: e.ID, ContactID: e.ContactID, CompanyID: e.CompanyID, Type: e.Type,
		OccurredAt: e.OccurredAt, RuleVersion: ruleVersion, Properties: "{}",
	}
	if len(e.Properties) > 0 {
		// encoding/json writes compact text with sorted keys, which the
		// visitParam* functions used by reports require (no spaces).
		if b, err := json.Marshal(e.Properties); err == nil {
			t.Properties = string(b)
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
