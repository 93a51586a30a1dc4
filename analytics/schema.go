package analytics

import (
	"time"
)

// colDef builds one column of a batch from buffered rows. Columns are built
// as typed slices and appended whole (columnar), which is several times
// faster in clickhouse-go than appending row by row. build fills the
// slice it is given (the last insert's, which the driver has copied),
// grown as needed: no column is allocated per insert.
type colDef[R any] struct {
	name  string
	build func(rows []R, into any) any
}

// reuse is into's array (a slice of E, or nil) with n elements.
func reuse[E any](into any, n int) []E {
	out, _ := into.([]E)
	if cap(out) < n {
		return make([]E, n)
	}
	return out[:n]
}

func strCol[R any](name string, f func(*R) string) colDef[R] {
	return colDef[R]{name, func(rows []R, into any) any {
		out := reuse[string](into, len(rows))
		for i := range rows {
			out[i] = f(&rows[i])
		}
		return out
	}}
}

func i64Col[R any](name string, f func(*R) int64) colDef[R] {
	return colDef[R]{name, func(rows []R, into any) any {
		out := reuse[int64](into, len(rows))
		for i := range rows {
			out[i] = f(&rows[i])
		}
		return out
	}}
}

// timeCols gives a DateTime column (seconds, for partitions and analysts)
// and an Int64 microseconds column: 18.16 has no DateTime64, and ordering a
// contact's touches and "strictly before the conversion" need sub-second
// precision.
func timeCols[R any](name, usName string, f func(*R) time.Time) []colDef[R] {
	return []colDef[R]{
		{name, func(rows []R, into any) any {
			out := reuse[time.Time](into, len(rows))
			for i := range rows {
				out[i] = f(&rows[i]).UTC()
			}
			return out
		}},
		i64Col(usName, func(r *R) int64 { return f(r).UnixMicro() }),
	}
}

// versionCols are the ReplacingMergeTree version (UInt64, nanoseconds of
// ingestion) and a readable ingested_at.
func versionCols[R any](f func(*R) time.Time) []colDef[R] {
	return []colDef[R]{
		{"ingested_at", func(rows []R, into any) any {
			out := reuse[time.Time](into, len(rows))
			for i := range rows {
				out[i] = f(&rows[i]).UTC()
			}
			return out
		}},
		{"version", func(rows []R, into any) any {
			out := reuse[uint64](into, len(rows))
			for i := range rows {
				out[i] = uint64(f(&rows[i]).UnixNano())
			}
			return out
		}},
	}
}

type tableDef[R any] struct {
	name  string
	cols  []colDef[R]
	stamp func(*R, time.Time) // sets IngestedAt when zero
}

func (t tableDef[R]) columnNames() []string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.name
	}
	return out
}

// columns builds the rows' columns into cols (the last call's, or nil)
// and returns them.
func (t tableDef[R]) columns(rows []R, cols []any) []any {
	if len(cols) != len(t.cols) {
		cols = make([]any, len(t.cols))
	}
	for i, c := range t.cols {
		cols[i] = c.build(rows, cols[i])
	}
	return cols
}

// clearColumns drops the strings the columns hold, keeping the arrays.
func clearColumns(cols []any) {
	for _, c := range cols {
		switch s := c.(type) {
		case []string:
			clear(s[:cap(s)])
		case [][]string:
			clear(s[:cap(s)])
		}
	}
}

