// Package demo is what `scorer demo-report` (scripts/demo.sh's helper)
// does: read both services' /metrics, ask the scorer for live scores, write
// the sandbox's contacts from the history, and print the progress line and
// the closing report. It reads only what the services expose (HTTP and
// ClickHouse), so the demo shows what an operator sees; it must not score,
// decide or talk to Kafka.
package demo
