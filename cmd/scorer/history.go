package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scorer"
)

func init() {
	register("migrate", "create or upgrade the ClickHouse schema (also done at every start)", migrateCmd)
	register("import", "score a JSONL history into ClickHouse as the live service would (backfill)", importCmd)
	register("report", "analysts' reports: attribution, cadence, touches, decisions, api-calls, calibration", reportCmd)
}

func openStore(ctx context.Context, dsn string) (*analytics.Store, error) {
	if dsn == "" {
		return nil, errors.New("--clickhouse (or CLICKHOUSE_DSN) is required, e.g. clickhouse://127.0.0.1:9000/scorebridge")
	}
	s, err := analytics.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	return s, nil
}

func migrateCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("migrate", stderr)
	dsn := fs.String("clickhouse", envOr("CLICKHOUSE_DSN", ""), "ClickHouse DSN (env CLICKHOUSE_DSN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "schema up to date in database %s (ClickHouse %s)\n", s.Database(), s.ServerVersion())
	return nil
}

func importCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("import", stderr)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory (repeatable)")
	input := fs.String("events", "", "JSONL events file, or - for stdin")
	dsn := fs.String("clickhouse", envOr("CLICKHOUSE_DSN", ""), "ClickHouse DSN (env CLICKHOUSE_DSN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *input == "" {
		return errors.New("--events is required (a JSONL file, or - for stdin)")
	}
	e, err := loadEngine(rulePaths, stderr)
	if err != nil {
		return err
	}
	in, _, done, err := openInput(*input, stdin)
	if err != nil {
		return err
	}
	defer done()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	w := s.NewWriter(analytics.WriterOptions{})
	defer w.Close(context.Background())
	sum, err := scorer.Import(ctx, e, in, w, s.EraseContacts, func(le *events.LineError) { fmt.Fprintln(stderr, le) })
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d events of %d contacts (%d duplicates ignored, %d bad lines; %d contacts forgotten, %d of their events dropped): %d touches, %d ledger rows, %d crossings; rules %s\n",
		sum.Events, sum.Contacts, sum.Duplicates, sum.BadLines, sum.Forgotten, sum.Suppressed, sum.Touches, sum.LedgerRows, sum.Crossings, e.Rules.Version)
	if sum.BadLines > 0 {
		return exitError(1)
	}
	return nil
}

func reportCmd(args []string, stdout, stderr io.Writer) error {
	dsn := envOr("CLICKHOUSE_DSN", "")
	// --clickhouse may come anywhere; the rest belongs to the report.
	var rest []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--clickhouse" || a == "-clickhouse":
			if i+1 >= len(args) {
				return errors.New("--clickhouse needs a DSN")
			}
			dsn = args[i+1]
			i++
		case len(a) > 13 && (a[:13] == "--clickhouse=" || a[:12] == "-clickhouse="):
			dsn = a[len("--clickhouse="):]
			if a[1] != '-' {
				dsn = a[len("-clickhouse="):]
			}
		default:
			rest = append(rest, a)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	wantsHelp := false
	for _, a := range rest {
		wantsHelp = wantsHelp || a == "-h" || a == "--help" || a == "-help"
	}
	report := analytics.RunReport
	switch {
	case len(rest) == 0 || strings.HasPrefix(rest[0], "-") || slices.Contains(analytics.Reports, rest[0]):
	case rest[0] == "calibration":
		report = reportCalibration
	default:
		return fmt.Errorf("report: unknown subcommand %q (want %s or calibration)", rest[0], strings.Join(analytics.Reports, ", "))
	}
	if wantsHelp && len(rest) > 0 && rest[0] != "-h" && rest[0] != "--help" {
		// A report's own flags: answered without a server.
		return report(ctx, nil, rest, stdout)
	}
	if len(rest) == 0 || rest[0] == "-h" || rest[0] == "--help" {
		fmt.Fprintln(stderr, "usage: scorer report attribution|cadence|touches|decisions|api-calls|calibration [--format table|csv|json] [--sql] [--clickhouse DSN] ...\nRun 'scorer report SUBCOMMAND -h' for its flags.")
		return exitError(2)
	}
	s, err := openStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	return report(ctx, s, rest, stdout)
}
