package scorer

import (
	"bytes"
	"encoding/json"

	gojson "github.com/goccy/go-json"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// A batch's effects: what scoring its events did, collected before they
// are made durable (processor.go's durable writes them in order):
// crossings, dead letters, history rows (touches, ledger), the contacts
// changed, forwards and member changes.

// batch collects a batch's effects before they are made durable.
type batch struct {
	forwards    map[int][]stream.Record // by home partition
	crossings   []stream.Record
	deadLetters []stream.Record
	scores      []stream.Record
	touches     []analytics.Touch
	ledger      []analytics.LedgerRow
	crossRows   []analytics.CrossingRow
	forgets     []forgetting // contacts the batch forgot (forget.go)
	// dirty maps the contacts the batch changed to their ids: keyed by
	// pointer, it hashes eight bytes and never reads a key's characters.
	dirty   map[*scoring.Contact]string
	members memberBatch
}

// keepsLedger: the recorder keeps touches and ledger rows, so scoring must
// give the per-group deltas.
func (p *Processor) keepsLedger() bool {
	_, discard := p.cfg.Recorder.(Discard)
	return !discard
}

// collect gathers what scoring ev into st did: outcome metrics, the dirty
// state, touches and ledger rows, crossings. It reports false for a
// duplicate, which changes nothing.
func (p *Processor) collect(part *partition, st *scoring.Contact, ev *events.Event, o *scoring.Outcome, b *batch) bool {
	if o.Duplicate {
		p.outcome("duplicate")
		return false
	}
	p.outcome("scored")
	if len(o.Errors) > 0 {
		p.count("expression", len(o.Errors))
		p.cfg.Log.Debug().Str("event_id", ev.ID).Str("contact_id", ev.ContactID).Err(o.Errors[0]).Msg("expression error: no match")
	}
	b.dirty[st] = ev.ContactID
	// A contact crossing names the contact's company: with company models,
	// its membership (the latest event naming one), so that an event
	// without company_id (or a late one naming a company it left) still
	// gives the bridge the company company_exclusive must hold; without,
	// the event's.
	company := ev.CompanyID
	if p.cfg.Members != nil {
		if c := p.cfg.Members.observe(part.id, part.engine.Rules, st, ev, o, &b.members); c != "" {
			company = c
		}
	}
	version := part.engine.Rules.Version
	if part.scorer.Ledger {
		b.touches = append(b.touches, analytics.TouchFromEvent(*ev, version))
		b.ledger = appendLedger(b.ledger, part.engine.Rules, ev, o, version)
	}
	for _, h := range o.Hits {
		m := part.engine.Rules.Models[h.Model]
		th := m.Thresholds[h.Threshold]
		x := events.Crossing{
			CrossingID:    events.CrossingID(ev.ContactID, m.Name, th.Name, ev.ID),
			ContactID:     ev.ContactID,
			CompanyID:     company,
			Model:         m.Name,
			Score:         rules.Float(h.Score),
			Threshold:     rules.Float(th.At),
			ThresholdName: th.Name,
			CrossedAt:     ev.OccurredAt,
			EventID:       ev.ID,
			RuleVersion:   version,
			Contact:       ev.Contact,
		}
		data, cut := boundCrossing(&x)
		if cut {
			p.bounded("crossing")
			p.cfg.Log.Warn().Str("contact_id", ev.ContactID).Str("event_id", ev.ID).Str("crossing_id", x.CrossingID).
				Int("contact_properties", len(ev.Contact)).Msg("crossing too large for Kafka: its contact snapshot is cut to what fits")
		}
		b.crossings = append(b.crossings, stream.Message(ev.ContactID, data))
		b.crossRows = append(b.crossRows, analytics.CrossingRow{
			CrossingID: x.CrossingID, ContactID: x.ContactID, CompanyID: x.CompanyID, Model: x.Model,
			ThresholdName: th.Name, Threshold: th.At, Score: h.Score, CrossedAt: x.CrossedAt,
			EventID: x.EventID, RuleVersion: version,
		})
		if p.cfg.Metrics != nil {
			p.cfg.Metrics.Crossings.WithLabelValues(m.Name, th.Name).Inc()
		}
		p.cfg.Log.Info().Str("contact_id", ev.ContactID).Str("model", m.Name).Str("threshold", th.Name).
			Float64("score", x.Score).Str("event_id", ev.ID).Str("crossing_id", x.CrossingID).Msg("threshold crossed")
	}
	return true
}

// deadLetter sends m to the dead-letter topic with err as the reason.
func (p *Processor) deadLetter(m *stream.Record, b *batch, kind string, err error) {
	d := stream.DeadLetter(*m, err.Error())
	if _, cut := d.Header(stream.HeaderDLQTruncated); cut {
		p.bounded("dead_letter")
	}
	b.deadLetters = append(b.deadLetters, d)
	p.outcome("dead_letter")
	p.count(kind, 1)
	p.cfg.Log.Warn().Int("partition", m.Partition).Int64("offset", m.Offset).Str("kind", kind).Err(err).Msg("dead-lettered an event")
}

// marshalCrossing is encoding/json's encoding of x without HTML escaping
// (no browser reads it, and escaping makes each '<', '>' or '&' six
// bytes), three times faster: goccy/go-json sorts map keys and escapes
// as encoding/json does (crossing_test.go holds them to the same bytes).
func marshalCrossing(x *events.Crossing) []byte {
	data, err := gojson.MarshalWithOption(x, gojson.DisableHTMLEscape())
	if err != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(x) // plain types: cannot fail
		data = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	return data
}

// appendLedger writes, per model and group, the points the rule awarded
// for this event and how much the group's clamped sum moved; the
// _total_clamp rows carry the total clamp, so deltas add up to the score.
func appendLedger(rows []analytics.LedgerRow, set *rules.Set, ev *events.Event, o *scoring.Outcome, version string) []analytics.LedgerRow {
	for _, mr := range o.Models {
		m := set.Models[mr.Model]
		start := len(rows)
		// The model's row for group g, added when first met: a few rows
		// an event, so a scan beats a map allocated per event.
		at := func(g int) int {
			name := analytics.TotalClampGroup
			if g >= 0 {
				name = m.Groups[g].Name
			}
			for i := start; i < len(rows); i++ {
				if rows[i].Group == name {
					return i
				}
			}
			rows = append(rows, analytics.LedgerRow{
				ContactID: ev.ContactID, Model: m.Name, EventID: ev.ID, Group: name,
				OccurredAt: ev.OccurredAt, RuleVersion: version,
			})
			return len(rows) - 1
		}
		// at may grow rows: index only once it returned.
		for _, a := range o.Awards {
			if a.Model == mr.Model {
				i := at(a.Group)
				rows[i].Points = a.Points
			}
		}
		for _, d := range mr.Deltas {
			i := at(d.Group)
			rows[i].Delta = d.Delta
		}
	}
	return rows
}
