package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/stream"
)

// emailTypes maps HubSpot's email event types to event types; the
// others (SENT, PROCESSED, DEFERRED, DROPPED, SPAMREPORT, FORWARD, PRINT,
// STATUSCHANGE other than an unsubscription) are ignored and counted.
var emailTypes = map[string]string{
	"OPEN":      "email_opened",
	"CLICK":     "email_clicked",
	"DELIVERED": "email_delivered",
	"BOUNCE":    "email_bounced",
}

// EmailCursor is where the poller is in HubSpot's email events: the
// startTimestamp of the round (ms), the offset of the next page within
// it, and the ids of the events already produced that were created at
// exactly StartMs (the next round starts there again and skips them).
type EmailCursor struct {
	StartMs   int64     `json:"start_timestamp_ms"`
	Offset    string    `json:"offset"`
	SeenAtMs  []string  `json:"seen_at_start"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CursorFile keeps the cursor durably: written to a temporary file,
// synced and renamed over the old one.
type CursorFile struct{ Path string }

// Load reads the cursor; ok is false when there is none yet.
func (f CursorFile) Load() (c EmailCursor, ok bool, err error) {
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return EmailCursor{}, false, nil
	}
	if err != nil {
		return EmailCursor{}, false, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return EmailCursor{}, false, fmt.Errorf("email events cursor %s: %w (remove it to start again from --email-since)", f.Path, err)
	}
	return c, true, nil
}

// Save stores c atomically.
func (f CursorFile) Save(c EmailCursor) error {
	data, _ := json.Marshal(c)
	dir := filepath.Dir(f.Path)
	tmp, err := os.CreateTemp(dir, filepath.Base(f.Path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// EmailPoller reads HubSpot's marketing email events
// (GET /email/public/v1/events, paged by offset from a stored
// startTimestamp) and produces them as events keyed by the recipient's
// contact id, with ids hubspot-email-<id>: a page read twice (a crash
// before the cursor was saved) produces the same ids, which the scorer
// counts once. The cursor moves only after Kafka acknowledged the page's
// events.
type EmailPoller struct {
	Client      *hubspot.Client
	Events      Producer
	DeadLetters Producer
	Cursor      CursorFile
	Since       time.Time     // where the first round starts, without a cursor
	Interval    time.Duration // between rounds (default 1 min)
	PageSize    int           // events per page (default 100, at most 1000)
	Log         zerolog.Logger
	Metrics     *Metrics

	contacts map[string]string // recipient email -> contact id
}

// Run polls every Interval until ctx ends. A failed round is logged,
// counted and tried again (with backoff up to the interval): nothing the
// API answers stops the poller.
func (p *EmailPoller) Run(ctx context.Context) error {
	interval := p.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = time.Second, interval, 0
	for {
		wait := interval
		if n, err := p.Poll(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.Metrics.pollFailed()
			wait = bo.NextBackOff()
			p.Log.Warn().Err(err).Dur("retry_in", wait).Msg("email events poll failed; the cursor stays where Kafka has everything")
		} else {
			bo.Reset()
			if n > 0 {
				p.Log.Info().Int("produced", n).Msg("email events produced")
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Poll reads every page from the cursor on, producing each page's events
// and then saving the cursor; it returns the number of events produced.
func (p *EmailPoller) Poll(ctx context.Context) (int, error) {
	roundStart := time.Now()
	c, ok, err := p.Cursor.Load()
	if err != nil {
		return 0, err
	}
	if !ok {
		c = EmailCursor{StartMs: p.Since.UnixMilli()}
	}
	size := p.PageSize
	if size <= 0 {
		size = 100
	}
	produced := 0
	next := c.StartMs // the latest created seen this round
	seenAtNext := slices.Clone(c.SeenAtMs)
	for {
		page, err := p.Client.EmailEvents(ctx, c.StartMs, c.Offset, size)
		if err != nil {
			return produced, fmt.Errorf("GET /email/public/v1/events (startTimestamp %d, offset %q): %w", c.StartMs, c.Offset, err)
		}
		p.Metrics.add("received", len(page.Events), "email")
		var good, bad []stream.Record
		for _, e := range page.Events {
			if e.Created > next {
				next, seenAtNext = e.Created, seenAtNext[:0]
			}
			if e.Created == next {
				seenAtNext = append(seenAtNext, e.ID)
			}
			if e.Created == c.StartMs && slices.Contains(c.SeenAtMs, e.ID) {
				continue // produced by the round before
			}
			ev, ok, err := p.event(ctx, e)
			switch {
			case err != nil && errors.Is(err, errNotAContact):
				reason := fmt.Sprintf("email event %s: %v", e.ID, err)
				raw, _ := json.Marshal(e)
				bad = append(bad, stream.DeadLetter(stream.Record{Value: raw}, reason))
			case err != nil:
				return produced, err // transient: the page is read again
			case !ok:
				p.Metrics.add("ignored", 1, "email", e.Type)
			default:
				value, _ := json.Marshal(ev)
				good = append(good, stream.Message(ev.ContactID, value))
			}
		}
		if err := write(ctx, p.Events, good); err != nil {
			p.Metrics.add("kafka_failed", 1, "email")
			return produced, fmt.Errorf("produce %d email events: %w", len(good), err)
		}
		if err := write(ctx, p.DeadLetters, bad); err != nil {
			p.Metrics.add("kafka_failed", 1, "email")
			return produced, fmt.Errorf("dead-letter %d email events: %w", len(bad), err)
		}
		produced += len(good)
		p.Metrics.add("produced", len(good), "email")
		p.Metrics.add("dead_lettered", len(bad), "email")
		if page.HasMore && page.Offset != "" && page.Offset != c.Offset {
			c.Offset = page.Offset
		} else {
			// The round is over: the next starts at the latest event seen,
			// skipping the ones of that millisecond it already produced.
			if next != c.StartMs {
				c.SeenAtMs = nil
			}
			c = EmailCursor{StartMs: next, SeenAtMs: append(c.SeenAtMs, seenAtNext...)}
			slices.Sort(c.SeenAtMs)
			c.SeenAtMs = slices.Compact(c.SeenAtMs)
		}
		c.UpdatedAt = time.Now().UTC()
		if err := p.Cursor.Save(c); err != nil {
			return produced, fmt.Errorf("save the email events cursor %s: %w", p.Cursor.Path, err)
		}
		if c.Offset == "" {
			p.Metrics.roundDone(roundStart)
			return produced, nil
		}
	}
}

var errNotAContact = errors.New("the recipient is not a HubSpot contact")

// event maps one email event; ok is false for a type ingest ignores.
func (p *EmailPoller) event(ctx context.Context, e hubspot.EmailEvent) (events.Event, bool, error) {
	typ, known := emailTypes[e.Type]
	if e.Type == "STATUSCHANGE" && strings.EqualFold(e.Status, "UNSUBSCRIBED") {
		typ, known = "email_unsubscribed", true
	}
	if !known {
		return events.Event{}, false, nil
	}
	if e.ID == "" || e.Recipient == "" || e.Created <= 0 {
		return events.Event{}, false, fmt.Errorf("%w: id, recipient and created are required (got %q, %q, %d)", errNotAContact, e.ID, e.Recipient, e.Created)
	}
	contact, err := p.contactOf(ctx, e.Recipient)
	if err != nil {
		return events.Event{}, false, err
	}
	props := map[string]any{"campaign_id": e.EmailCampaignID}
	if e.URL != "" {
		props["url"] = e.URL
	}
	if e.Category != "" {
		props["category"] = e.Category
	}
	if e.Status != "" {
		props["status"] = e.Status
	}
	return events.Event{
		ID: "hubspot-email-" + e.ID, Type: typ, ContactID: contact,
		OccurredAt: time.UnixMilli(e.Created).UTC(), Properties: props,
		Contact: map[string]any{"email": e.Recipient},
	}, true, nil
}

// contactOf resolves a recipient to its contact id, remembered (up to
// 100,000 recipients, then forgotten at once) to spare the API budget.
func (p *EmailPoller) contactOf(ctx context.Context, email string) (string, error) {
	key := strings.ToLower(email)
	if id, ok := p.contacts[key]; ok {
		return id, nil
	}
	id, err := p.Client.ContactIDByEmail(ctx, email)
	if errors.Is(err, hubspot.ErrNotFound) {
		return "", fmt.Errorf("%w: no contact with email %q", errNotAContact, email)
	}
	if err != nil {
		return "", fmt.Errorf("contact of recipient %q: %w", email, err)
	}
	if p.contacts == nil || len(p.contacts) >= 100_000 {
		p.contacts = map[string]string{}
	}
	p.contacts[key] = id
	return id, nil
}
