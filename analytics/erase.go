package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// ContactTables are the tables whose rows belong to one contact, by their
// contact_id column: what a privacy deletion erases.
// company_scores names a contact as the cause of a company's score
// change; the scorer's company aggregator erases the rows it stores after
// the deletion too (EraseCompanyScores).
var ContactTables = []string{"touches", "score_ledger", "crossings", "decisions", "enrollment_events", "api_calls", "writeback", "company_scores"}

// EraseContacts deletes every row of the contacts (ALTER TABLE ... DELETE,
// which 18.16 supports; DELETE FROM it does not) from ContactTables, and
// in the api_calls rows of calls about several contacts (the write-back's
// batch updates, whose contact_id is empty) replaces each contact's id,
// as a JSON string, by "erased" in the request and response bodies and
// the error. One mutation per table for all the contacts given: a
// mutation rewrites the parts it touches, so erasing many contacts at
// once costs about what erasing one does.
//
// ClickHouse runs mutations in the background and keeps them across its
// restarts: once this returns the deletion will happen; WaitMutations
// waits until it has. Rows inserted after the call are not affected, so a
// caller erases only after the contacts' rows it wrote are stored.
func (s *Store) EraseContacts(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	for _, t := range ContactTables {
		if err := s.eraseFrom(ctx, t, ids); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if err := s.db.exec(ctx, redactSQL(id)); err != nil {
			return fmt.Errorf("erase contact %q from api_calls bodies: %w", id, err)
		}
	}
	return nil
}

// EraseCompanyScores deletes the company_scores rows caused by the
// contacts: what the company aggregator does once it has stored the rows
// of a batch that forgets them (rows stored after EraseContacts ran, by an
// aggregator behind the contact side, are not reached by its mutation).
func (s *Store) EraseCompanyScores(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.eraseFrom(ctx, "company_scores", ids)
}

func (s *Store) eraseFrom(ctx context.Context, table string, ids []string) error {
	in := make([]string, len(ids))
	for i, id := range ids {
		in[i] = quote(id)
	}
	if err := s.db.exec(ctx, "ALTER TABLE "+table+" DELETE WHERE contact_id IN ("+strings.Join(in, ", ")+")"); err != nil {
		return fmt.Errorf("erase %d contacts from %s: %w", len(ids), table, err)
	}
	return nil
}

// redactSQL replaces the contact's id, as the JSON string it is in a
// body ("123"), by "erased" in api_calls rows about several contacts.
func redactSQL(id string) string {
	js, _ := json.Marshal(id) // a string: cannot fail
	q, erased := quote(string(js)), quote(`"erased"`)
	var sets []string
	for _, c := range []string{"request_body", "response_body", "error"} {
		sets = append(sets, c+" = replaceAll("+c+", "+q+", "+erased+")")
	}
	return "ALTER TABLE api_calls UPDATE " + strings.Join(sets, ", ") +
		" WHERE position(request_body, " + q + ") > 0 OR position(response_body, " + q + ") > 0 OR position(error, " + q + ") > 0"
}

// WaitMutations waits until ClickHouse has run every mutation of the
// store's database (EraseContacts' deletions), polling system.mutations.
func (s *Store) WaitMutations(ctx context.Context) error {
	q := "SELECT count() FROM system.mutations WHERE database = " + quote(s.database) + " AND is_done = 0"
	for {
		var n uint64
		err := each(ctx, s.db, q, func(r rows) error { return r.Scan(&n) })
		if err != nil {
			return fmt.Errorf("waiting for mutations in %s: %w", s.database, err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d mutations of %s still running: %w", n, s.database, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ContactRows counts the rows of ContactTables that still hold the
// contact: by contact_id, or its id as a JSON string in api_calls' bodies
// and errors. Zero after EraseContacts and WaitMutations.
func (s *Store) ContactRows(ctx context.Context, id string) (map[string]uint64, error) {
	js, _ := json.Marshal(id)
	q := quote(string(js))
	out := map[string]uint64{}
	for _, t := range ContactTables {
		where := "contact_id = " + quote(id)
		if t == "api_calls" {
			where += " OR position(request_body, " + q + ") > 0 OR position(response_body, " + q + ") > 0 OR position(error, " + q + ") > 0"
		}
		var n uint64
		if err := each(ctx, s.db, "SELECT count() FROM "+t+" WHERE "+where, func(r rows) error { return r.Scan(&n) }); err != nil {
			return nil, fmt.Errorf("rows of %q in %s: %w", id, t, err)
		}
		out[t] = n
	}
	return out, nil
}
