package demo

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/scorebridge/scorebridge/enrollment"
)

// A scrape of a real registry: counters and gauges by label, histograms
// ignored by Sum, labels matched exactly (not as substrings).
func TestScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scorer_events_total", Help: "h"}, []string{"outcome"})
	cross := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scorer_crossings_total", Help: "h"}, []string{"model", "threshold"})
	lag := prometheus.NewGauge(prometheus.GaugeOpts{Name: "scorer_consumer_lag", Help: "h"})
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "scorer_batch_seconds", Help: "h"})
	reg.MustRegister(events, cross, lag, hist)
	events.WithLabelValues("scored").Add(90)
	events.WithLabelValues("duplicate").Add(7)
	events.WithLabelValues("scored_later").Add(1000) // shares a prefix with "scored"
	cross.WithLabelValues("intent", "sales").Add(3)
	cross.WithLabelValues("engagement", "default").Add(5)
	cross.WithLabelValues("intent", "nurture").Add(4)
	lag.Set(12)
	hist.Observe(0.5)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	m, err := Scrape(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got, want float64
	}{
		{m.Sum("scorer_events_total"), 1097},
		{m.Sum("scorer_events_total", "outcome", "scored"), 90},
		{m.Sum("scorer_events_total", "outcome", "dead_letter"), 0},
		{m.Sum("scorer_consumer_lag"), 12},
		{m.Sum("scorer_crossings_total", "model", "intent"), 7},
		{m.Sum("no_such_metric"), 0},
	} {
		if c.got != c.want {
			t.Errorf("sum %v, want %v", c.got, c.want)
		}
	}
	var got []string
	for _, s := range m.Samples("scorer_crossings_total") {
		got = append(got, s.Labels["model"]+"/"+s.Labels["threshold"])
	}
	if strings.Join(got, " ") != "engagement/default intent/nurture intent/sales" {
		t.Errorf("samples in %v, want sorted by labels", got)
	}

	gone := httptest.NewServer(http.NotFoundHandler())
	defer gone.Close()
	if _, err := Scrape(context.Background(), gone.URL); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404 scrape: %v", err)
	}
}

// The notes quote the configuration the bridge runs with.
func TestNotes(t *testing.T) {
	cfg, err := enrollment.LoadConfig("../../../testdata/demo/bridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	WriteNotes(&b, Notes(cfg), []string{"held:business_hours", "held:quota", "excluded:conflicting_sequence", "suppressed:email_domain", "enrolled"})
	want := `  held:business_hours: the contact's local time is outside 07:00-22:00; released at the next opening
  held:quota: the owner's 80 enrollments (or 500-1000 inbox sends) of the last 24 h are used; released highest score first
  excluded:conflicting_sequence: no workflow for a contact in a sequence of the same theme (sequence 9002 and workflow 5001)
  suppressed: lifecycle stages customer, partner, evangelist, email domains competitor.com are never enrolled
`
	if b.String() != want {
		t.Errorf("notes:\n%s\nwant\n%s", b.String(), want)
	}

	// Another configuration, other notes: nothing is hard-coded.
	cfg.BusinessHours.Start, cfg.BusinessHours.End, cfg.BusinessHours.WeekdaysOnly = "09:00", "17:30", true
	for i := range cfg.Senders {
		cfg.Senders[i].DailyEnrollments, cfg.Senders[i].DailySends = 25, 200
	}
	cfg.CompanyExclusive = true
	b.Reset()
	WriteNotes(&b, Notes(cfg), []string{"held:business_hours", "held:quota", "excluded:company_active", "no_route"})
	for _, s := range []string{"outside 09:00-17:30 or on a weekend", "owner's 25 enrollments (or 200 inbox sends)",
		"another contact of the company", "none of the 6 routes"} { // 4 contact routes, 2 account routes
		if !strings.Contains(b.String(), s) {
			t.Errorf("notes lack %q:\n%s", s, b.String())
		}
	}
}

func TestLinesWriter(t *testing.T) {
	var b bytes.Buffer
	lw := &LinesWriter{W: &b, Max: 2, Prefix: "> "}
	for _, p := range []string{"one\ntw", "o\nthree\n", "four\nfive"} {
		if n, err := lw.Write([]byte(p)); err != nil || n != len(p) {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if b.String() != "> one\n> two\n" || lw.Dropped != 2 {
		t.Errorf("wrote %q, dropped %d; want two lines and two dropped (the partial line is not a line)", b.String(), lw.Dropped)
	}
}

func TestHistoryHelpers(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	hist := `{"id":"1","contact_id":"c-2","contact":{"email":"b@x.com"}}
{"id":"2","contact_id":"c-1"}

{"id":"3","contact_id":"c-1","contact":{"email":"a@x.com"}}
{"id":"4","contact_id":"c-2","contact":{"email":"other@x.com"}}
not json
`
	if err := os.WriteFile(events, []byte(hist), 0o644); err != nil {
		t.Fatal(err)
	}
	n, ids, err := CountEvents(events)
	if err != nil || n != 5 || strings.Join(ids, ",") != "c-1,c-2" {
		t.Errorf("CountEvents = %d, %v, %v; want 5 lines, c-1,c-2", n, ids, err)
	}
	config := filepath.Join(dir, "sandbox.yaml")
	if err := os.WriteFile(config, []byte("token: t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := SandboxContacts(config, events, &b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "token: t\n") || !strings.HasSuffix(b.String(),
		"contacts:\n  - {id: \"c-1\", email: \"a@x.com\"}\n  - {id: \"c-2\", email: \"b@x.com\"}\n") {
		t.Errorf("sandbox config:\n%s", b.String())
	}
	if err := os.WriteFile(config, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SandboxContacts(config, events, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "already has contacts") {
		t.Errorf("a config with contacts: %v", err)
	}
}
