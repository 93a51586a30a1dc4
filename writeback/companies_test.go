package writeback

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
	"github.com/scorebridge/scorebridge/stream"
)

// produceCompanies writes rounds of company-scores messages for companies
// 700.. : round r gives company i the score i%80 + r*7, past "warm" from
// round 1 on, with two top members and coverage.
func (e *env) produceCompanies(t *testing.T, companies, rounds int) []companyscores.Message {
	t.Helper()
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: e.brokers, Topic: "company-scores"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var msgs []companyscores.Message
	var out []stream.Record
	for r := range rounds {
		for i := range companies {
			m := companyscores.Message{CompanyID: fmt.Sprint(700 + i), UpdatedAt: t0.Add(time.Duration(r) * time.Minute), RuleVersion: "v1",
				Models: map[string]companyscores.Model{
					"acct": {Score: float64(i%80) + float64(r)*7, Rollup: float64(i % 80), Coverage: []string{"champion"}, Members: 3, Counted: 2,
						Top: []companyscores.Contact{{ContactID: "5001", Score: 30, Role: "champion"}, {ContactID: "5002", Score: float64(r)}}},
					"reach": {Score: 1, Coverage: []string{}, Top: []companyscores.Contact{}},
				}}
			if r > 0 {
				warm, at := "warm", t0.Add(time.Minute)
				mm := m.Models["acct"]
				mm.Threshold, mm.CrossedAt = &warm, &at
				m.Models["acct"] = mm
			}
			msgs = append(msgs, m)
			out = append(out, stream.Message(m.CompanyID, companyscores.Marshal(&m)))
		}
	}
	if err := p.Write(ctxFor(t, 30*time.Second), out...); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func companyConfig(t *testing.T) *Config {
	return config(t, func(c *Config) { c.Companies = &CompanyConfig{Models: []string{"acct"}} })
}

// checkCompanyProperties: every company's properties in the sandbox are
// those of its latest message, except deleted ones, which hold nothing.
func (e *env) checkCompanyProperties(t *testing.T, c *CompanyConfig, msgs []companyscores.Message, deleted map[string]bool) {
	t.Helper()
	latest := map[string]companyscores.Message{}
	for _, m := range msgs {
		latest[m.CompanyID] = m
	}
	for id, m := range latest {
		got, ok := e.sb.CompanyProperties(id)
		if deleted[id] {
			if ok {
				t.Errorf("deleted company %s has properties %v", id, got)
			}
			continue
		}
		want := c.companyPropertiesOf(&m)
		if len(want) != 6 {
			t.Fatalf("%d properties per company: %v", len(want), want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("company %s: %s = %q, want %q", id, k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Errorf("company %s: %d properties %v, want %v", id, len(got), got, want)
		}
	}
}

// The contacts' and the companies' writers at once, sharing one HubSpot
// client (one limiter) and one set of metrics, under HubSpot's 429s:
// backlogs of 3 rounds for 250 contacts and 250 companies end with every
// company's properties equal to its latest company-scores message (and
// every contact's to its lead-scores), in full batch calls; a deleted
// company is recorded as failed in the writeback table (object
// companies) without blocking the rest; both groups commit to the end;
// the metrics tell the objects apart.
func TestCompanyWriteback(t *testing.T) {
	store := openStore(t)
	e := newEnv(t, 2) // the sandbox answers 429 beyond 2 calls a second
	const n = 250
	e.produce(t, n, 3)
	msgs := e.produceCompanies(t, n, 3)
	e.sb.DeleteCompany("707")
	cfg := companyConfig(t)
	client := e.client(t, 20)
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	contacts := New(Options{Config: cfg, CRM: client, Recorder: store, Metrics: metrics, Log: zerolog.Nop(), Consumer: testGroup})
	companies := NewCompanies(Options{Config: cfg, CRM: client, Recorder: store, Metrics: metrics, Log: zerolog.Nop(), Consumer: testGroup})
	if companies.Object() != hubspot.ObjectCompanies || cfg.Companies.Group != DefaultCompanyGroup || cfg.Companies.Topic != "company-scores" {
		t.Fatalf("companies writer: %s, group %s, topic %s", companies.Object(), cfg.Companies.Group, cfg.Companies.Topic)
	}
	var wg sync.WaitGroup
	for _, w := range []*Writer{contacts, companies} {
		wg.Go(func() { e.runUntilCommitted(t, w, w.k.group) })
	}
	wg.Wait()
	e.checkCompanyProperties(t, cfg.Companies, msgs, map[string]bool{"707": true})
	e.checkProperties(t, cfg, nil)

	latest := map[string]companyscores.Message{}
	for _, m := range msgs {
		latest[m.CompanyID] = m
	}
	var last []companyscores.Message
	for _, id := range []string{"700", "707", "801", "949"} {
		last = append(last, latest[id])
	}
	check, err := VerifyCompanies(context.Background(), cfg.Companies, e.client(t, 1000), last)
	if err != nil || len(check.Problems) > 0 || check.Differ != 0 || len(check.Missing) != 1 || check.Missing[0] != "707" || check.Checked != 4 {
		t.Fatalf("VerifyCompanies: %+v, %v", check, err)
	}
	if got, _ := e.sb.CompanyProperties("949"); got["scorebridge_acct_top"] != "5001 30 (champion); 5002 2" || got["scorebridge_acct_coverage"] != "champion" ||
		got["scorebridge_acct_contacts"] != "2" || got["scorebridge_acct_threshold"] != "warm" || got["scorebridge_acct_score"] != "23" || got["scorebridge_reach_score"] != "" {
		t.Errorf("company 949 (249 %% 80 + 2 x 7 points; reach is not in companies.models): %v", got)
	}

	calls := e.sb.CompanyBatchUpdates()
	if calls > 2*((n+99)/100) {
		t.Errorf("%d company batch calls for %d companies: batches are not full", calls, n)
	}
	if st := e.sb.Stats(); st.RateLimited == 0 {
		t.Errorf("no 429 was answered: the test did not exercise them (%+v)", st)
	}
	rows, err := store.WritebackOf(context.Background(), "companies", "707")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || rows[len(rows)-1].Result != "failed" || !strings.Contains(rows[len(rows)-1].Error, "OBJECT_NOT_FOUND") {
		t.Fatalf("deleted company's rows: %+v", rows)
	}
	ok, err := store.WritebackOf(context.Background(), "companies", "708")
	if err != nil || len(ok) == 0 || ok[len(ok)-1].Result != "ok" || !strings.Contains(ok[len(ok)-1].Properties, `"scorebridge_acct_threshold":"warm"`) {
		t.Fatalf("company 708's rows: %+v, %v", ok, err)
	}
	if contactRows, err := store.Writeback(context.Background(), "5008"); err != nil || len(contactRows) == 0 || strings.Contains(contactRows[0].Properties, "acct") {
		t.Fatalf("contact 5008's rows: %+v, %v", contactRows, err)
	}
	if f := testutil.ToFloat64(metrics.Writes.WithLabelValues("companies", "failed")); f < 1 {
		t.Errorf("companies' failed writes: %v", f)
	}
	if f := testutil.ToFloat64(metrics.Writes.WithLabelValues("contacts", "failed")); f != 0 {
		t.Errorf("contacts' failed writes: %v, want 0", f)
	}
	if f := testutil.ToFloat64(metrics.Writes.WithLabelValues("companies", "ok")); f < n-1 {
		t.Errorf("companies' ok writes: %v", f)
	}
	if c := testutil.CollectAndCount(reg, "bridge_writeback_consumer_lag"); c != 2 {
		t.Errorf("%d consumer lag series, want one per object", c)
	}
	t.Logf("%d companies and %d contacts, 3 rounds: %d company and %d contact batch calls, sandbox %+v", n, n, calls, e.sb.BatchUpdates(), e.sb.Stats())
}

// While HubSpot fails every call, the companies' group commits nothing;
// a writer started after it writes everything.
func TestCompanyWritebackCommitsOnlyWritten(t *testing.T) {
	e := newEnv(t, 1000)
	msgs := e.produceCompanies(t, 120, 2)
	cfg := companyConfig(t)
	w1 := NewCompanies(Options{Config: cfg, CRM: e.client(t, 200), Log: zerolog.Nop(), Consumer: testGroup})
	if err := w1.EnsureProperties(context.Background(), []string{"acct"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sb.PatchFaults(sandbox.FaultsPatch{ErrorRate: ptr(1.0)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	if err := w1.Run(ctx, e.brokers); err != nil {
		t.Fatalf("a failing HubSpot stopped the write-back: %v", err)
	}
	cancel()
	if ok, err := e.committedTo(context.Background(), cfg.Companies.Group, "company-scores"); err != nil || ok {
		t.Fatalf("committed to the end while HubSpot failed every write (%v)", err)
	}
	if n := e.sb.CompanyBatchUpdates(); n != 0 {
		t.Fatalf("%d batch updates applied while failing", n)
	}
	if _, err := e.sb.PatchFaults(sandbox.FaultsPatch{ErrorRate: ptr(0.0)}); err != nil {
		t.Fatal(err)
	}
	w2 := NewCompanies(Options{Config: cfg, CRM: e.client(t, 200), Log: zerolog.Nop(), Consumer: testGroup})
	e.runUntilCommitted(t, w2, cfg.Companies.Group)
	e.checkCompanyProperties(t, cfg.Companies, msgs, nil)
}

// A company property that exists with another type stops the companies'
// write-back at start, naming it and the section to rename it in; a
// contact property of the same name is another property.
func TestCompanyWritebackPropertyTypeMismatch(t *testing.T) {
	e := newEnv(t, 1000)
	c := e.client(t, 200)
	ctx := context.Background()
	cfg := companyConfig(t)
	if err := New(Options{Config: cfg, CRM: c, Log: zerolog.Nop()}).EnsureProperties(ctx, []string{"acct"}); err != nil {
		t.Fatal(err) // contact properties named like the company ones, of the right types
	}
	if _, err := c.CreatePropertyGroup(ctx, hubspot.ObjectCompanies, hubspot.PropertyGroup{Name: "scorebridge", Label: "scorebridge"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateProperty(ctx, hubspot.ObjectCompanies, hubspot.Property{Name: "scorebridge_acct_contacts", Label: "x", Type: "string", FieldType: "text", GroupName: "scorebridge"}); err != nil {
		t.Fatal(err)
	}
	w := NewCompanies(Options{Config: cfg, CRM: c, Log: zerolog.Nop()})
	err := w.EnsureUntil(ctx, cfg.Companies.Models)
	if err == nil || !Permanent(err) || !strings.Contains(err.Error(), "scorebridge_acct_contacts is a string property in HubSpot, the write-back writes a number") ||
		!strings.Contains(err.Error(), "writeback.companies.properties") {
		t.Fatalf("EnsureUntil = %v", err)
	}
	if p, err := c.GetProperty(ctx, hubspot.ObjectCompanies, "scorebridge_acct_crossed_at"); err != nil || p.Type != "datetime" {
		t.Fatalf("crossed_at: %+v, %v", p, err)
	}
}
