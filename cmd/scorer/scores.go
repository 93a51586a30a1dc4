package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/internal/cli"
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
	return stateLatest(args, stdout, stderr, latestTopic[leadscores.Message]{
		cmd: "state scores", what: "lead-scores", env: "SCORES_TOPIC", noun: "contacts",
		decode: leadscores.Decode,
		id:     func(m *leadscores.Message) string { return m.ContactID },
		check: func(history string, rulePaths []string, latest map[string]leadscores.Message, stderr io.Writer) (string, bool, error) {
			differ, missing, extra, err := compareScores(history, rulePaths, latest, stderr)
			return fmt.Sprintf("%d contacts differ, %d missing from the topic, %d on the topic only", differ, missing, extra), differ+missing+extra > 0, err
		},
	})
}

// latestTopic is what stateLatest needs to know of a compacted topic of
// messages M keyed by id: its name and env variable, how to decode and
// key a message, and how to check the latest messages against a history.
type latestTopic[M any] struct {
	cmd, what, env, noun string
	decode               func(key, value []byte) (M, bool, error)
	id                   func(*M) string
	// check returns what it found ("N contacts differ, ...") and whether
	// the topic differs from the backtest of history.
	check func(history string, rulePaths []string, latest map[string]M, stderr io.Writer) (string, bool, error)
}

// stateLatest reads t's topic to its end and prints the latest message of
// every id, sorted by id; with --events it runs t.check on them. A
// tombstone (a nil value) removes its key.
func stateLatest[M any](args []string, stdout, stderr io.Writer, t latestTopic[M]) error {
	fs := flags(t.cmd, stderr)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "with --events: the rules the scorer runs (repeatable)")
	brokers := cli.Brokers(fs, "Kafka brokers (env KAFKA_BROKERS)")
	topic := fs.String("topic", envOr(t.env, t.what), fmt.Sprintf("the %s topic (env %s)", t.what, t.env))
	history := fs.String("events", "", "a JSONL history: check the topic against its backtest")
	timeout := cli.Duration(fs, "timeout", "", 2*time.Minute, "give up after this long")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := stateContext(*timeout)
	defer cancel()
	latest := map[string]M{}
	messages, bad := 0, 0
	n, err := stream.ReadTopic(ctx, brokers(), *topic, func(m stream.Record) error {
		messages++
		msg, ok, err := t.decode(m.Key, m.Value)
		switch {
		case err != nil:
			bad++
			fmt.Fprintf(stderr, "%s/%d offset %d: %v\n", m.Topic, m.Partition, m.Offset, err)
		case !ok:
			delete(latest, string(m.Key))
		default:
			latest[t.id(&msg)] = msg
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
	fmt.Fprintf(stderr, "%d %s from %d messages in %d partitions of %s", len(latest), t.noun, messages, n, *topic)
	if bad > 0 {
		fmt.Fprintf(stderr, ", %d malformed", bad)
	}
	fmt.Fprintln(stderr)
	var problems []string
	if bad > 0 {
		problems = append(problems, fmt.Sprintf("%d malformed messages", bad))
	}
	if *history != "" {
		found, differs, err := t.check(*history, rulePaths, latest, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "against the backtest of %s: %s\n", *history, found)
		if differs {
			problems = append(problems, "the "+t.what+" topic differs from the backtest")
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
