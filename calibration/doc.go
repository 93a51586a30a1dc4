// Package calibration answers "does the score predict conversions?" and
// suggests points that would predict them better: the AUC, bands and
// thresholds of each model's score at a time T0 against conversions in the
// window after it, and a regularised logistic fit of a model's points.
//
// The summaries are computed from (score, contacts, converted) buckets, so
// a history file (FromHistory) and the ClickHouse ledger (FromStore, whose
// SQL rebuilds the scores at T0) share the same arithmetic. It reads files,
// rule sources and the stored history through analytics.Store's Query; it
// must not talk to Kafka, or to ClickHouse other than through analytics.
package calibration
