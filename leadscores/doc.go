// Package leadscores is the message of the `lead-scores` topic: a
// contact's current scores under every model, one JSON message per
// contact keyed by its contact_id, on a compacted topic (the latest
// message per key is the contact's current state; a nil value, a
// tombstone, says the contact was forgotten). It is a public interface
// other teams consume (docs/lead-scores.md); the scorer publishes it and
// the bridge's write-back reads it.
//
// Build derives a message from a contact's scoring state alone, so the
// scorer, a replay and the backtest agree on it. It does no I/O.
package leadscores
