// Package backtest replays a JSONL engagement history through the scoring
// core: the backtest marketing ops run before publishing rules, the
// comparison of two rule sets (rescore), and the explanation of one
// contact's score. Run streams on one core and RunParallel on every core
// (memory grows with contacts, not events); a History is decoded once and
// held in memory, for what scores the same history again and again (a
// rescore, the studio's previews). It reads files; it must not talk to
// Kafka or ClickHouse.
package backtest
