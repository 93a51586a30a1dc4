package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot"
)

// The HubSpot-shaped part of the demo. The generated history is the
// backfill, produced straight to Kafka; on top of it, activity happens in
// HubSpot (the sandbox): contacts are created and edited there, which
// sends signed webhooks to `bridge ingest`, and their marketing emails are
// opened and clicked, which the sandbox serves on its email events API for
// ingest's poller. Ingest produces those as events, the scorer scores them
// with the rest, publishes lead-scores, and the bridge's write-back puts
// the scores into the sandbox's contact properties, where the report reads
// them back.

// Activity is what the demo did in HubSpot, saved for the wait and the
// report.
type Activity struct {
	// NewContacts were created in HubSpot (numeric ids, as HubSpot's).
	NewContacts []string `json:"new_contacts"`
	// KnownContacts are contacts of the history who opened and clicked
	// HubSpot emails after their last event of the history.
	KnownContacts []string `json:"known_contacts"`
	Webhooks      int      `json:"webhook_events"` // webhook items the sandbox sends
	EmailEvents   int      `json:"email_events"`   // email events on its events API
	HistoryEvents int      `json:"history_events"` // lines of the history
}

// Expected is the number of events ingest must produce: every webhook item
// and every email event the demo makes maps to one event.
func (a *Activity) Expected() int { return a.Webhooks + a.EmailEvents }

// ActivityOptions say where and how much.
type ActivityOptions struct {
	SandboxURL string // the sandbox's base URL (admin endpoints, no token)
	Events     string // the history
	New        int    // contacts created in HubSpot
	Known      int    // contacts of the history who open HubSpot emails
	Now        time.Time
}

// firstNewContact is the id of the first contact the demo creates in
// HubSpot: numeric, as HubSpot's ids are, and far from the history's
// c-000001 ids.
const firstNewContact = 7_100_001

// MakeActivity creates and edits contacts in the sandbox (webhooks to
// ingest) and gives its email events API opens, clicks and deliveries.
// The events of known contacts are dated a few minutes after their last
// event of the history, so their windows stay where the history left
// them; those of new contacts are dated now, after their creation.
func MakeActivity(ctx context.Context, o ActivityOptions, w io.Writer) (*Activity, error) {
	total, ids, last, err := historyEnds(o.Events)
	if err != nil {
		return nil, err
	}
	if o.New < 0 || o.Known < 0 || o.Known > len(ids) {
		return nil, fmt.Errorf("activity: %d new contacts and %d of the history's %d contacts: want 0 or more, at most the history's", o.New, o.Known, len(ids))
	}
	a := &Activity{HistoryEvents: total}
	if o.Known > 0 {
		step := len(ids) / o.Known
		for i := 0; i < o.Known; i++ {
			a.KnownContacts = append(a.KnownContacts, ids[i*step])
		}
	}
	type emailEvent struct {
		Type      string    `json:"type"`
		ContactID string    `json:"contactId"`
		Created   time.Time `json:"created"`
		URL       string    `json:"url,omitempty"`
	}
	var evs []emailEvent
	for i, id := range a.KnownContacts {
		t := last[id].Add(time.Duration(5+i%20) * time.Minute)
		evs = append(evs, emailEvent{Type: "DELIVERED", ContactID: id, Created: t},
			emailEvent{Type: "OPEN", ContactID: id, Created: t.Add(3 * time.Minute)},
			emailEvent{Type: "CLICK", ContactID: id, Created: t.Add(4 * time.Minute), URL: "https://example.com/pricing"})
	}
	for i := 0; i < o.New; i++ {
		id := strconv.Itoa(firstNewContact + i)
		a.NewContacts = append(a.NewContacts, id)
		// A form fill creates the contact; a rep qualifies it in the CRM.
		if err := adminPost(ctx, o.SandboxURL+"/_sandbox/crm/contacts/"+id+"/create", nil); err != nil {
			return nil, err
		}
		props := map[string]string{"firstname": "New", "lastname": "Lead " + id, "lifecyclestage": "lead"}
		if err := adminPost(ctx, o.SandboxURL+"/_sandbox/crm/contacts/"+id+"/properties", props); err != nil {
			return nil, err
		}
		a.Webhooks += 1 + len(props)
		// Then the welcome emails: 1 to 5 opens, a click for every other.
		t := o.Now.Add(time.Duration(i) * time.Second)
		evs = append(evs, emailEvent{Type: "DELIVERED", ContactID: id, Created: t})
		for k := 0; k <= i%5; k++ {
			evs = append(evs, emailEvent{Type: "OPEN", ContactID: id, Created: t.Add(time.Duration(k+1) * 10 * time.Millisecond)})
		}
		if i%2 == 0 {
			evs = append(evs, emailEvent{Type: "CLICK", ContactID: id, Created: t.Add(100 * time.Millisecond), URL: "https://example.com/docs"})
		}
	}
	// One call: the poller reads events in created order from its cursor,
	// so events must not appear behind it.
	if len(evs) > 0 {
		if err := adminPost(ctx, o.SandboxURL+"/_sandbox/email-events", evs); err != nil {
			return nil, err
		}
	}
	a.EmailEvents = len(evs)
	fmt.Fprintf(w, "HubSpot: %d contacts created and qualified in the sandbox (%d signed webhook events to bridge ingest);\n", len(a.NewContacts), a.Webhooks)
	fmt.Fprintf(w, "  %d email events on its email events API (deliveries, opens, clicks) of those and %d contacts of the history\n", a.EmailEvents, len(a.KnownContacts))
	return a, nil
}

