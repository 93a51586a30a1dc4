package analytics

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/scorebridge/scorebridge/internal/dialect"
)

// Reports are the subcommands RunReport answers.
var Reports = []string{"attribution", "cadence", "touches", "decisions", "api-calls"}

// RunReport runs `scorer report` with args (the words after "report"),
// e.g. ["attribution", "--model", "w", "--by", "utm_source", "--format", "json"],
// and writes the report to w. Subcommands: attribution, cadence, touches,
// decisions (one contact's, or --summary), api-calls. --sql prints the SQL
// it ran before the report. (`scorer report calibration`, which needs the
// rules, is calibration.FromStore.)
func RunReport(ctx context.Context, s *Store, args []string, w io.Writer) error {
	if len(args) == 0 {
		return errors.New("report: want a subcommand: attribution, cadence, touches, decisions or api-calls")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("report "+cmd, flag.ContinueOnError)
	fs.SetOutput(w)
	format := fs.String("format", "table", "output: table, csv or json")
	showSQL := fs.Bool("sql", false, "print the SQL before the report")
	var rep Report
	var sqls []string
	switch cmd {
	case "attribution":
		model := fs.String("model", "linear", "first, last, linear, u, w or time-decay")
		conv := fs.String("conversion", DefaultConversion, "event type of conversions")
		by := fs.String("by", "type", "type, channel, campaign or a properties key")
		lookback := fs.String("lookback", "90d", "touch window before a conversion (e.g. 90d, 36h, 2w)")
		from := fs.String("from", "", "conversions at or after (RFC 3339 or YYYY-MM-DD)")
		to := fs.String("to", "", "conversions before (RFC 3339 or YYYY-MM-DD)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		var q AttributionQuery
		var err error
		var errs []error
		if q.Model, err = ParseModel(*model); err != nil {
			errs = append(errs, err)
		}
		if q.Lookback, err = dialect.ParseDuration(*lookback); err != nil {
			errs = append(errs, fmt.Errorf("--lookback: %w", err))
		}
		if q.From, err = flagTime("--from", *from); err != nil {
			errs = append(errs, err)
		}
		if q.To, err = flagTime("--to", *to); err != nil {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		q.Conversion, q.By = *conv, *by
		r, err := s.Attribution(ctx, q)
		if err != nil {
			return err
		}
		rep, sqls = r, r.SQL
	case "cadence":
		by := fs.String("by", "sequence", "sequence or owner")
		from := fs.String("from", "", "enrollments at or after")
		to := fs.String("to", "", "enrollments before")
		if err := fs.Parse(args); err != nil {
			return err
		}
		q := CadenceQuery{By: *by}
		var err1, err2 error
		q.From, err1 = flagTime("--from", *from)
		q.To, err2 = flagTime("--to", *to)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		r, err := s.Cadence(ctx, q)
		if err != nil {
			return err
		}
		rep, sqls = r, r.SQL
	case "touches", "decisions", "api-calls":
		contact := fs.String("contact", "", "contact id (required)")
		summary := new(bool)
		if cmd == "decisions" {
			summary = fs.Bool("summary", false, "instead of one contact's decisions: crossings counted by their latest decision")
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *summary && *contact != "" {
			return errors.New("report decisions: --summary or --contact, not both")
		}
		if *contact == "" && !*summary {
			if cmd == "decisions" {
				return errors.New("report decisions: --contact or --summary is required")
			}
			return fmt.Errorf("report %s: --contact is required", cmd)
		}
		var err error
		switch {
		case *summary:
			var r DecisionSummaryReport
			r, err = s.DecisionSummary(ctx)
			rep, sqls = r, r.SQL
		case cmd == "touches":
			var r TimelineReport
			r, err = s.Timeline(ctx, *contact)
			rep, sqls = r, r.SQL
		case cmd == "decisions":
			var r DecisionsReport
			r, err = s.Decisions(ctx, *contact)
			rep, sqls = r, r.SQL
		default:
			var r APICallsReport
			r, err = s.APICalls(ctx, *contact)
			rep, sqls = r, r.SQL
		}
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("report: unknown subcommand %q (want attribution, cadence, touches, decisions or api-calls)", cmd)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("report %s: unexpected arguments %q", cmd, fs.Args())
	}
	if *showSQL {
		for _, q := range sqls {
			fmt.Fprintf(w, "%s;\n\n", q)
		}
	}
	return Write(w, *format, rep)
}

// flagTime reads a time flag in the dialect's one form.
func flagTime(name, s string) (time.Time, error) {
	t, err := dialect.ParseTime(s)
	if err != nil {
		return t, fmt.Errorf("%s %w", name, err)
	}
	return t, nil
}

func sortStrings(s []string) { sort.Strings(s) }
