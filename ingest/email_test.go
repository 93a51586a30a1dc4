package ingest

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/stream"
)

func (e *env) poller(t *testing.T, dir string, m *Metrics) *EmailPoller {
	t.Helper()
	c, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: e.sbURL, Token: "t", RequestsPerInterval: 100, Interval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &EmailPoller{Client: c, Events: e.h.Events, DeadLetters: e.h.DeadLetters, Cursor: CursorFile{Path: filepath.Join(dir, "email-cursor.json")},
		Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), PageSize: 2, Log: zerolog.Nop(), Metrics: m}
}

func emailEvents(t *testing.T, brokers []string) map[string]events.Event {
	t.Helper()
	out := map[string]events.Event{}
	for _, m := range read(t, brokers, "events", 2) {
		ev, err := events.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != ev.ContactID {
			t.Errorf("%s keyed %q", ev.ID, m.Key)
		}
		if strings.HasPrefix(ev.ID, "hubspot-email-") {
			if _, dup := out[ev.ID]; dup {
				t.Errorf("%s produced twice", ev.ID)
			}
			out[ev.ID] = ev
		}
	}
	return out
}

// The poller maps HubSpot's email events to events of the recipient's
// contact, page by page; it ignores the types it does not map,
// dead-letters a recipient that is no contact, and never produces an
// event twice across rounds: the cursor moves only once Kafka has them.
func TestEmailPoller(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	p := e.poller(t, dir, m)
	e.admin(t, "/_sandbox/email-events", `[
 {"type":"SENT","contactId":"3101","created":"2026-11-20T10:00:00Z"},
 {"type":"DELIVERED","contactId":"3101","created":"2026-11-20T10:00:01Z"},
 {"type":"OPEN","contactId":"3101","created":"2026-11-20T10:05:00Z"},
 {"type":"CLICK","contactId":"3102","created":"2026-11-20T10:06:00Z","url":"https://example.com/pricing"},
 {"type":"BOUNCE","contactId":"3103","created":"2026-11-20T10:07:00Z","category":"HARD_BOUNCE"},
 {"type":"STATUSCHANGE","contactId":"3102","created":"2026-11-20T10:08:00Z","status":"UNSUBSCRIBED"},
 {"type":"OPEN","recipient":"nobody@elsewhere.org","created":"2026-11-20T10:08:00Z"}]`)
	ctx := context.Background()
	n, err := p.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := emailEvents(t, e.brokers)
	if n != 5 || len(got) != 5 {
		t.Fatalf("produced %d, on the topic %v", n, got)
	}
	byType := map[string]events.Event{}
	for _, ev := range got {
		byType[ev.Type] = ev
	}
	want := map[string]string{"email_delivered": "3101", "email_opened": "3101", "email_clicked": "3102", "email_bounced": "3103", "email_unsubscribed": "3102"}
	for typ, contact := range want {
		if byType[typ].ContactID != contact {
			t.Errorf("%s: %+v, want contact %s", typ, byType[typ], contact)
		}
	}
	if byType["email_clicked"].Properties["url"] != "https://example.com/pricing" || byType["email_bounced"].Properties["category"] != "HARD_BOUNCE" {
		t.Errorf("properties: %+v %+v", byType["email_clicked"], byType["email_bounced"])
	}
	if !byType["email_opened"].OccurredAt.Equal(time.Date(2026, 11, 20, 10, 5, 0, 0, time.UTC)) {
		t.Errorf("occurred_at %s", byType["email_opened"].OccurredAt)
	}
	dlq := read(t, e.brokers, "dlq", 1)
	if len(dlq) != 1 || !strings.Contains(reason(dlq[0]), "nobody@elsewhere.org") {
		t.Errorf("dead letters: %d", len(dlq))
	}
	if v := testutil.ToFloat64(m.ignored.WithLabelValues("email", "SENT")); v != 1 {
		t.Errorf("ignored SENT: %v", v)
	}

	// Nothing new: nothing produced, even for the events of the last
	// millisecond the next round starts at.
	if n, err := p.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("second round: %d, %v", n, err)
	}
	// Kafka refuses: the round fails and the cursor stays.
	e.admin(t, "/_sandbox/email-events", `[{"type":"OPEN","contactId":"3104","created":"2026-11-20T11:00:00Z"},
 {"type":"OPEN","contactId":"3104","created":"2026-11-20T11:00:00Z"}, {"type":"CLICK","contactId":"3104","created":"2026-11-20T11:01:00Z"}]`)
	before, _, _ := p.Cursor.Load()
	good := p.Events
	p.Events = failing{}
	if _, err := p.Poll(ctx); err == nil {
		t.Fatal("a round whose events Kafka refused succeeded")
	}
	// The first page (the two events of the millisecond already
	// produced) moved it; the page Kafka refused did not.
	if after, _, _ := p.Cursor.Load(); after.StartMs != before.StartMs || after.Offset != "2" {
		t.Errorf("the cursor moved past events Kafka did not take: %+v, then %+v", before, after)
	}
	// A restarted poller (a new process: no memory) carries on from the file.
	p = e.poller(t, dir, m)
	p.Events = good
	if n, err := p.Poll(ctx); err != nil || n != 3 {
		t.Fatalf("after the failure: %d, %v", n, err)
	}
	got = emailEvents(t, e.brokers)
	if len(got) != 8 {
		t.Errorf("%d email events on the topic, want 8", len(got))
	}
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	t.Logf("ids %v", ids)
	if v := testutil.ToFloat64(m.produced.WithLabelValues("email")); v != 8 {
		t.Errorf("bridge_ingest_produced_total{source=email} %v", v)
	}
}

type failing struct{}

func (failing) Write(context.Context, ...kafkaMessage) error { return errRefused }

func reason(m kafkaMessage) string {
	r, _ := m.Header(stream.HeaderDLQReason)
	return r
}

type kafkaMessage = stream.Record

var errRefused = errors.New("kafka refused (test)")
