package ingest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/scorer"
)

const hubspotRules = `model: hubspot
threshold: 100
groups:
  - name: job_title_changed
    when: event.type == "property_changed" && event.properties.name == "jobtitle"
    points: 5
  - name: email_opened
    when: event.type == "email_opened"
    points: 2
`

func scoreOf(t *testing.T, base, contact string) (int, float64, string) {
	t.Helper()
	res, err := http.Get(base + "/contacts/" + contact + "/score?model=hubspot")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var l struct{ Score float64 }
	json.Unmarshal(body, &l)
	return res.StatusCode, l.Score, string(body)
}

// A webhook HubSpot delivers twice and an email event read twice (the
// poller's cursor lost) are scored once by the real scorer: ingest gives
// them the same event ids, and the scorer's seen set does the rest.
func TestReplaysScoredOnce(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hubspot.yaml"), []byte(hubspotRules), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		done <- scorer.Run(ctx, scorer.Options{Brokers: e.brokers, EventsTopic: "events", CrossingsTopic: "crossings", DLQTopic: "events-dlq",
			Group: "scorer", Rules: []string{dir}, HTTP: "127.0.0.1:0", Log: zerolog.Nop(), Ready: func(a string) { addr <- a }})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scorer: %v", err)
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("scorer: %v", err)
	}
	uri := e.srv.URL + "/hubspot/webhooks"
	body := `[{"eventId":71,"subscriptionType":"contact.propertyChange","objectId":3201,"occurredAt":` +
		strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10) + `,"propertyName":"jobtitle","propertyValue":"CTO"}]`
	for range 2 {
		ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
		if c := e.post(t, body, ts, hubspot.SignV3([]byte(secret), "POST", uri, []byte(body), ts)); c != http.StatusOK {
			t.Fatalf("webhook: %d", c)
		}
	}
	e.admin(t, "/_sandbox/email-events", `[{"type":"OPEN","contactId":"3201","created":"`+time.Now().Add(-30*time.Second).UTC().Format(time.RFC3339)+`"}]`)
	p := e.poller(t, dir, nil)
	p.Since = time.Now().Add(-time.Hour)
	for range 2 {
		if n, err := p.Poll(context.Background()); err != nil || n != 1 {
			t.Fatalf("poll: %d, %v", n, err)
		}
		os.Remove(p.Cursor.Path) // lost: the next round reads the event again
	}
	if n := len(read(t, e.brokers, "events", 2)); n != 4 {
		t.Fatalf("%d events on the topic, want 4 (two deliveries, two reads)", n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, score, raw := scoreOf(t, base, "3201")
		if code == 200 && score == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("score of 3201: %d %s, want 7 (5 for the job title, 2 for the open, each once)", code, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Let the scorer read every message, then check the score held.
	time.Sleep(500 * time.Millisecond)
	if _, score, raw := scoreOf(t, base, "3201"); score != 7 {
		t.Fatalf("score moved to %s", raw)
	}
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(metrics), `scorer_events_total{outcome="duplicate"} 2`) {
		t.Errorf("the scorer did not count the two replays as duplicates")
	}
}
