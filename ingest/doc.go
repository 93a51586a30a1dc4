// Package ingest turns HubSpot's own activity into engagement events on
// the events topic: webhooks (contact creation, property changes,
// deletions), validated with X-HubSpot-Signature-v3 and acknowledged only
// once Kafka has the events. Event ids are derived from HubSpot's, so its
// retries and our replays are de-duplicated by the scorer.
//
// It does not score and does not call HubSpot; cmd/bridge wires it
// (`bridge ingest`).
package ingest
