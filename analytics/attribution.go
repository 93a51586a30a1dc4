package analytics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/internal/dialect"
)

// AttributionQuery selects conversions and how touches are credited.
type AttributionQuery struct {
	Model      Model
	Conversion string        // event type of conversions (default meeting_booked)
	By         string        // "type", "channel", "campaign" or a properties key (default type)
	Lookback   time.Duration // default 90 days
	From, To   time.Time     // conversions with From <= time < To; zero means unbounded
}

// DefaultConversion is the conversion event type when none is given.
const DefaultConversion = "meeting_booked"

// DefaultLookback is the attribution window when none is given.
const DefaultLookback = 90 * 24 * time.Hour

// NoneKey labels touches that lack the grouping property.
const NoneKey = "(none)"

// AttributionRow is one key's credit.
type AttributionRow struct {
	Key         string  `json:"key"`
	Credit      float64 `json:"credit"`
	Conversions int64   `json:"conversions"` // conversions that gave this key some credit
}

// AttributionReport is the answer of Attribution. The credits sum to
// Attributed; NoTouch conversions had no touch in their window.
type AttributionReport struct {
	Model       Model            `json:"model"`
	Conversion  string           `json:"conversion"`
	By          string           `json:"by"`
	Lookback    string           `json:"lookback"`
	From        *time.Time       `json:"from,omitempty"`
	To          *time.Time       `json:"to,omitempty"`
	Conversions int64            `json:"conversions"`
	Attributed  int64            `json:"attributed_conversions"`
	NoTouch     int64            `json:"conversions_without_touches"`
	Rows        []AttributionRow `json:"rows"`
	SQL         []string         `json:"-"`
}

