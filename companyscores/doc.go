// Package companyscores is the message of the `company-scores` topic: a
// company's current scores under every company model, one JSON message
// per company keyed by its company_id, on a compacted topic (the latest
// message per key is the company's current state; a nil value, a
// tombstone, says the company was forgotten). It is a public interface
// (docs/company-scores.md); the scorer's company aggregator publishes it
// and the bridge's write-back reads it.
//
// Build derives a message from a company's aggregate alone, so the
// aggregator and a replay after a crash agree on it. Compare holds the
// messages to the reference of a history (accounts.Companies), as `scorer
// state company-scores --events` does. It does no I/O.
package companyscores
