// Package demo is what `scorer demo-report` (scripts/demo.sh's helper)
// does: read both services' /metrics, ask the scorer for live scores, write
// the sandbox's contacts from the history, make the demo's activity in the
// HubSpot sandbox (contacts created and edited, email events; its admin
// API), wait for it to come back through bridge ingest and the write-back,
// read contacts' properties over the sandbox's CRM API, and print the
// progress lines and the closing report. It reads only what the services
// expose (HTTP and ClickHouse), so the demo shows what an operator sees; it
// must not score, decide or talk to Kafka.
package demo