func (q AttributionQuery) withDefaults() (AttributionQuery, error) {
	if q.Model == "" {
		q.Model = ModelLinear
	}
	if _, err := ParseModel(string(q.Model)); err != nil {
		return q, err
	}
	if q.Conversion == "" {
		q.Conversion = DefaultConversion
	}
	if q.By == "" {
		q.By = "type"
	}
	if q.Lookback <= 0 {
		q.Lookback = DefaultLookback
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, fmt.Errorf("attribution: --from %s is not before --to %s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	return q, nil
}

// keyExpr is the SQL for the grouping key. Properties are compact JSON
// text; visitParamExtract* exist on 18.16 and on modern servers, unlike
// JSONExtractString. Non-string values fall back to their raw JSON text.
func keyExpr(by string) string {
	switch by {
	case "type", "channel", "campaign":
		return by
	}
	k := quote(by)
	return "if(visitParamExtractString(properties, " + k + ") != '', visitParamExtractString(properties, " + k +
		"), visitParamExtractRaw(properties, " + k + "))"
}

// attributionSQL returns one row per converting contact with all its
// events in the window packed into one string: clickhouse-go scans arrays
// by reflection, element by element, which cost 4x the query itself; one
// String per contact is scanned without it. 18.16 has no window functions,
// so the credit is applied in Go; replayed rows are removed there too, by
// event id. Each event is packed as
//
//	<occurred_us>,<is_conversion 0|1><len(event_id)>:<event_id><len(key)>:<key>
//
// with lengths in bytes, so ids and keys may hold any character.
func attributionSQL(q AttributionQuery) string {
	var where, having []string
	having = append(having, "is_conv")
	if !q.From.IsZero() {
		// occurred_at (seconds) prunes partitions; exact bounds use occurred_us.
		where = append(where, "occurred_at >= toDateTime("+i64(q.From.Add(-q.Lookback).Unix()-1)+")")
		having = append(having, "occurred_us >= "+i64(q.From.UnixMicro()))
	}
	if !q.To.IsZero() {
		where = append(where, "occurred_at <= toDateTime("+i64(q.To.Unix()+1)+")")
		having = append(having, "occurred_us < "+i64(q.To.UnixMicro()))
	}
	var b strings.Builder
	b.WriteString("SELECT contact_id,\n")
	b.WriteString("    arrayStringConcat(groupArray(concat(toString(occurred_us), ',', toString(is_conv),\n")
	b.WriteString("        toString(length(event_id)), ':', event_id, toString(length(k)), ':', k))) AS evs\n")
	b.WriteString("FROM (\n")
	b.WriteString("    SELECT contact_id, event_id, occurred_us, type = " + quote(q.Conversion) + " AS is_conv,\n")
	b.WriteString("        if(is_conv, '', " + keyExpr(q.By) + ") AS k\n")
	b.WriteString("    FROM touches\n")
	if len(where) > 0 {
		b.WriteString("    WHERE " + strings.Join(where, " AND ") + "\n")
	}
	b.WriteString(")\nGROUP BY contact_id\n")
	b.WriteString("HAVING countIf(" + strings.Join(having, " AND ") + ") > 0")
	return b.String()
}

// crossingsSQL lists each converting contact's crossings, for the W-shape
// key touch.
func crossingsSQL(q AttributionQuery) string {
	sub := "SELECT contact_id FROM touches WHERE type = " + quote(q.Conversion)
	return "SELECT contact_id, groupArray(event_id) AS events, groupArray(crossed_us) AS ts\n" +
		"FROM crossings\nWHERE contact_id IN (" + sub + ")\nGROUP BY contact_id"
}

type crossingRef struct {
	eventID string
	us      int64
}

// Attribution credits conversions to the touches before them.
func (s *Store) Attribution(ctx context.Context, q AttributionQuery) (AttributionReport, error) {
	return attribution(ctx, s.db, q)
}

func attribution(ctx context.Context, d db, q AttributionQuery) (AttributionReport, error) {
	q, err := q.withDefaults()
	if err != nil {
		return AttributionReport{}, err
	}
	rep := AttributionReport{Model: q.Model, Conversion: q.Conversion, By: q.By, Lookback: dialect.FormatDuration(q.Lookback)}
	if !q.From.IsZero() {
		f := q.From.UTC()
		rep.From = &f
	}
	if !q.To.IsZero() {
		t := q.To.UTC()
		rep.To = &t
	}
	var crossings map[string][]crossingRef
	if q.Model == ModelW {
		sql := crossingsSQL(q)
		rep.SQL = append(rep.SQL, sql)
		crossings, err = loadCrossings(ctx, d, sql)
		if err != nil {
			return rep, err
		}
	}
	sql := attributionSQL(q)
	rep.SQL = append(rep.SQL, sql)
	rows, err := d.query(ctx, sql)
	if err != nil {
		return rep, fmt.Errorf("attribution query: %w", err)
	}
	defer rows.Close()
	acc := newCreditAccumulator(q)
	var c contactEvents
	for rows.Next() {
		var packed string
		if err := rows.Scan(&c.contactID, &packed); err != nil {
			return rep, fmt.Errorf("attribution query: %w", err)
		}
		if err := c.unpack(packed); err != nil {
			return rep, fmt.Errorf("attribution query: contact %s: %w", c.contactID, err)
		}
		acc.contact(&c, crossings[c.contactID])
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("attribution query: %w", err)
	}
	acc.report(&rep)
	return rep, nil
}

func loadCrossings(ctx context.Context, d db, sql string) (map[string][]crossingRef, error) {
	rows, err := d.query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("crossings query: %w", err)
	}
	defer rows.Close()
	out := map[string][]crossingRef{}
	for rows.Next() {
		var id string
		var evs []string
		var ts []int64
		if err := rows.Scan(&id, &evs, &ts); err != nil {
			return nil, fmt.Errorf("crossings query: %w", err)
		}
		refs := make([]crossingRef, len(evs))
		for i := range evs {
			refs[i] = crossingRef{evs[i], ts[i]}
		}
		out[id] = refs
	}
	return out, rows.Err()
}

// contactEvents is one row of attributionSQL, unpacked.
type contactEvents struct {
	contactID string
	ids       []string
	ts        []int64
	isConv    []uint8
	keys      []string
}

// unpack parses the packed events (see attributionSQL). Ids and keys are
// substrings of packed: no copies.
func (c *contactEvents) unpack(p string) error {
	c.ids, c.ts, c.isConv, c.keys = c.ids[:0], c.ts[:0], c.isConv[:0], c.keys[:0]
	for len(p) > 0 {
		comma := strings.IndexByte(p, ',')
		if comma < 0 || comma+2 > len(p) {
			return errors.New("malformed packed events")
		}
		ts, err := strconv.ParseInt(p[:comma], 10, 64)
		if err != nil {
			return fmt.Errorf("malformed packed time: %w", err)
		}
		conv := p[comma+1] - '0'
		p = p[comma+2:]
		var id, key string
		if id, p, err = lengthPrefixed(p); err != nil {
			return err
		}
		if key, p, err = lengthPrefixed(p); err != nil {
			return err
		}
		c.ts = append(c.ts, ts)
		c.isConv = append(c.isConv, conv)
		c.ids = append(c.ids, id)
		c.keys = append(c.keys, key)
	}
	return nil
}

func lengthPrefixed(p string) (string, string, error) {
	colon := strings.IndexByte(p, ':')
	if colon < 0 {
		return "", "", errors.New("malformed packed field")
	}
	n, err := strconv.Atoi(p[:colon])
	if err != nil || n < 0 || colon+1+n > len(p) {
		return "", "", errors.New("malformed packed field length")
	}
	return p[colon+1 : colon+1+n], p[colon+1+n:], nil
}

type keyAgg struct {
	credit   float64
	convs    int64
	lastConv int64
}

// creditAccumulator applies a model to each contact's events and sums
// credit per key. Reusable buffers keep it allocation-light at 10M touches.
type creditAccumulator struct {
	q             AttributionQuery
	from, to      int64 // µs; to == 0 means unbounded
	lookback      int64
	keys          map[string]*keyAgg
	convSeq       int64
	conversions   int64
	noTouch       int64
	order         []int
	touchTS       []int64
	touchKeys     []string
	touchIDs      []string
	convTS        []int64
	unboundedFrom bool
}

func newCreditAccumulator(q AttributionQuery) *creditAccumulator {
	a := &creditAccumulator{q: q, lookback: q.Lookback.Microseconds(), keys: map[string]*keyAgg{}}
	a.unboundedFrom = q.From.IsZero()
	a.from = q.From.UnixMicro()
	if !q.To.IsZero() {
		a.to = q.To.UnixMicro()
	}
	return a
}

func (a *creditAccumulator) contact(c *contactEvents, crossings []crossingRef) {
	n := len(c.ids)
	a.order = a.order[:0]
	for i := 0; i < n; i++ {
		a.order = append(a.order, i)
	}
	// The semantics' order: (occurred_at, event id). Sorting by id as the
	// tie-break also puts replayed duplicates next to each other.
	sort.Slice(a.order, func(x, y int) bool {
		i, j := a.order[x], a.order[y]
		if c.ts[i] != c.ts[j] {
			return c.ts[i] < c.ts[j]
		}
		return c.ids[i] < c.ids[j]
	})
	a.touchTS, a.touchKeys, a.touchIDs, a.convTS = a.touchTS[:0], a.touchKeys[:0], a.touchIDs[:0], a.convTS[:0]
	prev := -1
	for _, i := range a.order {
		if prev >= 0 && c.ids[i] == c.ids[prev] {
			continue // a replayed row
		}
		prev = i
		if c.isConv[i] != 0 {
			t := c.ts[i]
			if (a.unboundedFrom || t >= a.from) && (a.to == 0 || t < a.to) {
				a.convTS = append(a.convTS, t)
			}
			continue
		}
		k := c.keys[i]
		if k == "" || k == `""` || k == "null" {
			k = NoneKey
		}
		a.touchTS = append(a.touchTS, c.ts[i])
		a.touchKeys = append(a.touchKeys, k)
		a.touchIDs = append(a.touchIDs, c.ids[i])
	}
	if len(crossings) > 0 {
		crossings = a.resolveCrossings(crossings)
	}
	for _, conv := range a.convTS {
		a.conversion(conv, crossings)
	}
}

// resolveCrossings dates each crossing by its triggering touch when that
// touch is loaded: crossed_at may be a processing time, but "before the
// conversion" is about the touch.
func (a *creditAccumulator) resolveCrossings(crossings []crossingRef) []crossingRef {
	out := make([]crossingRef, len(crossings))
	copy(out, crossings)
	for i := range out {
		for j, id := range a.touchIDs {
			if id == out[i].eventID {
				out[i].us = a.touchTS[j]
				break
			}
		}
	}
	return out
}

func (a *creditAccumulator) conversion(conv int64, crossings []crossingRef) {
	a.conversions++
	// Touches with conv - lookback < t < conv.
	lo, _ := slices.BinarySearch(a.touchTS, conv-a.lookback+1)
	hi, _ := slices.BinarySearch(a.touchTS, conv)
	if lo >= hi {
		a.noTouch++
		return
	}
	key := -1
	if a.q.Model == ModelW {
		key = a.keyTouch(conv, crossings, lo, hi)
	}
	shares := credit(a.q.Model, a.touchTS[lo:hi], conv, key)
	a.convSeq++
	for i, sh := range shares {
		if sh <= 0 {
			continue
		}
		k := a.touchKeys[lo+i]
		g := a.keys[k]
		if g == nil {
			g = &keyAgg{}
			a.keys[strings.Clone(k)] = g // k points into a row's packed string
		}
		g.credit += sh
		if g.lastConv != a.convSeq {
			g.lastConv = a.convSeq
			g.convs++
		}
	}
}

// keyTouch finds, within touches[lo:hi], the touch whose event made the
// contact first cross a threshold (any model) before the conversion; it
// returns its index relative to lo, or -1.
func (a *creditAccumulator) keyTouch(conv int64, crossings []crossingRef, lo, hi int) int {
	best := -1
	for i, c := range crossings {
		if c.us >= conv {
			continue
		}
		if best < 0 || c.us < crossings[best].us || (c.us == crossings[best].us && c.eventID < crossings[best].eventID) {
			best = i
		}
	}
	if best < 0 {
		return -1
	}
	for i := lo; i < hi; i++ {
		if a.touchIDs[i] == crossings[best].eventID {
			return i - lo
		}
	}
	return -1
}

func (a *creditAccumulator) report(rep *AttributionReport) {
	rep.Conversions = a.conversions
	rep.NoTouch = a.noTouch
	rep.Attributed = a.conversions - a.noTouch
	rep.Rows = make([]AttributionRow, 0, len(a.keys))
	for k, g := range a.keys {
		rep.Rows = append(rep.Rows, AttributionRow{Key: k, Credit: g.credit, Conversions: g.convs})
	}
	sort.Slice(rep.Rows, func(i, j int) bool {
		if rep.Rows[i].Credit != rep.Rows[j].Credit {
			return rep.Rows[i].Credit > rep.Rows[j].Credit
		}
		return rep.Rows[i].Key < rep.Rows[j].Key
	})
}
