package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/internal/cli"
	"github.com/scorebridge/scorebridge/scorer"
	"github.com/scorebridge/scorebridge/scoring"
)

func init() {
	register("rescore", "before publishing: how new rules would move every contact's score and crossings", rescoreCmd)
}

func rescoreCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("rescore", stderr)
	var next, current listFlag
	fs.Var(&next, "rules", "the NEW rule file or directory (repeatable)")
	fs.Var(&current, "current", "the rules in production (repeatable; env SCORER_RULES, comma-separated)")
	input := fs.String("events", "", "the history: a JSONL events file, or - for stdin")
	dsn := fs.String("clickhouse", "", "or replay the history stored in ClickHouse (the touches the scorer recorded)")
	format := fs.String("format", "table", "table or json (one change per line, then a summary line)")
	top := fs.Int("top", 50, "table rows to show (largest moves first; 0: all)")
	apply := fs.Bool("apply", false, "rebuild the scorers' state under the new rules from the ClickHouse history (stop every scorer first; needs --clickhouse)")
	brokers := cli.Brokers(fs, "with --apply: Kafka brokers (env KAFKA_BROKERS)")
	eventsTopic := fs.String("events-topic", envOr("EVENTS_TOPIC", "engagement-events"), "with --apply: the scorers' events topic (env EVENTS_TOPIC)")
	changelog := fs.String("changelog-topic", envOr("SCORER_CHANGELOG_TOPIC", ""), "with --apply: the scorers' state topic (default EVENTS-TOPIC-scorer-state)")
	group := fs.String("group", envOr("SCORER_GROUP", "scorer"), "with --apply: the scorers' consumer group (env SCORER_GROUP)")
	companies := fs.String("companies-topic", envOr("COMPANIES_TOPIC", ""), "with --apply and company models: the scorers' company topic (env COMPANIES_TOPIC; default EVENTS-TOPIC-companies)")
	companyScores := fs.String("company-scores-topic", envOr("COMPANY_SCORES_TOPIC", "company-scores"), "with --apply and company models: the company-scores topic the scorers publish, republished under the new rules (env COMPANY_SCORES_TOPIC; empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(current) == 0 {
		if env := os.Getenv("SCORER_RULES"); env != "" {
			current = strings.Split(env, ",")
		}
	}
	if len(next) == 0 || len(current) == 0 || (*input == "") == (*dsn == "") {
		return errors.New("--rules NEW, --current RULES (or SCORER_RULES) and one history, --events FILE or --clickhouse DSN, are required")
	}
	if *apply && *dsn == "" {
		return errors.New("--apply rebuilds the live state from what the scorers recorded: it needs --clickhouse, not a file")
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format %q: want table or json", *format)
	}
	cur, err := loadEngine(current, stderr)
	if err != nil {
		return fmt.Errorf("current %w", err)
	}
	nxt, err := loadEngine(next, stderr)
	if err != nil {
		return fmt.Errorf("new %w", err)
	}
	open, cleanup, err := replayable(*input, *dsn)
	if err != nil {
		return err
	}
	defer cleanup()
	changes, sum, err := backtest.Rescore(cur, nxt, open, backtest.Options{
		BadLine: func(le *events.LineError) { fmt.Fprintln(stderr, le) },
	})
	if err != nil {
		return err
	}
	if err := printRescore(stdout, *format, *top, changes, sum, cur, nxt); err != nil {
		return err
	}
	if err := rescoreCompanies(stdout, *format, *top, cur, nxt, open); err != nil {
		return err
	}
	if !*apply {
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	n, err := scorer.Rebuild(ctx, scorer.RebuildOptions{
		Brokers: brokers(), EventsTopic: *eventsTopic, Changelog: *changelog, Group: *group, CompaniesTopic: *companies,
		CompanyScoresTopic: *companyScores,
	}, nxt, open)
	if err != nil {
		return fmt.Errorf("--apply: %w", err)
	}
	fmt.Fprintf(stderr, "rebuilt the state of %d contacts (and, with company models, the member trackers and company states) under rules %s; start the scorers with these rules (--rules %s)\n",
		n, nxt.Rules.Version, strings.Join(next, " --rules "))
	return nil
}

func printRescore(stdout io.Writer, format string, top int, changes []backtest.Change, sum backtest.RescoreSummary, cur, nxt *scoring.Engine) error {
	if format == "json" {
		out := newJSONLines(stdout)
		for _, c := range changes {
			out.write(c)
		}
		out.write(map[string]any{"summary": map[string]any{
			"contacts": sum.Contacts, "changed": sum.Changed, "newly_crossing": sum.NewlyCrossing,
			"no_longer_crossing": sum.NoLongerCrosses, "current_rules": cur.Rules.Version, "new_rules": nxt.Rules.Version,
		}})
		return out.flush()
	}
	fmt.Fprintf(stdout, "rules %s -> %s over %d contacts: %d (contact, model) pairs change (%d scores move), %d newly cross a threshold, %d no longer cross one\n",
		cur.Rules.Version, nxt.Rules.Version, sum.Contacts, sum.Changed, sum.Moved, sum.NewlyCrossing, sum.NoLongerCrosses)
	if len(changes) == 0 {
		return nil
	}
	return writeChangeTable(stdout, "\ncontact\tmodel\tcurrent\tnew\tdelta\tcrossings", changes, top, func(c backtest.Change) changeRow {
		return changeRow{c.ContactID, c.Model, c.Old, c.New, c.Delta, c.NewlyCrosses, c.NoLongerCrosses}
	})
}

// changeRow is one line of a rescore table: a contact's or a company's
// change under a model.
type changeRow struct {
	id, model       string
	old, new        *float64
	delta           float64
	newly, noLonger []string // thresholds newly crossed, no longer crossed
}

// writeChangeTable prints the changes as a table under header, the first
// top of them when top > 0; row gives a change's columns.
func writeChangeTable[C any](w io.Writer, header string, changes []C, top int, row func(C) changeRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for i, c := range changes {
		if top > 0 && i == top {
			fmt.Fprintf(tw, "... %d more (--top 0 for all, --format json for machines)\n", len(changes)-top)
			break
		}
		r := row(c)
		var x []string
		for _, t := range r.newly {
			x = append(x, "+"+t)
		}
		for _, t := range r.noLonger {
			x = append(x, "-"+t)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%+g\t%s\n", r.id, r.model, opt(r.old), opt(r.new), r.delta, strings.Join(x, " "))
	}
	return tw.Flush()
}

func opt(f *float64) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprint(*f)
}

// historyFile writes the touch history stored in ClickHouse to a temporary
// JSONL file, so that it is replayed exactly as a file would be.
func historyFile(dsn string) (string, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := openStore(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer s.Close()
	f, err := os.CreateTemp("", "scorer-history-*.jsonl")
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	err = s.History(ctx, func(ev events.Event) error { return enc.Encode(ev) })
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("reading the history from ClickHouse: %w", err)
	}
	return f.Name(), nil
}
