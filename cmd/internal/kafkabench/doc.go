// Package kafkabench measures Kafka throughput and latency on the local
// broker: how fast N engagement events are produced, how fast kafka-go's
// group Reader, stream.GroupConsumer and franz-go's kgo consume them raw,
// and, when given a Pipeline (consume -> process -> produce -> commit),
// how fast that pipeline runs end to end and its produce-to-downstream
// latency at a fixed rate. The event Source and the Pipeline are
// pluggable so the scorer can be measured the same way.
//
// It prints figures; it never asserts on timings.
package kafkabench
