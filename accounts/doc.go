// Package accounts scores companies from their contacts (account scoring):
// a company model rolls up the current scores its member contacts have in
// a contact model, adds points for the buying-group roles present, and
// announces threshold crossings.
//
// Reference (Members, Evaluate, Companies, Crossings) is the semantics
// written out over the set of events and over the stream of member changes
// a company receives: it explains company scores and is the oracle the
// live aggregator (package scorer) and the backtest are tested against.
// Aggregate is the incremental state the live aggregator keeps per company.
// Like package scoring, it stays free of Kafka, ClickHouse, HTTP, clocks
// and logging.
package accounts
