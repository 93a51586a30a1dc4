// Package scoring computes lead scores: a pure function of (rules, a
// contact's state, one event) -> (new state, what happened). The same code
// serves the live consumer, the backtest, the rescore and the benchmarks;
// it must stay free of Kafka, ClickHouse, HTTP, clocks and logging.
//
// Evaluate is the semantics written out directly over a contact's events;
// it explains scores and is the oracle the tests hold the fast incremental
// Contact state to.
package scoring
