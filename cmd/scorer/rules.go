package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/internal/dialect"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

func init() {
	register("rules check", "compile rule files and report every problem with file, line and group", rulesCheck)
	register("backtest", "score a JSONL history: one JSON line per (contact, model)", backtestCmd)
	register("explain", "take a contact's score apart, group by group and event by event", explainCmd)
}

func rulesCheck(args []string, stdout, stderr io.Writer) error {
	fs := flags("rules check", stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: scorer rules check PATH...") }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitError(2)
	}
	set, err := rules.Load(fs.Args()...)
	var ps rules.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(stderr, p)
		}
		fmt.Fprintf(stderr, "%d problems\n", len(ps))
		return exitError(1)
	}
	if err != nil {
		return err
	}
	if _, err := scoring.NewEngine(set); err != nil {
		return err
	}
	for _, m := range set.Models {
		fmt.Fprintf(stdout, "%s: %s: %d groups, %d thresholds\n", m.File, m.Name, len(m.Groups), len(m.Thresholds))
	}
	for _, c := range set.Companies {
		fmt.Fprintf(stdout, "%s: %s: company model from %s, rollup %s, %d thresholds\n", c.File, c.Name, c.From, c.Rollup, len(c.Thresholds))
	}
	if len(set.Companies) > 0 {
		fmt.Fprintf(stdout, "ok: %d models, %d company models, rules version %s\n", len(set.Models), len(set.Companies), set.Version)
		return nil
	}
	fmt.Fprintf(stdout, "ok: %d models, rules version %s\n", len(set.Models), set.Version)
	return nil
}

// loadEngine loads and indexes rules, printing every problem.
func loadEngine(paths []string, stderr io.Writer) (*scoring.Engine, error) {
	if len(paths) == 0 {
		return nil, errors.New("--rules is required")
	}
	set, err := rules.Load(paths...)
	if err != nil {
		return nil, fmt.Errorf("rules:\n%w", err)
	}
	return scoring.NewEngine(set)
}

// openInput opens a file, or stdin for "-".
func openInput(path string, stdin io.Reader) (io.Reader, func() (io.ReadCloser, error), func(), error) {
	if path == "-" {
		return stdin, nil, func() {}, nil
	}
	f, err := openFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	return f, func() (io.ReadCloser, error) { return openFile(path) }, func() { f.Close() }, nil
}

func backtestCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("backtest", stderr)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory (repeatable)")
	input := fs.String("events", "", "JSONL events file, or - for stdin")
	asOf := fs.String("as-of", "", "score at this RFC 3339 time (default: each contact's latest event)")
	stream := fs.Bool("stream", false, "score on one core (by default lines are decoded and contacts scored on every core)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *input == "" {
		return errors.New("--events is required (a JSONL file, or - for stdin)")
	}
	at, err := dialect.ParseTime(*asOf)
	if err != nil {
		return fmt.Errorf("--as-of %w", err)
	}
	e, err := loadEngine(rulePaths, stderr)
	if err != nil {
		return err
	}
	path, cleanup, err := spoolStdin(*input, e)
	if err != nil {
		return err
	}
	defer cleanup()
	in, reopen, done, err := openInput(path, stdin)
	if err != nil {
		return err
	}
	defer done()
	out := newJSONLines(stdout)
	opts := backtest.Options{
		AsOf:    at,
		BadLine: func(le *events.LineError) { fmt.Fprintln(stderr, le) },
	}
	emit := func(l backtest.Line) error { return out.write(l) }
	run := backtest.RunParallel // decoded and scored a shard per core
	if *stream {
		run = backtest.Run
	}
	sum, err := run(e, in, reopen, opts, emit)
	if err == nil {
		err = companyLines(e, path, at, out)
	}
	if ferr := out.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	reportSummary(stderr, sum)
	if sum.BadLines > 0 {
		return exitError(1)
	}
	return nil
}

func reportSummary(w io.Writer, s backtest.Summary) {
	fmt.Fprintf(w, "%d events, %d contacts, %d duplicates ignored", s.Events, s.Contacts, s.Duplicates)
	if s.Future > 0 {
		fmt.Fprintf(w, ", %d after --as-of", s.Future)
	}
	if s.BadLines > 0 {
		fmt.Fprintf(w, ", %d bad lines", s.BadLines)
	}
	if s.Reordered > 0 {
		fmt.Fprintf(w, ", %d contacts replayed in time order", s.Reordered)
	}
	fmt.Fprintln(w)
	if len(s.EvalErrors) == 0 {
		return
	}
	total := 0
	for _, n := range s.EvalErrors {
		total += n
	}
	fmt.Fprintf(w, "%d expression errors (each is no match for that event):", total)
	for _, k := range sortedKeys(s.EvalErrors) {
		fmt.Fprintf(w, " %s %d;", k, s.EvalErrors[k])
	}
	fmt.Fprintln(w)
	for _, ex := range s.Examples {
		fmt.Fprintf(w, "  e.g. %s\n", ex.Error())
	}
}

func explainCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("explain", stderr)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory (repeatable)")
	input := fs.String("events", "", "JSONL events file, or - for stdin")
	contact := fs.String("contact", "", "contact id")
	company := fs.String("company", "", "company id: explain its company models' scores instead")
	asOf := fs.String("as-of", "", "explain the score at this time, RFC 3339 or a date (default: the contact's latest event; with --company, events after it are ignored, as by backtest --as-of)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *input == "" || (*contact == "") == (*company == "") {
		return errors.New("--events and one of --contact or --company are required")
	}
	at, err := dialect.ParseTime(*asOf)
	if err != nil {
		return fmt.Errorf("--as-of %w", err)
	}
	e, err := loadEngine(rulePaths, stderr)
	if err != nil {
		return err
	}
	if *company != "" {
		return explainCompany(e, *input, *company, at, stdout, stderr)
	}
	in, _, done, err := openInput(*input, stdin)
	if err != nil {
		return err
	}
	defer done()
	bad := 0
	evs, err := backtest.Collect(in, *contact, func(*events.LineError) { bad++ })
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return fmt.Errorf("no events for contact %q in %s", *contact, *input)
	}
	if err := backtest.Explain(e, *contact, evs, at).Write(stdout, e.Rules); err != nil {
		return err
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "%d bad lines skipped (run backtest to list them)\n", bad)
	}
	return nil
}
