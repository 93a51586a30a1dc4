package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
)

const testSecret = "demo-client-secret"

// hookSink receives the sandbox's webhooks, checking their signatures as
// bridge ingest does.
type hookSink struct {
	mu    sync.Mutex
	items []hubspot.WebhookEvent
	bad   int
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	uri := "http://" + r.Host + r.URL.RequestURI()
	err := hubspot.VerifyV3([]byte(testSecret), r.Method, uri, body, r.Header.Get(hubspot.TimestampHeader), r.Header.Get(hubspot.SignatureV3Header), time.Now())
	var items []hubspot.WebhookEvent
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil || json.Unmarshal(body, &items) != nil {
		h.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.items = append(h.items, items...)
}

func testSandbox(t *testing.T, hookURL string) (*sandbox.Sandbox, string) {
	t.Helper()
	cfg, err := sandbox.ParseConfig([]byte(`token: t
rate_limit: {max: 1000, interval: 1s, daily: 100000}
contacts_auto: true
contact_email_template: "contact-{id}@example.net"
contacts: [{id: "c-000001", email: "one@example.com"}, {id: "c-000002", email: "two@example.com"}, {id: "c-000003", email: "three@example.com"}]
senders: [{user_id: "101", owner_id: "u-1", email: "ana@example.com"}]
sequences: [{id: "9001", name: "Demo", user_id: "101", steps: [{action: EMAIL}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(cfg, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	if hookURL != "" {
		if err := adminPost(context.Background(), srv.URL+"/_sandbox/webhooks", map[string]string{"url": hookURL, "secret": testSecret}); err != nil {
			t.Fatal(err)
		}
	}
	return sb, srv.URL
}

const testHistory = `{"id":"e1","type":"email_opened","contact_id":"c-000001","occurred_at":"2026-10-01T09:00:00Z","contact":{"email":"one@example.com"}}
{"id":"e2","type":"call_started","contact_id":"c-000002","occurred_at":"2026-10-03T10:00:00Z","properties":{"duration_s":90},"contact":{"email":"two@example.com"}}
{"id":"e3","type":"email_opened","contact_id":"c-000001","occurred_at":"2026-10-05T12:00:00Z","contact":{"email":"one@example.com"}}
{"id":"e4","type":"page_viewed","contact_id":"c-000003","occurred_at":"2026-10-02T08:00:00Z","properties":{"path":"/pricing"},"contact":{"email":"three@example.com"}}
`

// The activity happens in the sandbox over HTTP: new contacts' creation
// and edits arrive as signed webhooks, one per item the activity counts;
// the email events API serves every email event, known contacts' dated
// after their last event of the history, to those contacts' emails.
func TestMakeActivity(t *testing.T) {
	sink := &hookSink{}
	hooks := httptest.NewServer(sink)
	defer hooks.Close()
	sb, base := testSandbox(t, hooks.URL+"/hubspot/webhooks")
	dir := t.TempDir()
	history := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(history, []byte(testHistory), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var out bytes.Buffer
	a, err := MakeActivity(context.Background(), ActivityOptions{SandboxURL: base, Events: history, New: 3, Known: 2, Now: now}, &out)
	if err != nil {
		t.Fatal(err)
	}
	sb.WaitWebhooks()
	if strings.Join(a.NewContacts, ",") != "7100001,7100002,7100003" || strings.Join(a.KnownContacts, ",") != "c-000001,c-000002" || a.HistoryEvents != 4 {
		t.Fatalf("activity %+v", a)
	}
	sink.mu.Lock()
	got, bad := len(sink.items), sink.bad
	types := map[string]int{}
	for _, it := range sink.items {
		types[it.SubscriptionType]++
	}
	sink.mu.Unlock()
	if bad != 0 || got != a.Webhooks || types["contact.creation"] != 3 || types["contact.propertyChange"] != a.Webhooks-3 {
		t.Fatalf("webhooks: %d items (%v), %d refused; the activity counts %d", got, types, bad, a.Webhooks)
	}
	if props, _ := sb.ContactProperties("7100002"); props["lifecyclestage"] != "lead" {
		t.Errorf("7100002's properties in the sandbox: %v", props)
	}

	client, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: base, Token: "t", RequestsPerInterval: 100, Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	page, err := client.EmailEvents(context.Background(), 0, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != a.EmailEvents || a.Expected() != a.Webhooks+a.EmailEvents {
		t.Fatalf("the events API serves %d email events; the activity counts %d", len(page.Events), a.EmailEvents)
	}
	lastOf := map[string]time.Time{
		"one@example.com": time.Date(2026, 10, 5, 12, 0, 0, 0, time.UTC),
		"two@example.com": time.Date(2026, 10, 3, 10, 0, 0, 0, time.UTC),
	}
	perRecipient := map[string]int{}
	for _, e := range page.Events {
		perRecipient[e.Recipient]++
		created := time.UnixMilli(e.Created).UTC()
		if last, ok := lastOf[e.Recipient]; ok {
			if !created.After(last) || created.After(last.Add(time.Hour)) {
				t.Errorf("%s %s at %s: want within an hour after the contact's last event %s", e.Recipient, e.Type, created, last)
			}
		} else if strings.HasPrefix(e.Recipient, "contact-71000") {
			if created.Before(now) {
				t.Errorf("%s %s at %s: before the activity (%s)", e.Recipient, e.Type, created, now)
			}
		} else {
			t.Errorf("email event to %q: not a contact of the activity", e.Recipient)
		}
	}
	if perRecipient["one@example.com"] != 3 || perRecipient["two@example.com"] != 3 || perRecipient["three@example.com"] != 0 || perRecipient["contact-7100003@example.net"] != 5 {
		t.Errorf("email events per recipient: %v", perRecipient)
	}

	saved := filepath.Join(dir, "activity.json")
	if err := SaveActivity(saved, a); err != nil {
		t.Fatal(err)
	}
	back, err := LoadActivity(saved)
	if err != nil || back.Expected() != a.Expected() || len(back.KnownContacts) != 2 {
		t.Fatalf("loaded %+v, %v", back, err)
	}

	if _, err := MakeActivity(context.Background(), ActivityOptions{SandboxURL: base, Events: history, Known: 4, Now: now}, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "at most the history's") {
		t.Errorf("4 known contacts of a history of 3: %v", err)
	}
}

// The report's HubSpot section reads the contacts' properties from the
// sandbox's CRM API: what the batch update stored, and an unset property
// (null in HubSpot) shown as such, not as 0.
func TestHubSpotReport(t *testing.T) {
	sb, base := testSandbox(t, "")
	ctx := context.Background()
	cfgPath := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(`sink: hubspot
hubspot: {base_url: "`+base+`"}
senders: [{owner_id: "u-1", user_id: "101", email: "ana@example.com"}]
routes: [{model: engagement, sequence_id: "9001"}]
writeback: {min_delta: 0, models: [engagement]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := enrollment.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	client, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: base, Token: "t", RequestsPerInterval: 100, Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateContactPropertyGroup(ctx, hubspot.PropertyGroup{Name: "scorebridge", Label: "scorebridge"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []hubspot.Property{
		{Name: "scorebridge_engagement_score", Type: "number", FieldType: "number"},
		{Name: "scorebridge_engagement_threshold", Type: "string", FieldType: "text"},
		{Name: "scorebridge_engagement_crossed_at", Type: "datetime", FieldType: "date"},
		{Name: "scorebridge_engagement_top", Type: "string", FieldType: "text"},
	} {
		p.Label, p.GroupName = p.Name, "scorebridge"
		if _, err := client.CreateContactProperty(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.BatchUpdateContacts(ctx, []hubspot.BatchInput{{ID: "c-000001", Properties: map[string]string{
		"scorebridge_engagement_score": "44", "scorebridge_engagement_threshold": "default", "scorebridge_engagement_top": "call_started 30; email_opened 14"}}}); err != nil {
		t.Fatal(err)
	}
	metrics := func(setup func(reg *prometheus.Registry)) string {
		reg := prometheus.NewRegistry()
		setup(reg)
		srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	bridgeURL := metrics(func(reg *prometheus.Registry) {
		writes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_writeback_writes_total", Help: "h"}, []string{"object", "result"})
		calls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_writeback_calls_total", Help: "h"}, []string{"object", "result"})
		reg.MustRegister(writes, calls)
		writes.WithLabelValues("contacts", "ok").Add(1)
		calls.WithLabelValues("contacts", "ok").Add(1)
	})
	ingestURL := metrics(func(reg *prometheus.Registry) {
		produced := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_ingest_produced_total", Help: "h"}, []string{"source"})
		reg.MustRegister(produced)
		produced.WithLabelValues("webhook").Add(4)
		produced.WithLabelValues("email").Add(6)
	})
	var out bytes.Buffer
	err = HubSpotReport(ctx, HubSpotReportOptions{URLs: LoopURLs{Bridge: bridgeURL, Ingest: ingestURL, Sandbox: base}, Token: "t", Bridge: cfg,
		Activity: &Activity{NewContacts: []string{"7100001"}, KnownContacts: []string{"c-000002"}}, Example: "c-000001"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	report := out.String()
	for _, want := range []string{
		"4 webhook events and 6 email events produced",
		"1 contact writes in 1 batch calls (0 failed); the sandbox applied 1 batch updates and holds properties of 1 contacts",
		"scorebridge_{model}_score",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	rows := map[string][]string{}
	for _, l := range strings.Split(report, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = f
		}
	}
	if r := rows["c-000001"]; len(r) < 4 || !strings.Contains(strings.Join(r, " "), "44 default call_started 30; email_opened 14") {
		t.Errorf("c-000001's row: %q", r)
	}
	if r := rows["7100001"]; !strings.Contains(strings.Join(r, " "), "(empty) (empty) (empty)") {
		t.Errorf("7100001 has no properties: its row %q", r)
	}
	_ = sb
}
