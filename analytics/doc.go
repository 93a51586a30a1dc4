// Package analytics stores scorebridge's touch history in ClickHouse and
// answers the reports analysts and revenue teams read: touch attribution,
// sequence cadence, a contact's timeline and the bridge's decisions.
//
// It owns the schema (versioned migrations recorded in schema_migrations),
// a batched Writer that never drops rows, and the report queries. The same
// queries run on Debian's ClickHouse 18.16 and on modern servers (26.x); only
// the DDL differs (LowCardinality, codecs and TTL when the server has them).
// It must not score events, talk to Kafka or call HubSpot: callers hand it
// rows. It imports no package of the scoring side (rules, scoring,
// calibration): reports that need the rules are built above it and run
// through Query.
//
// Stable API (other packages and cmd/ wire these):
//
//	Open(ctx, dsn) (*Store, error)        connect over the native protocol, create the database, migrate
//	(*Store).Close() error
//	(*Store).NewWriter(WriterOptions) *Writer
//	(*Writer).AddTouches/AddLedger/AddCrossings/AddDecisions/AddAPICalls/AddEnrollmentEvents(rows...) error
//	(*Writer).Flush(ctx) error            blocks until every row added before the call is stored
//	(*Writer).Close(ctx) error            flushes, then stops the background flusher
//	(*Store).Attribution(ctx, AttributionQuery) (AttributionReport, error)
//	(*Store).Cadence(ctx, CadenceQuery) (CadenceReport, error)
//	(*Store).Timeline(ctx, contactID) (TimelineReport, error)
//	(*Store).Decisions(ctx, contactID) (DecisionsReport, error)
//	(*Store).APICalls(ctx, contactID) (APICallsReport, error)
//	(*Store).Score(ctx, contactID, model) (int64, error)  micro-points, from the ledger
//	(*Store).Query(ctx, sql) (Rows, error)  a SELECT rendered above this package (calibration's), literals by Quote
//	RunReport(ctx, store, args, w) error  the `scorer report ...` command line
//	Write(w, format, report) error        table | csv | json
//	TouchFromEvent(events.Event, ruleVersion) Touch
//
// Replays are expected (at-least-once delivery): every table is a
// ReplacingMergeTree keyed by the row's natural id, and every report
// de-duplicates, so a row written twice is counted once.
//
// Points and scores are int64 micro-points (1 point = 1,000,000), exactly as
// the scoring core keeps them.
package analytics
