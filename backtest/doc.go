// Package backtest replays a JSONL engagement history through the scoring
// core: the backtest marketing ops run before publishing rules, and the
// explanation of one contact's score. It streams: memory grows with
// contacts, not events. It reads files; it must not talk to Kafka or
// ClickHouse.
package backtest