// historyEnds reads the history: its line count, its contact ids (sorted)
// and each contact's latest event time.
func historyEnds(path string) (int, []string, map[string]time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, nil, err
	}
	defer f.Close()
	last := map[string]time.Time{}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		n++
		var e struct {
			ContactID  string    `json:"contact_id"`
			OccurredAt time.Time `json:"occurred_at"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ContactID == "" {
			continue
		}
		if e.OccurredAt.After(last[e.ContactID]) {
			last[e.ContactID] = e.OccurredAt
		}
	}
	if err := sc.Err(); err != nil {
		return 0, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	ids := make([]string, 0, len(last))
	for id := range last {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return n, ids, last, nil
}

// adminPost posts body as JSON to one of the sandbox's admin endpoints.
func adminPost(ctx context.Context, url string, body any) error {
	data := []byte("{}")
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("POST %s: %s %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// SaveActivity and LoadActivity keep the activity between the demo's steps.
func SaveActivity(path string, a *Activity) error {
	data, _ := json.MarshalIndent(a, "", "  ")
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func LoadActivity(path string) (*Activity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var a Activity
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &a, nil
}

// LoopURLs are the services of the loop.
type LoopURLs struct{ Scorer, Bridge, Ingest, Sandbox string }

// WaitLoop waits until ingest has produced every event of the activity,
// the scorer has read them after the history, the bridge has decided every
// crossing and the write-back has nothing pending or unread, three equal
// scrapes in a row (more than the demo's flush interval of 2 s).
func WaitLoop(ctx context.Context, u LoopURLs, a *Activity, timeout time.Duration, w io.Writer) error {
	start := time.Now()
	last, stable := "", 0
	for {
		s, err1 := Scrape(ctx, u.Scorer)
		b, err2 := Scrape(ctx, u.Bridge)
		in, err3 := Scrape(ctx, u.Ingest)
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("reading metrics: %w", err)
		}
		produced := in.Sum("bridge_ingest_produced_total")
		read := s.Sum("scorer_events_total")
		crossings, decided := s.Sum("scorer_crossings_total"), b.Sum("bridge_crossings_total")
		pending := b.Sum("bridge_writeback_pending_contacts") + b.Sum("bridge_writeback_pending_companies")
		wlag := b.Sum("bridge_writeback_consumer_lag") // contacts' and companies'
		writes := b.Sum("bridge_writeback_writes_total")
		line := fmt.Sprintf("[%3.0fs] ingest produced %.0f/%d | scorer read %.0f/%.0f | crossings %.0f, decided %.0f | write-back: %.0f contact and company writes, %.0f pending, lag %.0f",
			time.Since(start).Seconds(), produced, a.Expected(), read, float64(a.HistoryEvents)+produced, crossings, decided, writes, pending, wlag)
		done := produced >= float64(a.Expected()) && read >= float64(a.HistoryEvents)+produced && decided >= crossings &&
			b.Sum("bridge_consumer_lag") == 0 && b.Sum("bridge_outbox_decisions") == 0 && pending == 0 && wlag == 0
		key := fmt.Sprint(produced, read, decided, writes)
		if done && key == last {
			stable++
		} else {
			stable = 0
		}
		last = key
		if stable >= 3 {
			fmt.Fprintln(w, line)
			return nil
		}
		if int(time.Since(start).Seconds())%5 == 0 {
			fmt.Fprintln(w, line)
		}
		if time.Since(start) > timeout {
			fmt.Fprintln(w, line)
			return fmt.Errorf("the HubSpot loop is not done after %s: ingest produced %.0f of %d events, the scorer read %.0f of %.0f, write-back pending %.0f, lag %.0f",
				timeout, produced, a.Expected(), read, float64(a.HistoryEvents)+produced, pending, wlag)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// HubSpotReportOptions say where the report's HubSpot section reads.
type HubSpotReportOptions struct {
	URLs     LoopURLs
	Token    string // the sandbox's token: the report reads contacts as any HubSpot client would
	Bridge   *enrollment.Config
	Activity *Activity
	Example  string // a contact of the history enrolled in a sequence
}

// HubSpotReport prints what went through HubSpot: webhooks and email
// events ingested, write-back calls, and a few contacts' properties as
// HubSpot holds them (GET /crm/v3/objects/contacts/{id} on the sandbox).
func HubSpotReport(ctx context.Context, o HubSpotReportOptions, w io.Writer) error {
	if o.Bridge.Writeback == nil {
		return errors.New("the bridge's configuration has no writeback section")
	}
	b, err1 := Scrape(ctx, o.URLs.Bridge)
	in, err2 := Scrape(ctx, o.URLs.Ingest)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	var hooks struct{ Delivered, Failed, Attempts int }
	if err := getJSON(ctx, o.URLs.Sandbox+"/_sandbox/webhooks", &hooks); err != nil {
		return err
	}
	var crm struct {
		BatchUpdates int `json:"batch_updates"`
		Contacts     int `json:"contacts_with_properties"`
		// The company write-back's, when on.
		CompanyBatchUpdates int `json:"company_batch_updates"`
		Companies           int `json:"companies_with_properties"`
	}
	if err := getJSON(ctx, o.URLs.Sandbox+"/_sandbox/crm/stats", &crm); err != nil {
		return err
	}
	a := o.Activity
	fmt.Fprintf(w, "From HubSpot (the sandbox) through bridge ingest: %d webhook deliveries (%d failed), %.0f webhook events and %.0f email events produced, %.0f ignored, %.0f dead-lettered, %.0f loop-guarded\n",
		hooks.Delivered, hooks.Failed, in.Sum("bridge_ingest_produced_total", "source", "webhook"), in.Sum("bridge_ingest_produced_total", "source", "email"),
		in.Sum("bridge_ingest_ignored_total"), in.Sum("bridge_ingest_dead_lettered_total"), in.Sum("bridge_ingest_loop_guard_dropped_total"))
	fmt.Fprintf(w, "  (%d contacts created and qualified in HubSpot, %d contacts of the history opening HubSpot emails after it)\n", len(a.NewContacts), len(a.KnownContacts))
	fmt.Fprintf(w, "Write-back into HubSpot contact properties (bridge_writeback_*): %.0f contact writes in %.0f batch calls (%.0f failed); the sandbox applied %d batch updates and holds properties of %d contacts\n",
		b.Sum("bridge_writeback_writes_total", "object", "contacts", "result", "ok"), b.Sum("bridge_writeback_calls_total", "object", "contacts"),
		b.Sum("bridge_writeback_writes_total", "object", "contacts", "result", "failed"), crm.BatchUpdates, crm.Contacts)
	if n := b.Sum("bridge_writeback_calls_total", "object", "companies"); n > 0 || crm.CompanyBatchUpdates > 0 {
		fmt.Fprintf(w, "  and into company properties: %.0f company writes in %.0f batch calls (%.0f failed); the sandbox holds properties of %d companies\n",
			b.Sum("bridge_writeback_writes_total", "object", "companies", "result", "ok"), n,
			b.Sum("bridge_writeback_writes_total", "object", "companies", "result", "failed"), crm.Companies)
	}

	client, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: o.URLs.Sandbox, Token: o.Token, RequestsPerInterval: 10, Interval: time.Second})
	if err != nil {
		return err
	}
	type pick struct{ id, from string }
	var picks []pick
	if o.Example != "" {
		picks = append(picks, pick{o.Example, "history, enrolled"})
	}
	for i, id := range a.KnownContacts {
		if i >= 2 {
			break
		}
		picks = append(picks, pick{id, "history + HubSpot emails"})
	}
	for i, id := range a.NewContacts {
		if i >= 2 {
			break
		}
		picks = append(picks, pick{id, "new in HubSpot"})
	}
	models := o.Bridge.Writeback.Models
	if len(models) == 0 {
		models = []string{"engagement", "intent"}
	}
	p := o.Bridge.Writeback.Properties
	fmt.Fprintf(w, "\nA few contacts as HubSpot holds them (GET %s/crm/v3/objects/contacts/{id}?properties=...; per model\n  the properties %s, %s and %s; %s is not shown):\n",
		o.URLs.Sandbox, p.Score, p.Threshold, p.Top, p.CrossedAt)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	head := "  contact\tfrom"
	var names []string
	for _, m := range models {
		for _, t := range []string{p.Score, p.Threshold, p.Top} {
			names = append(names, strings.ReplaceAll(t, "{model}", strings.ToLower(m)))
		}
		head += "\t" + m + "\tthreshold\ttop"
	}
	fmt.Fprintln(tw, head)
	for _, pk := range picks {
		c, err := client.GetContact(ctx, pk.id, names)
		if err != nil {
			return fmt.Errorf("contact %s: %w", pk.id, err)
		}
		row := "  " + pk.id + "\t" + pk.from
		for _, n := range names {
			row += "\t" + shown(c.Properties[n])
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

// shown marks an empty property value, which HubSpot answers as null.
func shown(v string) string {
	if v == "" {
		return "(empty)"
	}
	return v
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
