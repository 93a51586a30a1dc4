package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultThreshold names the threshold of a model that declares a single
// `threshold:` rather than a list.
const DefaultThreshold = "default"

// Crossing announces that a contact's score in a model reached a threshold.
// It is the message on the crossings topic, keyed by ContactID.
type Crossing struct {
	CrossingID    string         `json:"crossing_id"`
	ContactID     string         `json:"contact_id"`
	CompanyID     string         `json:"company_id,omitempty"`
	Model         string         `json:"model"`
	Score         float64        `json:"score"`
	Threshold     float64        `json:"threshold"`
	ThresholdName string         `json:"threshold_name"`
	CrossedAt     time.Time      `json:"crossed_at"`
	EventID       string         `json:"event_id"`
	RuleVersion   string         `json:"rule_version"`
	Contact       map[string]any `json:"contact,omitempty"`
	// ContactTruncated says Contact holds only part of the event's contact
	// snapshot (the properties, in key order, that fit): the whole would
	// have made the message too large for Kafka.
	ContactTruncated bool `json:"contact_truncated,omitempty"`
	// Level is "company" for a company model's crossing (then CompanyID
	// names the company, Members its top counted contacts, and ContactID
	// the contact whose score change caused it); "" for a contact's.
	Level   string          `json:"level,omitempty"`
	Members []CompanyMember `json:"members,omitempty"`
}

// LevelCompany marks a company model's crossing.
const LevelCompany = "company"

// CompanyMember is one of a company crossing's top members: enough for the
// bridge to choose whom to enroll without asking anyone.
type CompanyMember struct {
	ContactID string  `json:"contact_id"`
	Score     float64 `json:"score"`
	Role      string  `json:"role,omitempty"`
	OwnerID   string  `json:"owner_id,omitempty"`
	// Contact holds the member's latest known coverage properties and
	// owner_id, email, lifecycle_stage, timezone.
	Contact map[string]any `json:"contact,omitempty"`
}

// CrossingID is deterministic: the same contact, model, threshold and
// triggering event always give the same id, so replays can be de-duplicated.
func CrossingID(contactID, model, threshold, eventID string) string {
	// The bytes hashed are "len:s;" for each part, built in one buffer
	// (fmt.Fprintf per part cost more than the hash).
	buf := make([]byte, 0, 64+len(contactID)+len(model)+len(threshold)+len(eventID))
	for _, s := range []string{contactID, model, threshold, eventID} {
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
		buf = append(buf, ';')
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16])
}

// DecodeCrossing parses and validates a crossing message.
func DecodeCrossing(data []byte) (Crossing, error) {
	var c Crossing
	if len(data) > MaxEventBytes {
		return c, fmt.Errorf("crossing is %d bytes, over the %d-byte limit", len(data), MaxEventBytes)
	}
	if err := checkDepth(data); err != nil {
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("malformed crossing JSON: %w", err)
	}
	var missing []string
	who := [2]string{"contact_id", c.ContactID}
	if c.Level == LevelCompany {
		who = [2]string{"company_id", c.CompanyID}
	} else if c.Level != "" {
		return c, fmt.Errorf("crossing level %q: want company or none", c.Level)
	}
	for _, f := range [][2]string{{"crossing_id", c.CrossingID}, who, {"model", c.Model}} {
		if strings.TrimSpace(f[1]) == "" {
			missing = append(missing, f[0])
		}
	}
	if c.CrossedAt.IsZero() {
		missing = append(missing, "crossed_at")
	}
	if len(missing) > 0 {
		return c, errors.New("crossing missing " + strings.Join(missing, ", "))
	}
	if c.ThresholdName == "" {
		c.ThresholdName = DefaultThreshold
	}
	return c, nil
}
