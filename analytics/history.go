package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

// historySQL reads the touch history back as events, de-duplicated by
// event id, a contact's events together in time order.
const historySQL = `SELECT event_id,
    argMax(company_id, version) AS h_company,
    argMax(type, version) AS h_type,
    argMax(occurred_us, version) AS h_at,
    argMax(properties, version) AS h_props,
    argMax(contact, version) AS h_contact
FROM touches
GROUP BY contact_id, event_id
ORDER BY contact_id, h_at, event_id`

// History calls fn with every recorded event, as the scorer received it
// (properties and contact snapshot included): what `scorer rescore
// --clickhouse` replays under new rules.
func (s *Store) History(ctx context.Context, fn func(events.Event) error) error {
	sql := `SELECT contact_id, ` + historySQL[len("SELECT "):]
	return each(ctx, s.db, sql, func(r rows) error {
		var ev events.Event
		var at int64
		var props, contact string
		if err := r.Scan(&ev.ContactID, &ev.ID, &ev.CompanyID, &ev.Type, &at, &props, &contact); err != nil {
			return err
		}
		ev.OccurredAt = time.UnixMicro(at).UTC()
		if err := object(props, &ev.Properties); err != nil {
			return fmt.Errorf("touch %s: properties: %w", ev.ID, err)
		}
		if err := object(contact, &ev.Contact); err != nil {
			return fmt.Errorf("touch %s: contact: %w", ev.ID, err)
		}
		return fn(ev)
	})
}

func object(text string, dst *map[string]any) error {
	if text == "" || text == "{}" {
		return nil
	}
	return json.Unmarshal([]byte(text), dst)
}
