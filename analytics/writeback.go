package analytics

import (
	"context"
	"fmt"
	"time"
)

// WritebackRow is one record write of the bridge's write-back (a contact,
// or a company): what it asked HubSpot to hold for the record, and what
// HubSpot answered. "What did we write to HubSpot for contact X, and
// when" is
//
//	SELECT written_at, result, properties, error FROM writeback
//	WHERE contact_id = 'X' AND object = 'contacts' ORDER BY written_us
type WritebackRow struct {
	// Object is the HubSpot object type: contacts ("" too) or companies.
	Object string
	// ContactID is the record's id: the contact's, or for companies the
	// company's.
	ContactID   string
	Properties  string // JSON object: property name -> value written
	Result      string // ok, failed
	Error       string // HubSpot's per-record (or call) error when failed
	RuleVersion string
	ScoresAt    time.Time // the message's updated_at
	WrittenAt   time.Time // when HubSpot answered
	IngestedAt  time.Time
}

var writebackTable = tableDef[WritebackRow]{
	name: "writeback",
	cols: cat(
		one(strCol("object", func(r *WritebackRow) string { return objectOf(r.Object) })),
		one(strCol("contact_id", func(r *WritebackRow) string { return r.ContactID })),
		one(strCol("properties", func(r *WritebackRow) string { return r.Properties })),
		one(strCol("result", func(r *WritebackRow) string { return r.Result })),
		one(strCol("error", func(r *WritebackRow) string { return r.Error })),
		one(strCol("rule_version", func(r *WritebackRow) string { return r.RuleVersion })),
		timeCols("scores_at", "scores_us", func(r *WritebackRow) time.Time { return r.ScoresAt }),
		timeCols("written_at", "written_us", func(r *WritebackRow) time.Time { return r.WrittenAt }),
		versionCols(func(r *WritebackRow) time.Time { return r.IngestedAt }),
	),
	stamp: func(r *WritebackRow, t time.Time) {
		if r.IngestedAt.IsZero() {
			r.IngestedAt = t
		}
	},
}

func objectOf(o string) string {
	if o == "" {
		return "contacts"
	}
	return o
}

// InsertWriteback stores write-back rows at once (the write-back already
// batches them per HubSpot call).
func (s *Store) InsertWriteback(ctx context.Context, rows []WritebackRow) error {
	if len(rows) == 0 {
		return nil
	}
	now := time.Now()
	for i := range rows {
		writebackTable.stamp(&rows[i], now)
	}
	if err := s.db.insert(ctx, writebackTable.name, writebackTable.columnNames(), writebackTable.columns(rows, nil)); err != nil {
		return fmt.Errorf("insert %d writeback rows: %w", len(rows), err)
	}
	return nil
}

// WritebackSQL is the query behind Writeback.
func WritebackSQL(object, id string) string {
	return `SELECT properties, result, error, rule_version, scores_us, written_us
FROM writeback
WHERE contact_id = ` + quote(id) + ` AND object = ` + quote(objectOf(object)) + `
ORDER BY written_us`
}

// Writeback is what the write-back wrote to HubSpot for a contact, and
// when, oldest first.
func (s *Store) Writeback(ctx context.Context, contactID string) ([]WritebackRow, error) {
	return s.WritebackOf(ctx, "contacts", contactID)
}

// WritebackOf is what the write-back wrote to HubSpot for a record of an
// object type (contacts, companies), and when, oldest first.
func (s *Store) WritebackOf(ctx context.Context, object, id string) ([]WritebackRow, error) {
	var out []WritebackRow
	contactID := id
	err := each(ctx, s.db, WritebackSQL(object, id), func(r rows) error {
		x := WritebackRow{Object: objectOf(object), ContactID: contactID}
		var scores, written int64
		if err := r.Scan(&x.Properties, &x.Result, &x.Error, &x.RuleVersion, &scores, &written); err != nil {
			return err
		}
		x.ScoresAt, x.WrittenAt = time.UnixMicro(scores).UTC(), time.UnixMicro(written).UTC()
		out = append(out, x)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("write-back of %s %s: %w", object, id, err)
	}
	return out, nil
}
