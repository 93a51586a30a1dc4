// Package enrollment decides, for each threshold crossing, whether, when and
// where a contact is enrolled: a HubSpot sequence (1:1 sales) or a workflow
// (1:many nurture), and records every decision.
//
// The decision is a pipeline of small stages (Route, Resume, Suppress, Exclusive,
// Quota, BusinessHours, Send) modelled on Alertmanager's notify pipeline: a
// stage either returns a Decision or passes the Attempt on. The durable
// Store holds the bridge's ledger, the held queue, write-ahead intents and
// the decision outbox, so that a crossing is never enrolled twice and never
// lost across restarts.
//
// The package does no Kafka, ClickHouse or HubSpot HTTP of its own: it talks
// to the outside through the Sink and Recorder interfaces, and time comes
// from an injected clock. It must not log tokens or whole payloads.
package enrollment
