package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/internal/dialect"
	"github.com/scorebridge/scorebridge/synth"
)

func init() {
	register("generate", "write a realistic, deterministic engagement history as JSONL", generateCmd)
}

func generateCmd(args []string, stdout, stderr io.Writer) error {
	d := synth.Default()
	fs := flags("generate", stderr)
	fs.Uint64Var(&d.Seed, "seed", d.Seed, "random seed: the same seed gives the same stream")
	fs.IntVar(&d.Contacts, "contacts", d.Contacts, "contacts")
	fs.IntVar(&d.Companies, "companies", d.Companies, "companies")
	fs.IntVar(&d.Owners, "owners", d.Owners, "owners (u-1 .. u-N)")
	fs.IntVar(&d.Days, "days", d.Days, "days of history")
	fs.IntVar(&d.Events, "events", 0, "stop after this many events (0: the whole period)")
	fs.Float64Var(&d.DuplicateRate, "duplicates", d.DuplicateRate, "share of events sent twice with the same id")
	start := fs.String("start", d.Start.Format("2006-01-02T15:04:05Z07:00"), "first possible event time (RFC 3339)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := dialect.ParseTime(*start)
	if err != nil {
		return fmt.Errorf("--start %w", err)
	}
	d.Start = t
	w := bufio.NewWriterSize(stdout, 256<<10)
	enc := json.NewEncoder(w)
	n := 0
	err = synth.Generate(d, func(ev *events.Event) error { n++; return enc.Encode(ev) })
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%d events for %d contacts over %d days\n", n, d.Contacts, d.Days)
	return nil
}
