// Package bridge is the bridge service, as package scorer is the scorer's:
// it consumes threshold crossings from Kafka, hands them to the
// enrollment pipeline and commits a batch's offset only once every
// crossing in it and before it is durably decided; it runs the periodic
// work (held releases, workflow-exit retries, the audit flush, pruning),
// the optional write-back, and the HTTP endpoints (/metrics, /healthz,
// /readyz, /decisions). It waits for ClickHouse at start rather than exit.
//
// The decisions themselves live in package enrollment; HubSpot in hubspot,
// Kafka in stream, ClickHouse in analytics. cmd/bridge only maps flags and
// environment to Options and calls Run.
package bridge
