// Package ingest puts engagement events on the events topic from outside
// the scorer. It turns HubSpot's own activity into events: webhooks
// (contact creation, property changes, deletions), validated with
// X-HubSpot-Signature-v3 and acknowledged only once Kafka has the events,
// and the email-events poller. Event ids are derived from HubSpot's, so its
// retries and our replays are de-duplicated by the scorer. Lines sends a
// JSONL history as it is (`scorer produce`).
//
// Run is the `bridge ingest` service (topics, producers, the poller, the
// HTTP server); cmd/bridge maps its flags to Options. It does not score.
package ingest
