package scorer

import (
	"context"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// A rule reload republishes lead-scores without any new event: after the
// intent model is retired, every contact's latest message says what the
// backtest under the new rules says (its rule_version, its models), and
// the messages published under the old rules said the old ones. Each
// contact is republished once; a second reload to the same rules
// publishes nothing.
func TestReloadRepublishesLeadScores(t *testing.T) {
	e := setup(t, 120)
	p := e.processor(t, nil)
	p.cfg.ScoresTopic = "lead-scores"
	g := e.consumer(t, p)
	ctx, cancel := context.WithCancel(ctxFor(t, 3*time.Minute))
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	}()
	for {
		ok, err := e.committedAll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkScoresTopic(t, e, true)
	before := len(readTopic(t, e.brokers, "lead-scores", partitions))

	set, err := rules.Load("../testdata/rules/engagement.yaml")
	if err != nil {
		t.Fatal(err)
	}
	engine, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	if set.Version == e.engine.Rules.Version {
		t.Fatal("the new rules have the old version")
	}
	// What Service.reload does.
	p.SetEngine(engine)
	n, err := p.Republish(ctxFor(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	e.engine = engine
	checkScoresTopic(t, e, false)
	after := readTopic(t, e.brokers, "lead-scores", partitions)
	republished := map[string]int{}
	for _, m := range after {
		msg, ok, err := leadscores.Decode(m.Key, m.Value)
		if err != nil || !ok {
			t.Fatalf("message %q: %v", m.Value, err)
		}
		if msg.RuleVersion == set.Version {
			republished[msg.ContactID]++
		}
	}
	for id, k := range republished {
		if k != 1 {
			t.Errorf("%s republished %d times", id, k)
		}
	}
	if n != len(after)-before || n != len(republished) || n == 0 {
		t.Errorf("Republish says %d, the topic grew by %d, %d contacts under the new rules", n, len(after)-before, len(republished))
	}
	if n, err := p.Republish(ctxFor(t, time.Minute)); err != nil || n != 0 {
		t.Errorf("a second republish under the same rules published %d (%v), want 0", n, err)
	}
	t.Logf("%d messages before the reload, %d republished", before, n)
}
