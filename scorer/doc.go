// Package scorer is the scorer service: a stream.Handler that decodes
// engagement events, scores them with the scoring core, announces
// threshold crossings, records touches and ledger rows, and keeps each
// partition's contact state in a compacted changelog topic, saved after
// the effects it reflects and before the offset is committed. It owns the
// order of effects that makes crashes and replays harmless; the scoring
// itself stays in package scoring.
package scorer