func cat[R any](parts ...[]colDef[R]) []colDef[R] {
	var out []colDef[R]
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one[R any](c colDef[R]) []colDef[R] { return []colDef[R]{c} }

var touchTable = tableDef[Touch]{
	name: "touches",
	cols: cat(
		one(strCol("event_id", func(r *Touch) string { return r.EventID })),
		one(strCol("contact_id", func(r *Touch) string { return r.ContactID })),
		one(strCol("company_id", func(r *Touch) string { return r.CompanyID })),
		one(strCol("type", func(r *Touch) string { return r.Type })),
		one(strCol("channel", func(r *Touch) string { return r.Channel })),
		one(strCol("campaign", func(r *Touch) string { return r.Campaign })),
		timeCols("occurred_at", "occurred_us", func(r *Touch) time.Time { return r.OccurredAt }),
		one(strCol("properties", func(r *Touch) string {
			if r.Properties == "" {
				return "{}"
			}
			return r.Properties
		})),
		one(strCol("contact", func(r *Touch) string {
			if r.Contact == "" {
				return "{}"
			}
			return r.Contact
		})),
		one(strCol("rule_version", func(r *Touch) string { return r.RuleVersion })),
		versionCols(func(r *Touch) time.Time { return r.IngestedAt }),
	),
	stamp: func(r *Touch, t time.Time) {
		if r.IngestedAt.IsZero() {
			r.IngestedAt = t
		}
	},
}

var ledgerTable = tableDef[LedgerRow]{
	name: "score_ledger",
	cols: cat(
		one(strCol("contact_id", func(r *LedgerRow) string { return r.ContactID })),
		one(strCol("model", func(r *LedgerRow) string { return r.Model })),
		one(strCol("event_id", func(r *LedgerRow) string { return r.EventID })),
		one(strCol("group_name", func(r *LedgerRow) string { return r.Group })),
		one(i64Col("points", func(r *LedgerRow) int64 { return r.Points })),
		one(i64Col("delta", func(r *LedgerRow) int64 { return r.Delta })),
		timeCols("occurred_at", "occurred_us", func(r *LedgerRow) time.Time { return r.OccurredAt }),
		one(strCol("rule_version", func(r *LedgerRow) string { return r.RuleVersion })),
		versionCols(func(r *LedgerRow) time.Time { return r.IngestedAt }),
	),
	stamp: func(r *LedgerRow, t time.Time) {
		if r.IngestedAt.IsZero() {
			r.IngestedAt = t
		}
	},
}

var crossingTable = tableDef[CrossingRow]{
	name: "crossings",
	cols: cat(
		one(strCol("crossing_id", func(r *CrossingRow) string { return r.CrossingID })),
		one(strCol("contact_id", func(r *CrossingRow) string { return r.ContactID })),
		one(strCol("company_id", func(r *CrossingRow) string { return r.CompanyID })),
		one(strCol("model", func(r *CrossingRow) string { return r.Model })),
		one(strCol("threshold_name", func(r *CrossingRow) string { return r.ThresholdName })),
		one(i64Col("threshold", func(r *CrossingRow) int64 { return r.Threshold })),
		one(i64Col("score", func(r *CrossingRow) int64 { return r.Score })),
		timeCols("crossed_at", "crossed_us", func(r *CrossingRow) time.Time { return r.CrossedAt }),
		one(strCol("event_id", func(r *CrossingRow) string { return r.EventID })),
		one(strCol("rule_version", func(r *CrossingRow) string { return r.RuleVersion })),
		versionCols(func(r *CrossingRow) time.Time { return r.IngestedAt }),
	),
	stamp: func(r *CrossingRow, t time.Time) {
		if r.IngestedAt.IsZero() {
			r.IngestedAt = t
		}
	},
}

var decisionTable = tableDef[Decision]{
	name: "decisions",
	cols: cat(
		one(strCol("decision_id", func(r *Decision) string { return r.DecisionID })),
		one(strCol("crossing_id", func(r *Decision) string { return r.CrossingID })),
		one(strCol("contact_id", func(r *Decision) string { return r.ContactID })),
		one(strCol("company_id", func(r *Decision) string { return r.CompanyID })),
		one(strCol("model", func(r *Decision) string { return r.Model })),
		one(strCol("target_kind", func(r *Decision) string { return r.TargetKind })),
		one(strCol("target_id", func(r *Decision) string { return r.TargetID })),
		one(strCol("sender", func(r *Decision) string { return r.Sender })),
		one(strCol("outcome", func(r *Decision) string { return r.Outcome })),
		one(strCol("reason", func(r *Decision) string { return r.Reason })),
		one(strCol("detail", func(r *Decision) string { return r.Detail })),
		timeCols("decided_at", "decided_us", func(r *Decision) time.Time { return r.DecidedAt }),
		versionCols(func(r *Decision) time.Time { return r.IngestedAt }),
	),
	stamp: func(r *Decision, t time.Time) {
		if r.IngestedAt.IsZero() {
			r.IngestedAt = t
		}
	},
}

var apiCallTable = tableDef[APICall]{
	name: "api_calls",
	cols: cat(
		one(strCol("call_id", func(r *APICall) string { return r.CallID })),
		one(strCol("contact_id", func(r *APICall) string { return r.ContactID })),
		one(strCol("crossing_id", func(r *APICall) string { return r.CrossingID })),
		one(strCol("method", func(r *APICall) string { return r.Method })),
		one(strCol("path", func(r *APICall) string { return r.Path })),
		one(i64Col("status", func(r *APICall) int64 { return r.Status })),
		one(i64Col("latency_ms", func(r *APICall) int64 { return r.LatencyMS })),
		one(strCol("correlation_id", func(r *APICall) string { return r.CorrelationID })),
		one(strCol("request_body", func(r *APICall) string { return r.RequestBody })),
		one(strCol("response_body", func(r *APICall) string { return r.ResponseBody })),
		one(strCol("error", func(r *APICall) string { return r.Error })),
		timeCols("at", "at_us", func(r *APICall) time.Time { return r.At }),
		versionCols(func(r *APICall) time.Time { return r.IngestedAt }),
	),
	stamp: func(r *APICall, t time.Time) {
		if r.IngestedAt.IsZero() {
			r.IngestedAt = t
		}
	},
}

var enrollmentTable = tableDef[EnrollmentEvent]{
	name: "enrollment_events",
	cols: cat(
		one(strCol("event_id", func(r *EnrollmentEvent) string { return r.EventID })),
		one(strCol("contact_id", func(r *EnrollmentEvent) string { return r.ContactID })),
		one(strCol("sequence_id", func(r *EnrollmentEvent) string { return r.SequenceID })),
		one(strCol("owner_id", func(r *EnrollmentEvent) string { return r.OwnerID })),
		one(strCol("crossing_id", func(r *EnrollmentEvent) string { return r.CrossingID })),
		one(strCol("kind", func(r *EnrollmentEvent) string { return r.Kind })),
		one(strCol("reason", func(r *EnrollmentEvent) string { return r.Reason })),
		timeCols("at", "at_us", func(r *EnrollmentEvent) time.Time { return r.At }),
		versionCols(func(r *EnrollmentEvent) time.Time { return r.IngestedAt }),
	),
	stamp: func(r *EnrollmentEvent, t time.Time) {
		if r.IngestedAt.IsZero() {
			r.IngestedAt = t
		}
	},
}
