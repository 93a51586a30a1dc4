package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
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
