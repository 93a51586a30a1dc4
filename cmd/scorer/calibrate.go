package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/calibration"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

func init() {
	register("calibrate", "does the score predict conversions? AUC, bands and thresholds at a time T0, over a JSONL history", calibrateCmd)
	register("fit", "suggest points that predict conversions better (logistic fit, holdout AUC), as a rule file", fitCmd)
}

// queryFlags are the flags calibrate and fit share.
func queryFlags(fs interface {
	String(name, value, usage string) *string
	Int(name string, value int, usage string) *int
}) func() (calibration.Query, error) {
	asOf := fs.String("as-of", "", "score at this time T0 (RFC 3339 or YYYY-MM-DD; required)")
	conv := fs.String("conversion", "", "event type of a conversion, e.g. meeting_booked (required)")
	window := fs.String("window", "30d", "conversions counted in (T0, T0 + window]")
	bands := fs.Int("bands", calibration.DefaultBands, "score bands of equal size (ties kept in one band)")
	return func() (calibration.Query, error) { return calibration.ParseQuery(*asOf, *conv, *window, *bands) }
}

// reportCalibration is `scorer report calibration` (args[0] is
// "calibration"): calibrate over the history s stores, with the flags of
// the other reports (analytics.RunReport).
func reportCalibration(ctx context.Context, s *analytics.Store, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("report "+args[0], flag.ContinueOnError)
	fs.SetOutput(w)
	format := fs.String("format", "table", "output: table, csv or json")
	showSQL := fs.Bool("sql", false, "print the SQL before the report")
	var rulePaths, models listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory whose scores the ledger holds (repeatable, required)")
	fs.Var(&models, "model", "calibrate only this model (repeatable; default: every model)")
	asOf := fs.String("as-of", "", "score at this time T0 (RFC 3339 or YYYY-MM-DD; required)")
	conv := fs.String("conversion", analytics.DefaultConversion, "event type of conversions")
	window := fs.String("window", "30d", "conversions counted in (T0, T0 + window]")
	bands := fs.Int("bands", calibration.DefaultBands, "score bands of equal size (ties kept in one band)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	q, err := calibration.ParseQuery(*asOf, *conv, *window, *bands)
	if err != nil {
		return err
	}
	if len(rulePaths) == 0 {
		return errors.New("report calibration: --rules is required (the rules whose scores the ledger holds)")
	}
	set, err := rules.Load(rulePaths...)
	if err != nil {
		return fmt.Errorf("rules:\n%w", err)
	}
	if s == nil {
		return errors.New("report calibration: no ClickHouse connection")
	}
	rep, err := calibration.FromStore(ctx, s, calibration.StoredQuery{Query: q, Rules: set, Models: models})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("report calibration: unexpected arguments %q", fs.Args())
	}
	if *showSQL {
		for _, q := range rep.SQL {
			fmt.Fprintf(w, "%s;\n\n", q)
		}
	}
	return analytics.Write(w, *format, rep)
}

func calibrateCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("calibrate", stderr)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory (repeatable)")
	input := fs.String("events", "", "JSONL events file, or - for stdin")
	format := fs.String("format", "table", "table, csv or json")
	query := queryFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	q, err := query()
	if *input == "" {
		err = errors.Join(err, errors.New("--events is required (a JSONL file, or - for stdin)"))
	}
	if err != nil {
		return err
	}
	e, err := loadEngine(rulePaths, stderr)
	if err != nil {
		return err
	}
	in, reopen, done, err := openInput(*input, stdin)
	if err != nil {
		return err
	}
	defer done()
	rep, sum, pop, err := calibration.FromHistory(e, in, reopen, q, func(le *events.LineError) { fmt.Fprintln(stderr, le) })
	if err != nil {
		return err
	}
	if err := analytics.Write(stdout, *format, rep); err != nil {
		return err
	}
	reportSummary(stderr, sum)
	fmt.Fprintf(stderr, "population: %d contacts, %d converted; left out: %d converted at or before --as-of, %d with no event by then\n",
		pop.Contacts, pop.Converted, pop.Already, pop.Later)
	if sum.BadLines > 0 {
		return exitError(1)
	}
	return nil
}

func fitCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("fit", stderr)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory (repeatable)")
	input := fs.String("events", "", "JSONL events file (read twice; not stdin)")
	model := fs.String("model", "", "the model to fit (required)")
	out := fs.String("out", "", "directory to write the new rule file to (default: print the table only)")
	format := fs.String("format", "table", "table or json")
	lambda := fs.Float64("lambda", calibration.DefaultLambda, "L2 penalty on the per-event weights")
	freeSigns := fs.Bool("free-signs", false, "let a group's points change sign")
	minConv := fs.Int("min-conversions", calibration.DefaultMinConversions, "refuse to fit with fewer conversions in either half")
	force := fs.Bool("force", false, "with --out: write the file even when the suggested points do not raise the holdout AUC")
	query := queryFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	q, err := query()
	if *input == "" || *input == "-" {
		err = errors.Join(err, errors.New("--events is required and must be a file (fit reads it twice)"))
	}
	if *model == "" {
		err = errors.Join(err, errors.New("--model is required"))
	}
	if *format != "table" && *format != "json" {
		err = errors.Join(err, fmt.Errorf("--format %q: want table or json", *format))
	}
	if err != nil {
		return err
	}
	e, err := loadEngine(rulePaths, stderr)
	if err != nil {
		return err
	}
	m := e.Rules.Model(*model)
	if m == nil {
		return fmt.Errorf("--model %q: no such model in %v", *model, rulePaths)
	}
	src, err := os.ReadFile(m.File)
	if err != nil {
		return err
	}
	bad := 0
	res, err := calibration.Fit(e, m, src, calibration.File(func() (io.ReadCloser, error) { return openFile(*input) }),
		calibration.FitOptions{Query: q, Lambda: *lambda, FreeSigns: *freeSigns, MinConversions: *minConv},
		func(le *events.LineError) { bad++; fmt.Fprintln(stderr, le) })
	if err != nil {
		return err
	}
	if *out != "" {
		path, err := calibration.WriteRuleFile(*out, res, *force)
		if errors.Is(err, calibration.ErrNoGain) {
			res.WriteTable(stderr)
			return fmt.Errorf("%w; keep the current points, or give --force to write them anyway", err)
		}
		if err != nil {
			return fmt.Errorf("--out %s: %w", *out, err)
		}
		defer fmt.Fprintf(stderr, "wrote %s: check it with `scorer rules check %s` and `scorer rescore --current %s --rules %s --events %s` before publishing\n",
			path, path, m.File, path, *input)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		res.WriteTable(stdout)
		if *out == "" {
			fmt.Fprintln(stdout, "(no file written: give --out DIR)")
		}
	}
	if bad > 0 {
		return exitError(1)
	}
	return nil
}
