package analytics

import (
	"context"
	"fmt"
	"time"
)

// CrossingTimes lists when a contact crossed a model's thresholds, oldest
// first, de-duplicated by crossing id: the crossings of a backtest line.
func (s *Store) CrossingTimes(ctx context.Context, contactID, model string) ([]time.Time, error) {
	sql := `SELECT argMax(crossed_us, version) AS c_at FROM crossings
WHERE contact_id = ` + quote(contactID) + ` AND model = ` + quote(model) + `
GROUP BY crossing_id ORDER BY c_at`
	out := []time.Time{}
	err := each(ctx, s.db, sql, func(r rows) error {
		var us int64
		if err := r.Scan(&us); err != nil {
			return err
		}
		out = append(out, time.UnixMicro(us).UTC())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("crossings of %s in %s: %w", contactID, model, err)
	}
	return out, nil
}
