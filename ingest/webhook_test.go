package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

const secret = "app-client-secret"

type env struct {
	brokers []string
	h       *Webhooks
	srv     *httptest.Server
	sb      *sandbox.Sandbox
	sbURL   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &env{brokers: c.ListenAddrs()}
	ctx := context.Background()
	if err := stream.EnsureTopics(ctx, e.brokers, stream.Topic{Name: "events", Partitions: 2}, stream.Topic{Name: "dlq", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	prod := func(topic string) *stream.Producer {
		p, err := stream.NewProducer(stream.ProducerConfig{Brokers: e.brokers, Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	e.h = &Webhooks{Secret: []byte(secret), Events: prod("events"), DeadLetters: prod("dlq"), Log: zerolog.Nop(),
		Owned: func(p string) bool { return strings.HasPrefix(p, "scorebridge_") }}
	mux := http.NewServeMux()
	mux.Handle("POST /hubspot/webhooks", e.h)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	cfg, err := sandbox.ParseConfig([]byte(`token: t
rate_limit: {max: 1000, interval: 1s, daily: 100000}
contacts_auto: true
contact_email_template: "c{id}@example.net"
senders: [{user_id: "101", owner_id: "u-1", email: "ana@example.com"}]
sequences: [{id: "9001", name: "Demo", user_id: "101", steps: [{action: EMAIL}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if e.sb, err = sandbox.New(cfg, sandbox.Options{}); err != nil {
		t.Fatal(err)
	}
	sb := httptest.NewServer(e.sb)
	t.Cleanup(sb.Close)
	e.sbURL = sb.URL
	e.admin(t, "/_sandbox/webhooks", `{"url":"`+e.srv.URL+`/hubspot/webhooks","secret":"`+secret+`"}`)
	return e
}

func (e *env) admin(t *testing.T, path, body string) {
	t.Helper()
	resp, err := http.Post(e.sbURL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s: %d", path, resp.StatusCode)
	}
}

func read(t *testing.T, brokers []string, topic string, parts int) []stream.Record {
	var out []stream.Record
	for p := 0; p < parts; p++ {
		_, err := stream.RestorePartition(context.Background(), brokers, topic, p, func(m stream.Record) error { out = append(out, m); return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// The sandbox's signed webhooks become events with HubSpot's ids; a
// change to a property the write-back owns is dropped.
func TestWebhooksFromTheSandbox(t *testing.T) {
	e := newEnv(t)
	e.admin(t, "/_sandbox/crm/contacts/2001/create", "")
	e.sb.WaitWebhooks()
	e.admin(t, "/_sandbox/crm/contacts/2001/properties", `{"lifecyclestage":"lead","scorebridge_engagement_score":"44"}`)
	e.sb.WaitWebhooks()
	e.admin(t, "/_sandbox/crm/contacts/2001/privacy-deletion", "")
	e.sb.WaitWebhooks()
	got := map[string]events.Event{}
	for _, m := range read(t, e.brokers, "events", 2) {
		ev, err := events.Decode(m.Value)
		if err != nil {
			t.Fatalf("%s: %v", m.Value, err)
		}
		if string(m.Key) != ev.ContactID || ev.ContactID != "2001" || !strings.HasPrefix(ev.ID, "hubspot-webhook-") {
			t.Errorf("event %+v keyed %q", ev, m.Key)
		}
		got[ev.Type] = ev
	}
	if len(got) != 3 || got["contact_created"].ID == "" || got["privacy_deleted"].ID == "" {
		t.Fatalf("events %+v", got)
	}
	pc := got["property_changed"]
	if pc.Properties["name"] != "lifecyclestage" || pc.Properties["value"] != "lead" || pc.Contact["lifecyclestage"] != "lead" {
		t.Errorf("property change %+v", pc)
	}
	if e.h.Stats.LoopGuarded.Load() != 1 || e.h.Stats.Rejected.Load() != 0 {
		t.Errorf("loop guarded %d, rejected %d", e.h.Stats.LoopGuarded.Load(), e.h.Stats.Rejected.Load())
	}
}

func (e *env) post(t *testing.T, body, ts, sig string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/hubspot/webhooks", bytes.NewReader([]byte(body)))
	req.Header.Set(hubspot.TimestampHeader, ts)
	req.Header.Set(hubspot.SignatureV3Header, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Forged and stale requests get 401 and produce nothing; a replay gives
// the same event id (the scorer counts it once); a malformed item is
// dead-lettered with its reason while the good ones are produced.
func TestWebhookValidation(t *testing.T) {
	e := newEnv(t)
	uri := e.srv.URL + "/hubspot/webhooks"
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	stale := strconv.FormatInt(time.Now().Add(-6*time.Minute).UnixMilli(), 10)
	body := `[{"eventId":7,"subscriptionType":"contact.propertyChange","objectId":3001,"occurredAt":1795168680000,"propertyName":"jobtitle","propertyValue":"CTO"}]`
	sign := func(key, b, ts string) string { return hubspot.SignV3([]byte(key), "POST", uri, []byte(b), ts) }
	if c := e.post(t, body, now, sign("forged", body, now)); c != http.StatusUnauthorized {
		t.Errorf("forged: %d", c)
	}
	if c := e.post(t, body, stale, sign(secret, body, stale)); c != http.StatusUnauthorized {
		t.Errorf("stale: %d", c)
	}
	if c := e.post(t, body, now, ""); c != http.StatusUnauthorized {
		t.Errorf("unsigned: %d", c)
	}
	if n := len(read(t, e.brokers, "events", 2)); n != 0 {
		t.Fatalf("%d events from rejected requests", n)
	}
	for range 2 { // HubSpot's retry of a delivery
		if c := e.post(t, body, now, sign(secret, body, now)); c != http.StatusOK {
			t.Fatalf("valid: %d", c)
		}
	}
	mixed := `[{"eventId":8,"subscriptionType":"contact.creation","objectId":3002,"occurredAt":1795168680000},` +
		`{"eventId":9,"subscriptionType":"deal.creation","objectId":1,"occurredAt":1795168680000},{"subscriptionType":"contact.creation"}]`
	if c := e.post(t, mixed, now, sign(secret, mixed, now)); c != http.StatusOK {
		t.Fatalf("mixed: %d", c)
	}
	ids := map[string]int{}
	for _, m := range read(t, e.brokers, "events", 2) {
		var ev events.Event
		json.Unmarshal(m.Value, &ev)
		ids[ev.ID]++
	}
	if ids["hubspot-webhook-7"] != 2 || ids["hubspot-webhook-8"] != 1 || len(ids) != 2 {
		t.Fatalf("event ids %v: want webhook 7 twice (one id: scored once), 8 once", ids)
	}
	dlq := read(t, e.brokers, "dlq", 1)
	if len(dlq) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dlq))
	}
	reasons := ""
	for _, m := range dlq {
		r, _ := m.Header("dlq-reason")
		reasons += r + "\n"
	}
	if !strings.Contains(reasons, `subscriptionType "deal.creation" is not one ingest maps`) || !strings.Contains(reasons, "no eventId") {
		t.Fatalf("reasons:\n%s", reasons)
	}
}
