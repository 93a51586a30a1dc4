package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// demoCompanies prints the demo's company (account) scores from
// ClickHouse's company_scores and the account-level enrollments from
// decisions (a company crossing's decision names its company model).
func demoCompanies(ctx context.Context, conn clickhouse.Conn, scorerURL string, w io.Writer) error {
	rows, err := conn.Query(ctx, `SELECT company_id, model, argMax(score, version) AS s, argMax(members, version) AS m,
    argMax(coverage, version) AS cov
FROM company_scores FINAL GROUP BY company_id, model ORDER BY s DESC, company_id LIMIT 5`)
	if err != nil {
		return fmt.Errorf("company scores: %w", err)
	}
	defer rows.Close()
	fmt.Fprintln(w, "\nTop companies (company_scores, the latest score per company and company model):")
	top := ""
	for rows.Next() {
		var id, model string
		var s int64
		var m uint32
		var cov []string
		if err := rows.Scan(&id, &model, &s, &m, &cov); err != nil {
			return err
		}
		if top == "" {
			top = id
		}
		fmt.Fprintf(w, "  %-10s %-20s %7.1f points, %d counted members, roles %v\n", id, model, float64(s)/1e6, m, cov)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var enrolled, decided uint64
	row := conn.QueryRow(ctx, `SELECT countIf(o = 'enrolled'), count() FROM (
    SELECT crossing_id, argMax(outcome, decided_us) AS o FROM decisions
    WHERE model IN (SELECT DISTINCT model FROM company_scores) GROUP BY crossing_id)`)
	if err := row.Scan(&enrolled, &decided); err != nil {
		return fmt.Errorf("account decisions: %w", err)
	}
	fmt.Fprintf(w, "  company crossings decided by the bridge: %d, of which %d enrolled a member (routes with level: company)\n", decided, enrolled)
	if top != "" {
		fmt.Fprintf(w, "  curl -s '%s/companies/%s/score'   # why: bin/scorer explain --rules testdata/rules-accounts --events .local/demo/events.jsonl --company %s\n", scorerURL, top, top)
	}
	return nil
}
