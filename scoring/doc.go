// Package scoring computes lead scores: a pure function of (rules, a
// contact's state, one event) -> (new state, what happened). The same code
// serves the live consumer, the backtest, the rescore and the benchmarks;
// it must stay free of Kafka, ClickHouse, HTTP, clocks and logging.
//
// Scorer.Apply scores one event into its contact's state; Scorer.ApplyBatch
// scores a run of events the same way, in order, while it asks the CPU to
// fetch the state of the contacts a few events ahead: with many contacts
// scoring mostly waits for memory, and a caller with a batch at hand (the
// live service, with each batch it fetches) should use it.
//
// Evaluate is the semantics written out directly over a contact's events;
// it explains scores and is the oracle the tests hold the fast incremental
// Contact state to.
package scoring
