package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/stream"
)

// `state scores` and `state company-scores` print the latest message of
// every key sorted by key (a tombstone removes its key), count malformed
// messages on stderr and fail on them, and with --events check the topic
// against the backtest of that history.
func TestStateScoresAndCompanyScores(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "lead-scores", "company-scores", "empty-leads", "empty-companies"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	write := func(topic string, recs ...stream.Record) { writeTopic(ctx, t, c.ListenAddrs(), topic, recs...) }
	lead := func(id string, score float64) stream.Record {
		return stream.Record{Key: []byte(id), Value: leadscores.Marshal(&leadscores.Message{ContactID: id, RuleVersion: "v1", Models: map[string]leadscores.Model{"m": {Score: score}}})}
	}
	company := func(id string, score float64) stream.Record {
		return stream.Record{Key: []byte(id), Value: companyscores.Marshal(&companyscores.Message{CompanyID: id, RuleVersion: "v1", Models: map[string]companyscores.Model{"m": {Score: score}}})}
	}
	write("lead-scores", lead("c-2", 1), lead("c-1", 1), lead("c-2", 5), lead("c-3", 1), stream.Record{Key: []byte("c-3")},
		stream.Record{Key: []byte("c-9"), Value: []byte("{")})
	write("company-scores", company("b", 2), company("a", 1), company("x", 1), stream.Record{Key: []byte("x")})

	for _, tc := range []struct {
		name     string
		cmd      func([]string, *bytes.Buffer, *bytes.Buffer) error
		args     []string
		ids      []string
		lastLine string
		stderr   []string
		err      string
	}{
		{"scores", func(a []string, o, e *bytes.Buffer) error { return stateScores(a, o, e) },
			[]string{"--topic", "lead-scores"}, []string{`"contact_id":"c-1"`, `"contact_id":"c-2"`}, `"score":5`,
			[]string{"2 contacts from 6 messages in 2 partitions of lead-scores, 1 malformed\n", `lead-scores message for key "c-9"`}, "1 malformed messages"},
		{"company-scores", func(a []string, o, e *bytes.Buffer) error { return stateCompanyScores(a, o, e) },
			[]string{"--topic", "company-scores"}, []string{`"company_id":"a"`, `"company_id":"b"`}, `"score":2`,
			[]string{"2 companies from 4 messages in 2 partitions of company-scores\n"}, ""},
		{"scores against a history", func(a []string, o, e *bytes.Buffer) error { return stateScores(a, o, e) },
			[]string{"--topic", "empty-leads", "--rules", accountRules, "--events", acme}, nil, "",
			[]string{"0 contacts from 0 messages in 2 partitions of empty-leads\n", "against the backtest of " + acme + ": 0 contacts differ, ", " missing from the topic, 0 on the topic only\n"},
			"the lead-scores topic differs from the backtest"},
		{"company-scores against a history", func(a []string, o, e *bytes.Buffer) error { return stateCompanyScores(a, o, e) },
			[]string{"--topic", "empty-companies", "--rules", accountRules, "--events", acme}, nil, "",
			[]string{"0 companies from 0 messages in 2 partitions of empty-companies\n", "against the backtest of " + acme + ": 0 companies differ, ", " missing from the topic\n"},
			"the company-scores topic differs from the backtest"},
	} {
		var stdout, stderr bytes.Buffer
		err := tc.cmd(append([]string{"--brokers", brokers, "--timeout", "20s"}, tc.args...), &stdout, &stderr)
		if got := ""; err != nil {
			got = err.Error()
			if got != tc.err {
				t.Errorf("%s: error %q, want %q", tc.name, got, tc.err)
			}
		} else if tc.err != "" {
			t.Errorf("%s: no error, want %q", tc.name, tc.err)
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if len(tc.ids) == 0 && stdout.Len() == 0 {
			lines = nil
		}
		if len(lines) != len(tc.ids) {
			t.Fatalf("%s: stdout %q, want %d lines", tc.name, stdout.String(), len(tc.ids))
		}
		for i, id := range tc.ids {
			if !strings.Contains(lines[i], id) {
				t.Errorf("%s: line %d %q, want %s", tc.name, i, lines[i], id)
			}
		}
		if len(lines) > 0 && !strings.Contains(lines[len(lines)-1], tc.lastLine) {
			t.Errorf("%s: last line %q, want %s", tc.name, lines[len(lines)-1], tc.lastLine)
		}
		for _, s := range tc.stderr {
			if !strings.Contains(stderr.String(), s) {
				t.Errorf("%s: stderr %q, want %q", tc.name, stderr.String(), s)
			}
		}
	}
}

// writeTopic writes recs to topic, failing the test if it cannot.
func writeTopic(ctx context.Context, t *testing.T, brokers []string, topic string, recs ...stream.Record) {
	t.Helper()
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Write(ctx, recs...); err != nil {
		t.Fatal(err)
	}
}
