package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/internal/cli"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scorer"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

func init() {
	register("state", "inspect what `scorer run` saved: state dump (changelog as backtest lines), state lag (committed offsets), state scores (lead-scores topic), state company-scores (company-scores topic)", stateCmd)
}

func stateCmd(args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "dump":
		return stateDump(args, stdout, stderr)
	case "lag":
		return stateLag(args, stdout, stderr)
	case "scores":
		return stateScores(args, stdout, stderr)
	case "company-scores":
		return stateCompanyScores(args, stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: scorer state dump --brokers B --topic CHANGELOG --rules R [--crossings-topic T [--events HISTORY]]")
	fmt.Fprintln(stderr, "       scorer state lag --brokers B --topic EVENTS --group G")
	fmt.Fprintln(stderr, "       scorer state scores --brokers B [--topic lead-scores] [--rules R --events HISTORY]")
	fmt.Fprintln(stderr, "       scorer state company-scores --brokers B [--topic company-scores] [--rules R --events HISTORY]")
	if sub == "" || sub == "-h" || sub == "--help" || sub == "help" {
		return exitError(2)
	}
	return fmt.Errorf("unknown subcommand %q", sub)
}

// stateDump reads a scorer changelog to its end, as an instance does on
// assignment, and prints every contact's scores as backtest lines sorted
// by contact and model, so `diff` against `scorer backtest` on the same
// history shows any difference. With --crossings-topic the lines carry
// the crossing times announced there (one per distinct crossing_id), as
// the backtest's do.
func stateDump(args []string, stdout, stderr io.Writer) error {
	fs := flags("state dump", stderr)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "the rules the scorer runs (repeatable): states are decoded with them")
	brokers := cli.Brokers(fs, "Kafka brokers (env KAFKA_BROKERS)")
	topic := fs.String("topic", envOr("SCORER_CHANGELOG_TOPIC", "engagement-events-scorer-state"), "the scorer's changelog topic")
	crossTopic := fs.String("crossings-topic", "", "also read this crossings topic and fill in each line's crossings")
	history := fs.String("events", "", "with --crossings-topic: a JSONL history; check the topic holds exactly the crossing ids the rules give on it")
	companiesTopic := fs.String("companies-topic", "", "with --crossings-topic and company models: the scorer's company topic; check the company crossings are the reference's over the changes it holds")
	timeout := cli.Duration(fs, "timeout", "", 2*time.Minute, "give up after this long")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	e, err := loadEngine(rulePaths, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := stateContext(*timeout)
	defer cancel()
	bs := brokers()
	states, bad, err := readStates(ctx, bs, *topic, e, stderr)
	if err != nil {
		return err
	}
	var cs *events.CrossingLog
	if *crossTopic != "" {
		cs = events.NewCrossingLog()
		if _, err := stream.ReadTopic(ctx, bs, *crossTopic, func(m stream.Record) error { cs.Add(m.Key, m.Value); return nil }); err != nil {
			return err
		}
	}
	var want map[string]bool
	if *history != "" {
		if cs == nil {
			return errors.New("--events needs --crossings-topic")
		}
		if want, err = expectedCrossings(*history, e.Rules); err != nil {
			return err
		}
	}
	if err := writeStateLines(stdout, e, states, cs); err != nil {
		return err
	}
	var problems []string
	if bad > 0 {
		problems = append(problems, fmt.Sprintf("%d unreadable states", bad))
	}
	if cs != nil {
		problems = append(problems, crossingProblems(stderr, cs, *crossTopic, states)...)
	}
	if *companiesTopic != "" {
		if cs == nil || len(e.Rules.Companies) == 0 {
			return errors.New("--companies-topic needs --crossings-topic and rules with a company model")
		}
		ps, err := companyCrossingProblems(ctx, bs, e.Rules, *crossTopic, *companiesTopic, stderr)
		if err != nil {
			return err
		}
		problems = append(problems, ps...)
	}
	if want != nil {
		missing, unexpected := cs.Compare(want)
		fmt.Fprintf(stderr, "crossing ids the rules give on %s: %d expected, %d missing from the topic, %d on the topic but not expected\n",
			*history, len(want), len(missing), len(unexpected))
		if len(missing) > 0 || len(unexpected) > 0 {
			problems = append(problems, "the crossings topic differs from the history's crossings")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// readStates reads a scorer changelog to its end (scorer.ReadStates),
// naming each state that cannot be decoded and the counts on stderr.
func readStates(ctx context.Context, brokers []string, topic string, e *scoring.Engine, stderr io.Writer) (map[string]*scoring.Contact, int, error) {
	bad := 0
	states, n, err := scorer.ReadStates(ctx, brokers, topic, e, func(m stream.Record, err error) {
		bad++
		fmt.Fprintf(stderr, "%s/%d offset %d: contact %q: %v\n", m.Topic, m.Partition, m.Offset, m.Key, err)
	})
	if err != nil {
		return nil, 0, err
	}
	fmt.Fprintf(stderr, "%d contact states from %d partitions of %s", len(states), n, topic)
	if bad > 0 {
		fmt.Fprintf(stderr, ", %d unreadable", bad)
	}
	fmt.Fprintln(stderr)
	return states, bad, nil
}

// writeStateLines prints every contact's scores as backtest lines sorted
// by contact and model, with the crossing times cs (when not nil) holds.
func writeStateLines(w io.Writer, e *scoring.Engine, states map[string]*scoring.Contact, cs *events.CrossingLog) error {
	out := newJSONLines(w)
	s := scoring.NewScorer(e)
	for _, id := range sortedKeys(states) {
		c := states[id]
		for mi, m := range e.Rules.Models {
			l := backtest.ScoreLine(s, id, c, mi, c.Latest)
			if cs != nil {
				if times := cs.Times(id, m.Name); len(times) > 0 {
					l.Crossings = times
				}
			}
			if err := out.write(l); err != nil {
				return err
			}
		}
	}
	return out.flush()
}

// crossingProblems reports on stderr what the crossings topic holds, and
// returns a problem if it contradicts itself or names contacts without
// state.
func crossingProblems(stderr io.Writer, cs *events.CrossingLog, topic string, states map[string]*scoring.Contact) []string {
	orphans := 0
	for id := range cs.Contacts() {
		if states[id] == nil {
			orphans++
		}
	}
	fmt.Fprintf(stderr, "crossings in %s: %d messages, %d distinct crossing ids, %d duplicates (same id, same crossing), %d conflicting, %d malformed, %d for contacts without state, %d of company models (not checked here)\n",
		topic, cs.Messages, cs.Distinct, cs.Duplicates, len(cs.Conflicts), cs.Malformed, orphans, cs.Companies)
	for _, c := range cs.Conflicts {
		fmt.Fprintln(stderr, "  conflict:", c)
	}
	if len(cs.Conflicts) > 0 || cs.Malformed > 0 || orphans > 0 {
		return []string{"inconsistent crossings"}
	}
	return nil
}

// expectedCrossings reads a history and names the crossings the rules
// give on it (a bad line: the scorer dead-letters it).
func expectedCrossings(path string, set *rules.Set) (map[string]bool, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var evs []events.Event
	err = events.NewReader(f).Each(func(ev events.Event) error { evs = append(evs, ev); return nil }, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return scoring.ExpectedCrossingIDs(set, evs), nil
}

// stateLag prints, per partition of the events topic, its end, the
// group's committed offset and the difference: what a restarted scorer
// would replay or still has to read.
func stateLag(args []string, stdout, stderr io.Writer) error {
	fs := flags("state lag", stderr)
	brokers := cli.Brokers(fs, "Kafka brokers (env KAFKA_BROKERS)")
	topic := fs.String("topic", envOr("EVENTS_TOPIC", "engagement-events"), "events topic (env EVENTS_TOPIC)")
	group := fs.String("group", envOr("SCORER_GROUP", "scorer"), "consumer group")
	timeout := cli.Duration(fs, "timeout", "", 30*time.Second, "give up after this long")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := stateContext(*timeout)
	defer cancel()
	bs := brokers()
	n, err := stream.Partitions(ctx, bs, *topic)
	if err != nil {
		return err
	}
	admin := stream.NewAdmin(bs)
	defer admin.Close()
	end, err := admin.EndOffsets(ctx, *topic, n)
	if err != nil {
		return err
	}
	committed, err := admin.CommittedOffsets(ctx, *group, *topic, n)
	if err != nil {
		return err
	}
	var total int64
	for p := range n {
		c, ok := committed[p]
		if !ok || c < 0 {
			c = -1
		}
		lag := end[p] - max(c, 0)
		total += lag
		fmt.Fprintf(stdout, "partition %d end %d committed %d lag %d\n", p, end[p], c, lag)
	}
	fmt.Fprintf(stdout, "total lag %d\n", total)
	return nil
}

// stateContext ends on the timeout or on ^C.
func stateContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, func() { cancel(); stop() }
}
