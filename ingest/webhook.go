package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/stream"
)

// Producer writes messages and returns once Kafka acknowledged them;
// *stream.Producer.
type Producer interface {
	Write(ctx context.Context, msgs ...stream.Record) error
}

// Webhooks is the handler of POST /hubspot/webhooks.
type Webhooks struct {
	Secret []byte // the app's client secret; never logged
	// PublicURL is the URL HubSpot calls when the receiver sits behind a
	// proxy (scheme, host and path prefix); empty: rebuilt from the
	// request's scheme, Host, path and query.
	PublicURL   string
	Events      Producer // the events topic, keyed by contact id
	DeadLetters Producer // items that cannot be events, with a reason
	// Owned reports the properties the write-back writes: changes to them
	// are dropped, or a score written to HubSpot would come back as an
	// event.
	Owned func(property string) bool
	Now   func() time.Time
	Log   zerolog.Logger
	// Metrics, when set, gets the bridge_ingest_* counts.
	Metrics *Metrics

	Stats Stats
}

// Stats count what the handler did.
type Stats struct {
	Requests, Rejected, Produced, DeadLettered, LoopGuarded, Failed atomic.Int64
}

// MaxBody bounds a webhook request (HubSpot sends at most 100 events).
const MaxBody = 1 << 20

// item is one webhook event as HubSpot sends it; pointers tell a missing
// field from a zero.
type item struct {
	EventID          *int64          `json:"eventId"`
	SubscriptionType string          `json:"subscriptionType"`
	ObjectID         json.RawMessage `json:"objectId"`
	OccurredAt       *int64          `json:"occurredAt"`
	PropertyName     string          `json:"propertyName"`
	PropertyValue    *string         `json:"propertyValue"`
	PortalID         int64           `json:"portalId"`
	ChangeSource     string          `json:"changeSource"`
}

// Event types the webhooks map to.
var eventTypes = map[string]string{
	"contact.creation":        "contact_created",
	"contact.propertyChange":  "property_changed",
	"contact.deletion":        "contact_deleted",
	"contact.privacyDeletion": "privacy_deleted",
}

func (h *Webhooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.Stats.Requests.Add(1)
	if r.Method != http.MethodPost {
		h.Metrics.add("rejected", 1, "method")
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		h.Metrics.add("rejected", 1, "body")
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	uri := h.uri(r)
	if err := hubspot.VerifyV3(h.Secret, r.Method, uri, body, r.Header.Get(hubspot.TimestampHeader), r.Header.Get(hubspot.SignatureV3Header), now()); err != nil {
		h.Stats.Rejected.Add(1)
		h.Metrics.add("rejected", 1, "signature")
		h.Log.Warn().Str("remote", r.RemoteAddr).Str("uri", uri).Err(err).Msg("webhook rejected: not signed by HubSpot with our secret")
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		// Signed but not an array: dead-letter the whole body.
		if derr := h.deadLetter(r.Context(), body, "the body is not a JSON array of events: "+err.Error()); derr != nil {
			h.fail(w, derr)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	h.Metrics.add("received", len(raw), "webhook")
	var good, bad []stream.Record
	guarded := 0
	for i, data := range raw {
		ev, ok, err := h.event(data)
		switch {
		case err != nil:
			reason := fmt.Sprintf("webhook item %d: %v", i, err)
			h.Log.Warn().Str("reason", reason).Msg("dead-lettered a webhook item")
			bad = append(bad, stream.DeadLetter(stream.Record{Value: data}, reason))
		case !ok:
			h.Stats.LoopGuarded.Add(1)
			guarded++
		default:
			value, _ := json.Marshal(ev)
			good = append(good, stream.Message(ev.ContactID, value))
		}
	}
	// 200 only once Kafka has them: otherwise HubSpot sends them again.
	if err := write(r.Context(), h.Events, good); err != nil {
		h.fail(w, err)
		return
	}
	if err := write(r.Context(), h.DeadLetters, bad); err != nil {
		h.fail(w, err)
		return
	}
	h.Stats.Produced.Add(int64(len(good)))
	h.Stats.DeadLettered.Add(int64(len(bad)))
	h.Metrics.add("produced", len(good), "webhook")
	h.Metrics.add("dead_lettered", len(bad), "webhook")
	h.Metrics.loopGuarded(guarded)
	w.WriteHeader(http.StatusOK)
}

func (h *Webhooks) fail(w http.ResponseWriter, err error) {
	h.Stats.Failed.Add(1)
	h.Metrics.add("kafka_failed", 1, "webhook")
	h.Log.Error().Err(err).Msg("webhook events not acknowledged by Kafka: answering 503 so HubSpot retries")
	http.Error(w, "events not stored; retry", http.StatusServiceUnavailable)
}

func (h *Webhooks) deadLetter(ctx context.Context, body []byte, reason string) error {
	h.Stats.DeadLettered.Add(1)
	h.Metrics.add("dead_lettered", 1, "webhook")
	return write(ctx, h.DeadLetters, []stream.Record{stream.DeadLetter(stream.Record{Value: body}, reason)})
}

func write(ctx context.Context, p Producer, msgs []stream.Record) error {
	if len(msgs) == 0 {
		return nil
	}
	if p == nil {
		return errors.New("no producer")
	}
	return p.Write(ctx, msgs...)
}

// uri is the full URL HubSpot called.
func (h *Webhooks) uri(r *http.Request) string {
	if h.PublicURL != "" {
		return h.PublicURL + r.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// event maps one item; ok is false for a change the loop guard drops.
func (h *Webhooks) event(data []byte) (events.Event, bool, error) {
	var it item
	if err := json.Unmarshal(data, &it); err != nil {
		return events.Event{}, false, fmt.Errorf("not a webhook event: %w", err)
	}
	typ, known := eventTypes[it.SubscriptionType]
	switch {
	case it.EventID == nil:
		return events.Event{}, false, errors.New("no eventId")
	case !known:
		return events.Event{}, false, fmt.Errorf("event %d: subscriptionType %q is not one ingest maps", *it.EventID, it.SubscriptionType)
	case it.OccurredAt == nil:
		return events.Event{}, false, fmt.Errorf("event %d: no occurredAt", *it.EventID)
	}
	contact, err := objectID(it.ObjectID)
	if err != nil {
		return events.Event{}, false, fmt.Errorf("event %d: objectId: %w", *it.EventID, err)
	}
	ev := events.Event{
		ID: "hubspot-webhook-" + strconv.FormatInt(*it.EventID, 10), Type: typ, ContactID: contact,
		OccurredAt: time.UnixMilli(*it.OccurredAt).UTC(),
	}
	if typ == "property_changed" {
		if it.PropertyName == "" || it.PropertyValue == nil {
			return events.Event{}, false, fmt.Errorf("event %d: a property change without propertyName and propertyValue", *it.EventID)
		}
		if h.Owned != nil && h.Owned(it.PropertyName) {
			return events.Event{}, false, nil
		}
		ev.Properties = map[string]any{"name": it.PropertyName, "value": *it.PropertyValue}
		ev.Contact = map[string]any{it.PropertyName: *it.PropertyValue}
	}
	return ev, true, nil
}

// objectID is HubSpot's numeric object id (a string is accepted too).
func objectID(raw json.RawMessage) (string, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil && n != "" {
		if _, err := n.Int64(); err != nil {
			return "", fmt.Errorf("%s is not an integer", n)
		}
		return n.String(), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", errors.New("missing or not an id")
	}
	return s, nil
}
