package demo

import (
	"context"
	"fmt"
	"io"

	"github.com/scorebridge/scorebridge/analytics"
)

// Companies prints the demo's company (account) scores from ClickHouse's
// company_scores and the account-level enrollments from decisions (a
// company crossing's decision names its company model). Without company
// models it prints nothing.
func Companies(ctx context.Context, store *analytics.Store, scorerURL, events string, w io.Writer) error {
	top, err := store.TopCompanies(ctx, 5)
	if err != nil {
		return err
	}
	if len(top) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nTop companies (company_scores, the latest score per company and company model):")
	for _, c := range top {
		fmt.Fprintf(w, "  %-10s %-20s %7.1f points, %d counted members, roles %v\n",
			c.CompanyID, c.Model, float64(c.Score)/analytics.MicroPoints, c.Members, c.Coverage)
	}
	decided, enrolled, err := store.CompanyDecisions(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  company crossings decided by the bridge: %d, of which %d enrolled a member (routes with level: company)\n", decided, enrolled)
	fmt.Fprintf(w, "  curl -s '%s/companies/%s/score'   # why: bin/scorer explain --rules testdata/rules-accounts --events %s --company %s\n",
		scorerURL, top[0].CompanyID, events, top[0].CompanyID)
	return nil
}
