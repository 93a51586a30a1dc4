package scorer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/backtest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// getWithin is get with a deadline for the whole request, body included:
// a request not answered within d gives status 0 and the error.
func getWithin(t *testing.T, url string, d time.Duration) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: d}
	res, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err.Error()
	}
	return res.StatusCode, string(body)
}

// scorer run's HTTP side: ready once it holds its partitions, metrics, and
// the score endpoint answering backtest lines.
func TestServiceHTTP(t *testing.T) {
	e := setup(t, 30)
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := serve(t, ctx, Options{
		Brokers: e.brokers, EventsTopic: "events", CrossingsTopic: "crossings", DLQTopic: "dlq",
		ChangelogTopic: "states", Group: "scorer", Rules: []string{"../testdata/rules"},
		HTTP: "127.0.0.1:0", Log: zerolog.Nop(),
	})
	base := "http://" + addr
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get(t, base+"/readyz")
		if code == 200 && strings.Contains(body, "partitions [0 1 2 3]") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Wait until every event is scored, then compare one contact.
	for ok := false; !ok; {
		ok, _ = e.committedAll(ctx)
		time.Sleep(50 * time.Millisecond)
	}
	var want backtest.Line
	backtest.Run(e.engine, strings.NewReader(string(e.raw)), nil, backtest.Options{}, func(l backtest.Line) error {
		if l.ContactID == e.events[0].ContactID && l.Model == "engagement" {
			want = l
		}
		return nil
	})
	code, body := get(t, base+"/contacts/"+want.ContactID+"/score?model=engagement")
	var got backtest.Line
	if code != 200 || json.Unmarshal([]byte(body), &got) != nil || got.Score != want.Score || len(got.Groups) != len(want.Groups) {
		t.Errorf("score: %d %s; backtest %+v", code, body, want)
	}
	if code, body := get(t, base+"/contacts/nobody/score"); code != 404 || !strings.Contains(body, "not held by this instance") {
		t.Errorf("unknown contact: %d %s", code, body)
	}
	if code, _ := get(t, base+"/contacts/"+want.ContactID+"/score?as_of=yesterday"); code != 400 {
		t.Errorf("bad as_of: %d", code)
	}
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, `scorer_rule_version{version="`+e.engine.Rules.Version+`"} 1`) ||
		!strings.Contains(body, `scorer_events_total{outcome="scored"}`) {
		t.Errorf("metrics lack the rule version or event counts")
	}
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, "\nscorer_partitions_owned 4\n") || !strings.Contains(body, "\nscorer_events_partitions 4\n") {
		t.Errorf("metrics should say this instance owns the 4 partitions of 4")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("graceful stop: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("did not stop")
	}
}

// serve starts Run(ctx, o) and waits until it listens: its address, and
// the channel Run's error comes on.
func serve(t *testing.T, ctx context.Context, o Options) (addr string, done chan error) {
	t.Helper()
	ready := make(chan string, 1)
	done = make(chan error, 1)
	o.Ready = func(a string) { ready <- a }
	go func() { done <- Run(ctx, o) }()
	select {
	case addr = <-ready:
		return addr, done
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not listening")
	}
	return "", nil
}
