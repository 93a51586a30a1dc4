package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/stream"
)

// stateCompanyScores reads the company-scores topic to its end and prints
// the latest message of every company, sorted by company. With --events
// it also checks every company's latest message against the backtest's
// company lines of that history (accounts.Companies: score, rollup,
// coverage, members and counted members, top members); the threshold
// state is not compared, as company crossings follow the order the
// aggregator received its changes in.
func stateCompanyScores(args []string, stdout, stderr io.Writer) error {
	fs := flags("state company-scores", stderr)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "with --events: the rules the scorer runs (repeatable)")
	brokers := fs.String("brokers", envOr("KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka brokers (env KAFKA_BROKERS)")
	topic := fs.String("topic", envOr("COMPANY_SCORES_TOPIC", "company-scores"), "the company-scores topic (env COMPANY_SCORES_TOPIC)")
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
	latest := map[string]companyscores.Message{}
	messages, bad := 0, 0
	n, err := readTopic(ctx, strings.Split(*brokers, ","), *topic, func(m stream.Record) error {
		messages++
		msg, ok, err := companyscores.Decode(m.Key, m.Value)
		switch {
		case err != nil:
			bad++
			fmt.Fprintf(stderr, "%s/%d offset %d: %v\n", m.Topic, m.Partition, m.Offset, err)
		case !ok:
			delete(latest, string(m.Key))
		default:
			latest[msg.CompanyID] = msg
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
	fmt.Fprintf(stderr, "%d companies from %d messages in %d partitions of %s", len(latest), messages, n, *topic)
	if bad > 0 {
		fmt.Fprintf(stderr, ", %d malformed", bad)
	}
	fmt.Fprintln(stderr)
	var problems []string
	if bad > 0 {
		problems = append(problems, fmt.Sprintf("%d malformed messages", bad))
	}
	if *history != "" {
		differ, missing, err := compareCompanyScores(*history, rulePaths, latest, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "against the backtest of %s: %d companies differ, %d missing from the topic\n", *history, differ, missing)
		if differ+missing > 0 {
			problems = append(problems, "the company-scores topic differs from the backtest")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func compareCompanyScores(history string, rulePaths []string, latest map[string]companyscores.Message, stderr io.Writer) (differ, missing int, err error) {
	e, err := loadEngine(rulePaths, stderr)
	if err != nil {
		return 0, 0, err
	}
	set := e.Rules
	if len(set.Companies) == 0 {
		return 0, 0, errors.New("the rules have no company model")
	}
	f, err := os.Open(history)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var evs []events.Event
	if err := events.NewReader(f).Each(func(ev events.Event) error { evs = append(evs, ev); return nil }, func(*events.LineError) {}); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", history, err)
	}
	want := map[string]map[string]accounts.Score{}
	for _, s := range accounts.Companies(set, evs) {
		if want[s.CompanyID] == nil {
			want[s.CompanyID] = map[string]accounts.Score{}
		}
		want[s.CompanyID][s.Model] = s
	}
	ids := sortedKeys(want)
	for id := range latest {
		if want[id] == nil {
			ids = append(ids, id) // on the topic, no member left: scores of nothing
		}
	}
	for _, id := range ids {
		got, ok := latest[id]
		if !ok {
			missing++
			fmt.Fprintf(stderr, "  %s: no message on the topic\n", id)
			continue
		}
		for _, cm := range set.Companies {
			ref, ok := want[id][cm.Name]
			if !ok {
				ref = accounts.Evaluate(cm, id, nil)
			}
			if why := companyDiffers(got.Models[cm.Name], ref); why != "" {
				differ++
				fmt.Fprintf(stderr, "  %s %s: %s\n", id, cm.Name, why)
				break
			}
		}
	}
	return differ, missing, nil
}

// companyDiffers says how a message's model differs from the reference;
// "" when it does not.
func companyDiffers(got companyscores.Model, ref accounts.Score) string {
	counted := 0
	for _, c := range ref.Contacts {
		if c.Counted {
			counted++
		}
	}
	var top []companyscores.Contact
	for _, c := range accounts.Top(ref) {
		top = append(top, companyscores.Contact{ContactID: c.ContactID, Score: rules.Float(c.Score), Role: c.Role})
	}
	switch {
	case got.Score != rules.Float(ref.Score):
		return fmt.Sprintf("score %v, backtest %v", got.Score, rules.Float(ref.Score))
	case got.Rollup != rules.Float(ref.Rollup):
		return fmt.Sprintf("rollup %v, backtest %v", got.Rollup, rules.Float(ref.Rollup))
	case !slices.Equal(got.Coverage, append([]string{}, ref.Coverage...)):
		return fmt.Sprintf("coverage %v, backtest %v", got.Coverage, ref.Coverage)
	case got.Members != len(ref.Contacts) || got.Counted != counted:
		return fmt.Sprintf("%d members (%d counted), backtest %d (%d)", got.Members, got.Counted, len(ref.Contacts), counted)
	case !slices.Equal(got.Top, top) && !(len(got.Top) == 0 && len(top) == 0):
		return fmt.Sprintf("top %v, backtest %v", got.Top, top)
	}
	return ""
}
