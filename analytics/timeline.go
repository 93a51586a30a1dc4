package analytics

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// TimelineEntry is one touch of a contact, with what it did to the scores.
type TimelineEntry struct {
	At          time.Time        `json:"at"`
	EventID     string           `json:"event_id"`
	Type        string           `json:"type"`
	Channel     string           `json:"channel,omitempty"`
	Campaign    string           `json:"campaign,omitempty"`
	Properties  string           `json:"properties,omitempty"`
	RuleVersion string           `json:"rule_version,omitempty"`
	Delta       map[string]int64 `json:"delta,omitempty"`       // micro-points per model
	ScoreAfter  map[string]int64 `json:"score_after,omitempty"` // micro-points per model, running ledger sum
	Crossings   []string         `json:"crossings,omitempty"`   // "model/threshold_name"
}

// TimelineReport is the answer of Timeline.
type TimelineReport struct {
	ContactID string          `json:"contact_id"`
	Entries   []TimelineEntry `json:"entries"`
	SQL       []string        `json:"-"`
}

func timelineSQL(contactID string) []string {
	c := quote(contactID)
	return []string{
		`SELECT event_id,
    argMax(type, version) AS t_type,
    argMax(channel, version) AS t_channel,
    argMax(campaign, version) AS t_campaign,
    argMax(occurred_us, version) AS t_at,
    argMax(properties, version) AS t_props,
    argMax(rule_version, version) AS t_rules
FROM touches
WHERE contact_id = ` + c + `
GROUP BY event_id`,
		`SELECT event_id, model, sum(l_delta) AS d
FROM (
    SELECT event_id, model, group_name, argMax(delta, version) AS l_delta
    FROM score_ledger
    WHERE contact_id = ` + c + `
    GROUP BY event_id, model, group_name
)
GROUP BY event_id, model`,
		`SELECT crossing_id,
    argMax(event_id, version) AS x_event,
    argMax(model, version) AS x_model,
    argMax(threshold_name, version) AS x_name
FROM crossings
WHERE contact_id = ` + c + `
GROUP BY crossing_id`,
	}
}

// Timeline lists a contact's touches in order with each one's score change
// and the crossings it caused: what an owner reads before calling.
func (s *Store) Timeline(ctx context.Context, contactID string) (TimelineReport, error) {
	return timeline(ctx, s.db, contactID)
}

