package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
)

// spoolStdin copies stdin to a temporary file when the input must be read
// again (company models need a second pass); it returns the path to read
// and a cleanup.
func spoolStdin(input string, e *scoring.Engine) (string, func(), error) {
	if input != "-" || len(e.Rules.Companies) == 0 {
		return input, func() {}, nil
	}
	return spool()
}

// spool copies stdin to a temporary file, to be read more than once; it
// returns the file's path and a cleanup that removes it.
func spool() (string, func(), error) {
	f, err := os.CreateTemp("", "scorer-stdin-*.jsonl")
	if err != nil {
		return "", nil, fmt.Errorf("spool stdin: %w", err)
	}
	cleanup := func() { os.Remove(f.Name()) }
	_, err = io.Copy(f, stdin)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("spool stdin: %w", err)
	}
	return f.Name(), cleanup, nil
}

// replayable opens a history that a command reads more than once: the
// file input, stdin ("-") spooled to a temporary file, or, with dsn, the
// history stored in ClickHouse exported to one (historyFile). cleanup
// removes what it made.
func replayable(input, dsn string) (open func() (io.ReadCloser, error), cleanup func(), err error) {
	path, cleanup := input, func() {}
	switch {
	case dsn != "":
		if path, err = historyFile(dsn); err != nil {
			return nil, nil, err
		}
		cleanup = func() { os.Remove(path) }
	case input == "-":
		if path, cleanup, err = spool(); err != nil {
			return nil, nil, err
		}
	}
	return func() (io.ReadCloser, error) { return os.Open(path) }, cleanup, nil
}

// companyLines prints the company lines of a backtest, after the contact
// lines, from a second read of the input.
func companyLines(e *scoring.Engine, input string, at time.Time, out *jsonLines) error {
	if len(e.Rules.Companies) == 0 {
		return nil
	}
	f, err := openFile(input)
	if err != nil {
		return err
	}
	defer f.Close()
	return backtest.RunCompanies(e, f, at, func(l backtest.CompanyLine) error { return out.write(l) })
}

// explainCompany is `scorer explain --company ID [--as-of T]`.
func explainCompany(e *scoring.Engine, input, company string, asOf time.Time, stdout, stderr io.Writer) error {
	if len(e.Rules.Companies) == 0 {
		return fmt.Errorf("--company: the rules have no company model (level: company)")
	}
	if input == "-" {
		return fmt.Errorf("--company reads the events twice: give a file, not stdin")
	}
	bad := 0
	evs, err := backtest.CollectCompany(func() (io.ReadCloser, error) { return openFile(input) }, company, func(*events.LineError) { bad++ })
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return fmt.Errorf("no event names company %q in %s", company, input)
	}
	x := backtest.ExplainCompany(e, company, evs, asOf)
	if !asOf.IsZero() && (len(x.Scores) == 0 || len(x.Scores[0].Contacts) == 0) {
		return fmt.Errorf("company %q has no members as of %s in %s (events after it are ignored)", company, asOf.Format(time.RFC3339), input)
	}
	if err := x.Write(stdout, e.Rules); err != nil {
		return err
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "%d bad lines skipped (run backtest to list them)\n", bad)
	}
	return nil
}

// rescoreCompanies prints what a rule change does to company scores, after
// the contacts' changes: a table, or one JSON line per change.
func rescoreCompanies(stdout io.Writer, format string, top int, cur, nxt *scoring.Engine, open func() (io.ReadCloser, error)) error {
	if len(cur.Rules.Companies) == 0 && len(nxt.Rules.Companies) == 0 {
		return nil
	}
	changes, err := backtest.RescoreCompanies(cur, nxt, open)
	if err != nil {
		return err
	}
	if format == "json" {
		out := newJSONLines(stdout)
		for _, c := range changes {
			out.write(c)
		}
		return out.flush()
	}
	fmt.Fprintf(stdout, "\ncompany models: %d (company, model) pairs change\n", len(changes))
	if len(changes) == 0 {
		return nil
	}
	return writeChangeTable(stdout, "company\tmodel\tcurrent\tnew\tdelta\tcrossings", changes, top, func(c backtest.CompanyChange) changeRow {
		return changeRow{c.CompanyID, c.Model, c.Old, c.New, c.Delta, c.NewlyCrosses, c.NoLongerCrosses}
	})
}
