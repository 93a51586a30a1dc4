package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// stateScores reads the lead-scores topic to its end and prints the latest
// message of every contact, sorted by contact. With --events it also
// scores that history as `scorer backtest` does and checks that every
// contact's latest message says what the backtest's final state says
// (scores, threshold past, crossing time, top groups).
func stateScores(args []string, stdout, stderr io.Writer) error {
	fs := flags("state scores", stderr)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "with --events: the rules the scorer runs (repeatable)")
	brokers := fs.String("brokers", envOr("KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka brokers (env KAFKA_BROKERS)")
	topic := fs.String("topic", envOr("SCORES_TOPIC", "lead-scores"), "the lead-scores topic (env SCORES_TOPIC)")
	history := fs.String("events", "", "a JSONL history: check the topic against its backtest")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	ctx, cancel := stateContext(*timeout)
	defer cancel()
	latest := map[string]leadscores.Message{}
	messages, bad := 0, 0
	n, err := readTopic(ctx, strings.Split(*brokers, ","), *topic, func(m stream.Record) error {
		messages++
		msg, ok, err := leadscores.Decode(m.Key, m.Value)
		switch {
		case err != nil:
			bad++
			fmt.Fprintf(stderr, "%s/%d offset %d: %v\n", m.Topic, m.Partition, m.Offset, err)
		case !ok:
			delete(latest, string(m.Key))
		default:
			latest[msg.ContactID] = msg
		}
		return nil
	})
	if err != nil {
		return err
	}
	out := newJSONLines(stdout)
	for _, id := range sortedKeys(latest) {
		m := latest[id]
		if err := out.write(&m); err != nil {
			return err
		}
	}
	if err := out.flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%d contacts from %d messages in %d partitions of %s", len(latest), messages, n, *topic)
	if bad > 0 {
		fmt.Fprintf(stderr, ", %d malformed", bad)
	}
	fmt.Fprintln(stderr)
	var problems []string
	if bad > 0 {
		problems = append(problems, fmt.Sprintf("%d malformed messages", bad))
	}
	if *history != "" {
		differ, missing, extra, err := compareScores(*history, rulePaths, latest, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "against the backtest of %s: %d contacts differ, %d missing from the topic, %d on the topic only\n", *history, differ, missing, extra)
		if differ+missing+extra > 0 {
			problems = append(problems, "the lead-scores topic differs from the backtest")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func compareScores(history string, rulePaths []string, latest map[string]leadscores.Message, stderr io.Writer) (differ, missing, extra int, err error) {
	e, err := loadEngine(rulePaths, stderr)
	if err != nil {
		return 0, 0, 0, err
	}
	f, err := os.Open(history)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	s := scoring.NewScorer(e)
	seen := map[string]bool{}
	_, err = backtest.Run(e, f, func() (io.ReadCloser, error) { return os.Open(history) }, backtest.Options{
		State: func(id string, c *scoring.Contact) error {
			seen[id] = true
			want := leadscores.Build(s, id, "", c)
			got, ok := latest[id]
			switch {
			case !ok:
				missing++
				fmt.Fprintf(stderr, "  %s: no message on the topic\n", id)
			case !leadscores.SameScores(&got, &want):
				differ++
				fmt.Fprintf(stderr, "  %s: topic %s\n  %s: backtest %s\n", id, leadscores.Marshal(&got), id, leadscores.Marshal(&want))
			}
			return nil
		},
	}, func(backtest.Line) error { return nil })
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %w", history, err)
	}
	for id := range latest {
		if !seen[id] {
			extra++
		}
	}
	return differ, missing, extra, nil
}
