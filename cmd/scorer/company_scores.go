package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/events"
)

// stateCompanyScores reads the company-scores topic to its end and prints
// the latest message of every company, sorted by company. With --events
// it also checks every company's latest message against the backtest's
// company lines of that history (accounts.Companies: score, rollup,
// coverage, members and counted members, top members); the threshold
// state is not compared, as company crossings follow the order the
// aggregator received its changes in.
func stateCompanyScores(args []string, stdout, stderr io.Writer) error {
	return stateLatest(args, stdout, stderr, latestTopic[companyscores.Message]{
		cmd: "state company-scores", what: "company-scores", env: "COMPANY_SCORES_TOPIC", noun: "companies",
		decode: companyscores.Decode,
		id:     func(m *companyscores.Message) string { return m.CompanyID },
		check: func(history string, rulePaths []string, latest map[string]companyscores.Message, stderr io.Writer) (string, bool, error) {
			differ, missing, err := compareCompanyScores(history, rulePaths, latest, stderr)
			return fmt.Sprintf("%d companies differ, %d missing from the topic", differ, missing), differ+missing > 0, err
		},
	})
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
	differ, missing = companyscores.Compare(set, evs, latest, func(line string) { fmt.Fprintln(stderr, line) })
	return differ, missing, nil
}
