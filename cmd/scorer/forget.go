package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/internal/cli"
	"github.com/scorebridge/scorebridge/scorer"
)

func init() {
	register("forget", "privacy deletion of contacts: the scorer forgets them (state, lead-scores, ClickHouse rows); late events do not bring them back", forgetCmd)
}

func forgetCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("forget", stderr)
	var contacts listFlag
	fs.Var(&contacts, "contact", "contact id to forget (repeatable)")
	brokers := cli.Brokers(fs, "Kafka brokers (env KAFKA_BROKERS)")
	eventsTopic := fs.String("events-topic", envOr("EVENTS_TOPIC", "engagement-events"), "events topic the scorer reads (env EVENTS_TOPIC)")
	changelog := fs.String("changelog-topic", envOr("SCORER_CHANGELOG_TOPIC", ""), "the scorer's changelog (env SCORER_CHANGELOG_TOPIC; default EVENTS-TOPIC-scorer-state)")
	ch := fs.String("clickhouse", envOr("CLICKHOUSE_DSN", ""), "ClickHouse DSN (env CLICKHOUSE_DSN): erase the contacts' rows now and report what is left; empty: the scorer's erasure only")
	wait := cli.Duration(fs, "wait", "", 2*time.Minute, "wait this long for the running scorer to apply the deletion; 0: do not wait")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	var ids []string
	for _, c := range contacts {
		if c = strings.TrimSpace(c); c != "" {
			ids = append(ids, c)
		}
	}
	if len(ids) == 0 {
		return errors.New("no --contact given")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o := scorer.ForgetOptions{Brokers: brokers(), EventsTopic: *eventsTopic, Changelog: *changelog, Wait: *wait}
	if *ch != "" {
		s, err := analytics.Open(ctx, *ch)
		if err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
		defer s.Close()
		o.Store = s
	}
	res, err := scorer.Forget(ctx, o, ids)
	for _, r := range res {
		line := fmt.Sprintf("contact %s: privacy deletion %s produced to %s", r.ContactID, r.EventID, *eventsTopic)
		if r.Applied {
			line += "; applied by the scorer (state and lead-scores tombstoned, marker on the changelog)"
		} else if *wait > 0 {
			line += "; NOT yet applied by the scorer"
		}
		if r.RowsLeft != nil {
			var left []string
			for t, n := range r.RowsLeft {
				if n > 0 {
					left = append(left, fmt.Sprintf("%s %d", t, n))
				}
			}
			sort.Strings(left)
			if len(left) == 0 {
				line += "; no row left in ClickHouse"
			} else {
				line += "; rows left in ClickHouse: " + strings.Join(left, ", ")
			}
		}
		fmt.Fprintln(stdout, line)
	}
	return err
}
