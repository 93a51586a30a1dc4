// Package scorerbench is the scorer measured by the Kafka benchmark
// (cmd/kafkabench, over the harness cmd/internal/kafkabench): the scorer's
// processor as a kafkabench.Pipeline, with or without its ClickHouse
// history, over the benchmark rules (Engine) and synthetic engagement
// (Source); and Accounts, the scorer with and without a company model.
// It prints figures; it never asserts on timings.
package scorerbench