func timeline(ctx context.Context, d db, contactID string) (TimelineReport, error) {
	sqls := timelineSQL(contactID)
	rep := TimelineReport{ContactID: contactID, SQL: sqls}
	byEvent := map[string]*TimelineEntry{}
	err := each(ctx, d, sqls[0], func(r rows) error {
		var e TimelineEntry
		var at int64
		if err := r.Scan(&e.EventID, &e.Type, &e.Channel, &e.Campaign, &at, &e.Properties, &e.RuleVersion); err != nil {
			return err
		}
		e.At = time.UnixMicro(at).UTC()
		rep.Entries = append(rep.Entries, e)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("timeline of %s: %w", contactID, err)
	}
	sort.Slice(rep.Entries, func(i, j int) bool {
		a, b := rep.Entries[i], rep.Entries[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		return a.EventID < b.EventID
	})
	for i := range rep.Entries {
		byEvent[rep.Entries[i].EventID] = &rep.Entries[i]
	}
	err = each(ctx, d, sqls[1], func(r rows) error {
		var ev, model string
		var delta int64
		if err := r.Scan(&ev, &model, &delta); err != nil {
			return err
		}
		if e := byEvent[ev]; e != nil {
			if e.Delta == nil {
				e.Delta = map[string]int64{}
			}
			e.Delta[model] += delta
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("timeline of %s: ledger: %w", contactID, err)
	}
	err = each(ctx, d, sqls[2], func(r rows) error {
		var id, ev, model, name string
		if err := r.Scan(&id, &ev, &model, &name); err != nil {
			return err
		}
		if e := byEvent[ev]; e != nil {
			e.Crossings = append(e.Crossings, model+"/"+name)
			sort.Strings(e.Crossings)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("timeline of %s: crossings: %w", contactID, err)
	}
	running := map[string]int64{}
	for i := range rep.Entries {
		e := &rep.Entries[i]
		if len(e.Delta) == 0 {
			continue
		}
		e.ScoreAfter = map[string]int64{}
		for m, dl := range e.Delta {
			running[m] += dl
		}
		for m, v := range running {
			e.ScoreAfter[m] = v
		}
	}
	return rep, nil
}

// Score is the contact's current score in a model in micro-points: the sum
// of the de-duplicated ledger deltas.
func (s *Store) Score(ctx context.Context, contactID, model string) (int64, error) {
	sql := `SELECT sum(l_delta) FROM (
    SELECT argMax(delta, version) AS l_delta
    FROM score_ledger
    WHERE contact_id = ` + quote(contactID) + ` AND model = ` + quote(model) + `
    GROUP BY event_id, group_name
)`
	var v int64
	err := each(ctx, s.db, sql, func(r rows) error { return r.Scan(&v) })
	if err != nil {
		return 0, fmt.Errorf("score of %s in %s: %w", contactID, model, err)
	}
	return v, nil
}

// DecisionsReport lists the bridge's decisions about a contact.
type DecisionsReport struct {
	ContactID string     `json:"contact_id"`
	Decisions []Decision `json:"decisions"`
	SQL       []string   `json:"-"`
}

func decisionsSQL(contactID string) string {
	return `SELECT decision_id,
    argMax(crossing_id, version) AS d_crossing,
    argMax(company_id, version) AS d_company,
    argMax(model, version) AS d_model,
    argMax(target_kind, version) AS d_kind,
    argMax(target_id, version) AS d_target,
    argMax(sender, version) AS d_sender,
    argMax(outcome, version) AS d_outcome,
    argMax(reason, version) AS d_reason,
    argMax(detail, version) AS d_detail,
    argMax(decided_us, version) AS d_at
FROM decisions
WHERE contact_id = ` + quote(contactID) + `
GROUP BY decision_id
ORDER BY d_at, decision_id`
}

// Decisions lists the bridge's decisions about a contact, oldest first.
func (s *Store) Decisions(ctx context.Context, contactID string) (DecisionsReport, error) {
	return decisions(ctx, s.db, contactID)
}

func decisions(ctx context.Context, d db, contactID string) (DecisionsReport, error) {
	sql := decisionsSQL(contactID)
	rep := DecisionsReport{ContactID: contactID, SQL: []string{sql}}
	err := each(ctx, d, sql, func(r rows) error {
		x := Decision{ContactID: contactID}
		var at int64
		if err := r.Scan(&x.DecisionID, &x.CrossingID, &x.CompanyID, &x.Model, &x.TargetKind, &x.TargetID,
			&x.Sender, &x.Outcome, &x.Reason, &x.Detail, &at); err != nil {
			return err
		}
		x.DecidedAt = time.UnixMicro(at).UTC()
		rep.Decisions = append(rep.Decisions, x)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("decisions of %s: %w", contactID, err)
	}
	return rep, nil
}

// APICallsReport lists the bridge's HTTP exchanges about a contact.
type APICallsReport struct {
	ContactID string    `json:"contact_id"`
	Calls     []APICall `json:"calls"`
	SQL       []string  `json:"-"`
}

func apiCallsSQL(contactID string) string {
	return `SELECT call_id,
    argMax(crossing_id, version) AS a_crossing,
    argMax(method, version) AS a_method,
    argMax(path, version) AS a_path,
    argMax(status, version) AS a_status,
    argMax(latency_ms, version) AS a_latency,
    argMax(correlation_id, version) AS a_corr,
    argMax(request_body, version) AS a_req,
    argMax(response_body, version) AS a_resp,
    argMax(error, version) AS a_err,
    argMax(at_us, version) AS a_at
FROM api_calls
WHERE contact_id = ` + quote(contactID) + `
GROUP BY call_id
ORDER BY a_at, call_id`
}

// APICalls lists the bridge's HTTP exchanges about a contact, oldest first.
func (s *Store) APICalls(ctx context.Context, contactID string) (APICallsReport, error) {
	return apiCalls(ctx, s.db, contactID)
}

func apiCalls(ctx context.Context, d db, contactID string) (APICallsReport, error) {
	sql := apiCallsSQL(contactID)
	rep := APICallsReport{ContactID: contactID, SQL: []string{sql}}
	err := each(ctx, d, sql, func(r rows) error {
		x := APICall{ContactID: contactID}
		var at int64
		if err := r.Scan(&x.CallID, &x.CrossingID, &x.Method, &x.Path, &x.Status, &x.LatencyMS, &x.CorrelationID,
			&x.RequestBody, &x.ResponseBody, &x.Error, &at); err != nil {
			return err
		}
		x.At = time.UnixMicro(at).UTC()
		rep.Calls = append(rep.Calls, x)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("API calls of %s: %w", contactID, err)
	}
	return rep, nil
}
