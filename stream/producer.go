package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/segmentio/kafka-go"
)

// ProducerConfig configures a Producer. Brokers and Topic are required.
type ProducerConfig struct {
	Brokers []string
	Topic   string
	// BatchTimeout bounds how long a partial batch waits (default 5ms;
	// kafka-go's own default of 1s is too slow for latency).
	BatchTimeout time.Duration
	// BatchSize is the most messages per batch (default 1000).
	BatchSize int
	// Async makes Write return once the messages are queued; failures go
	// to OnError and are counted in Failed. Use it for throughput when the
	// caller does not need to know a message is durable before going on.
	Async bool
	// OnError is called, in async mode, with the messages a batch failed
	// to deliver. It must not block.
	OnError func(msgs []Record, err error)
	// Compression of batches: "" (none, the default), "gzip", "snappy",
	// "lz4" or "zstd".
	Compression string
	// BatchBytes bounds a batch's size (default MaxMessageBytes); raise it
	// only for a topic whose max.message.bytes is raised too.
	BatchBytes int
	// Partitioner chooses a record's partition from its key (default
	// Murmur2).
	Partitioner Partitioner
}

// Partitioner names how a producer maps a key to a partition.
type Partitioner int

const (
	// Murmur2 is the Java client's and franz-go's partitioner, and so the
	// one every scorebridge producer uses.
	Murmur2 Partitioner = iota
	// FNV1a is librdkafka's fnv1a (and kafka-go's Hash): a foreign
	// producer's choice, for fault scripts that mimic one.
	FNV1a
)

var compressions = map[string]kafka.Compression{
	"": 0, "gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
}

// Producer writes keyed messages to one topic with acks from all in-sync
// replicas. Messages with the same key go to the same partition (murmur2,
// as the Java client and franz-go choose), so one contact's events keep
// their order. It is safe for concurrent use.
type Producer struct {
	w           *kafka.Writer
	tr          *kafka.Transport
	addr        net.Addr
	direct      atomic.Pointer[kafka.Client] // for WritePartition
	topic       string
	async       bool
	compression kafka.Compression
	failed      atomic.Int64
}

// NewProducer builds a producer; it connects lazily on the first Write.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("producer: no brokers")
	}
	if cfg.Topic == "" {
		return nil, errors.New("producer: no topic")
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = 5 * time.Millisecond
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = MaxMessageBytes
	}
	compression, ok := compressions[cfg.Compression]
	if !ok {
		return nil, fmt.Errorf("producer for %s: unknown compression %q (want gzip, snappy, lz4 or zstd)", cfg.Topic, cfg.Compression)
	}
	var balancer kafka.Balancer = kafka.Murmur2Balancer{}
	switch cfg.Partitioner {
	case Murmur2:
	case FNV1a:
		balancer = &kafka.Hash{}
	default:
		return nil, fmt.Errorf("producer for %s: unknown partitioner %d", cfg.Topic, cfg.Partitioner)
	}
	// A transport of its own: the shared default transport caches metadata
	// and may still believe a just-created topic does not exist.
	p := &Producer{tr: &kafka.Transport{}, topic: cfg.Topic, async: cfg.Async, compression: compression}
	p.addr = kafka.TCP(cfg.Brokers...)
	p.newDirect(nil)
	p.w = &kafka.Writer{
		Addr:         p.addr,
		Topic:        cfg.Topic,
		Balancer:     balancer,
		RequiredAcks: kafka.RequireAll, // the default, none, loses messages when a leader moves
		BatchTimeout: cfg.BatchTimeout,
		BatchSize:    cfg.BatchSize,
		// Kafka refuses a record batch over max.message.bytes (1 MiB by
		// default), all of it: a batch must stay under it.
		BatchBytes:  int64(cfg.BatchBytes),
		Async:       cfg.Async,
		Compression: compression,
		Transport:   p.tr,
	}
	if cfg.Async {
		onErr := cfg.OnError
		p.w.Completion = func(msgs []kafka.Message, err error) {
			for i := range msgs {
				if t, ok := msgs[i].WriterData.(*tracker); ok {
					t.ack(err)
				}
			}
			if err == nil {
				return
			}
			p.failed.Add(int64(len(msgs)))
			if onErr != nil {
				onErr(fromKafka(msgs), err)
			}
		}
	}
	return p, nil
}

// Topic is the topic this producer writes to.
func (p *Producer) Topic() string { return p.topic }

// Write sends the messages. In sync mode it returns once every message is
// acknowledged by all in-sync replicas, or the error naming what failed; the
// messages of one call may be split across batches and partitions. A
// record's Topic, Partition and Offset are ignored (the producer's topic and
// partitioner decide).
func (p *Producer) Write(ctx context.Context, msgs ...Record) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := p.w.WriteMessages(ctx, toKafka(msgs)...); err != nil {
		return fmt.Errorf("write %d messages to %s: %w", len(msgs), p.topic, describeWriteErr(err))
	}
	return nil
}

// MaxMessageBytes bounds a batch of records the producer sends, and so
// each message: Kafka's default max.message.bytes is 1 MiB (1,048,588
// bytes) per record batch, and a broker refuses a larger batch whole. A
// single larger message fails to write (IsMessageTooLarge).
const MaxMessageBytes = 1_000_000

// maxRequestBytes bounds the records of one WritePartition request.
const maxRequestBytes = MaxMessageBytes

// WritePartition writes msgs, in order, to one partition of the topic and
// returns once all in-sync replicas acknowledged them. Unlike Write it
// skips the partitioner and sends at once, in as few produce requests as
// maxRequestBytes allows, one after the other: Write waits up to
// BatchTimeout for a batch to fill and looks the partition count up for
// every message. Use it when the caller knows the partition, e.g. a
// changelog co-partitioned with the input whose partition it holds.
// Temporary errors are retried (10 attempts, 100 ms to 1 s apart) while ctx
// lasts, with fresh metadata when the partition's leader moved (Write
// waits for the transport's next refresh, up to 6 s). msgs are not
// retained once it returns successfully; after an error a request may
// still be reading them.
func (p *Producer) WritePartition(ctx context.Context, partition int, msgs ...Record) error {
	for len(msgs) > 0 {
		n, size := 0, 0
		for ; n < len(msgs); n++ {
			// 21: the most a record adds in the v2 format besides key and
			// value (length, attributes, deltas, lengths, header count).
			s := recordSize(msgs[n].Key, msgs[n].Value, msgs[n].Headers)
			if n > 0 && size+s > maxRequestBytes {
				break
			}
			size += s
		}
		if err := p.produce(ctx, partition, msgs[:n]); err != nil {
			return fmt.Errorf("write %d messages to %s/%d: %w", len(msgs), p.topic, partition, err)
		}
		msgs = msgs[n:]
	}
	return nil
}

func (p *Producer) produce(ctx context.Context, partition int, msgs []Record) error {
	const attempts = 10
	// 100 ms doubling to 1 s: a leader election takes about that long.
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMaxInterval(time.Second), backoff.WithMaxElapsedTime(0))
	var err error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			delay := b.NextBackOff()
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			}
		}
		client := p.direct.Load()
		var res *kafka.ProduceResponse
		res, err = client.Produce(ctx, &kafka.ProduceRequest{
			Topic: p.topic, Partition: partition, RequiredAcks: kafka.RequireAll,
			Compression: p.compression, Records: &messageRecords{msgs: msgs},
		})
		if err == nil && res != nil && res.Error != nil {
			err = res.Error
		}
		if err == nil || !retriable(err) {
			return err
		}
		if staleMetadata(err) {
			p.newDirect(client)
		}
	}
	return err
}

// newDirect gives WritePartition a client with a transport of its own,
// replacing old: a transport refreshes its metadata only every 6 s, so
// after a partition's leader moved it would keep sending to the old one.
func (p *Producer) newDirect(old *kafka.Client) {
	c := &kafka.Client{Addr: p.addr, Transport: &kafka.Transport{}, Timeout: 10 * time.Second}
	if p.direct.CompareAndSwap(old, c) && old != nil {
		old.Transport.(*kafka.Transport).CloseIdleConnections()
	}
}

// staleMetadata says a request went to a broker that does not lead the
// partition (any more), or to one that does not know the topic yet.
func staleMetadata(err error) bool {
	return errors.Is(err, kafka.NotLeaderForPartition) || errors.Is(err, kafka.LeaderNotAvailable) ||
		errors.Is(err, kafka.UnknownTopicOrPartition)
}

// retriable is what kafka-go's Writer retries: a temporary Kafka error
// (e.g. a partition whose leader moved) or a dropped connection.
func retriable(err error) bool {
	var temp interface{ Temporary() bool }
	if errors.As(err, &temp) && temp.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// messageRecords reads records as those of a produce request without
// copying keys and values, as kafka-go's Writer does. The request encodes
// each record before reading the next, so rec and headers are reused.
type messageRecords struct {
	msgs       []Record
	i          int
	rec        kafka.Record
	headers    []kafka.Header
	key, value bytesRecord
}

func (r *messageRecords) ReadRecord() (*kafka.Record, error) {
	if r.i >= len(r.msgs) {
		return nil, io.EOF
	}
	m := &r.msgs[r.i]
	r.i++
	r.headers = r.headers[:0]
	for _, h := range m.Headers {
		r.headers = append(r.headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	r.rec = kafka.Record{Time: m.Time, Headers: r.headers}
	if m.Key != nil {
		r.key.Reset(m.Key)
		r.rec.Key = &r.key
	}
	if m.Value != nil {
		r.value.Reset(m.Value)
		r.rec.Value = &r.value
	}
	return &r.rec, nil
}

type bytesRecord struct{ bytes.Reader }

func (*bytesRecord) Close() error { return nil }

// WriteAsync queues the messages and returns at once; done is called
// exactly once, from a producer goroutine, when all of them are
// acknowledged (nil) or when one failed (its error). It lets a consumer
// process the next batch while this one is in flight, and commit this one
// from done (see Claim.Track). Only for a producer built with Async; done
// must not block.
func (p *Producer) WriteAsync(ctx context.Context, done func(error), msgs ...Record) error {
	if !p.async {
		return errors.New("WriteAsync needs ProducerConfig.Async")
	}
	if len(msgs) == 0 {
		done(nil)
		return nil
	}
	t := &tracker{done: done}
	t.remaining.Store(int64(len(msgs)))
	own := toKafka(msgs)
	for i := range own {
		own[i].WriterData = t
	}
	if err := p.w.WriteMessages(ctx, own...); err != nil {
		err = fmt.Errorf("write %d messages to %s: %w", len(msgs), p.topic, describeWriteErr(err))
		t.fail(err)
		return err
	}
	return nil
}

// tracker counts the acknowledgements of one WriteAsync call.
type tracker struct {
	remaining atomic.Int64
	once      sync.Once
	done      func(error)
}

func (t *tracker) ack(err error) {
	if err != nil {
		t.fail(err)
		return
	}
	if t.remaining.Add(-1) == 0 {
		t.once.Do(func() { t.done(nil) })
	}
}

func (t *tracker) fail(err error) { t.once.Do(func() { t.done(err) }) }

// IsMessageTooLarge says a write failed because a message (or its batch)
// exceeds what the broker or the producer accepts.
func IsMessageTooLarge(err error) bool {
	var client kafka.MessageTooLargeError
	return errors.Is(err, kafka.MessageSizeTooLarge) || errors.As(err, &client)
}

// Failed counts messages an async producer could not deliver.
func (p *Producer) Failed() int64 { return p.failed.Load() }

// Close flushes pending async batches and releases connections.
func (p *Producer) Close() error {
	err := p.w.Close()
	p.tr.CloseIdleConnections()
	p.direct.Load().Transport.(*kafka.Transport).CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("close producer for %s: %w", p.topic, err)
	}
	return nil
}

// describeWriteErr summarises kafka-go's per-message WriteErrors, which
// print as an unreadable list otherwise.
func describeWriteErr(err error) error {
	var we kafka.WriteErrors
	if !errors.As(err, &we) {
		return err
	}
	counts := map[string]int{}
	var first error
	for _, e := range we {
		if e != nil {
			counts[e.Error()]++
			if first == nil {
				first = e
			}
		}
	}
	parts := make([]string, 0, len(counts))
	for msg, n := range counts {
		parts = append(parts, fmt.Sprintf("%d x %s", n, msg))
	}
	// Both wrapped: errors.Is finds the cause, and errors.As the
	// per-message errors (which messages were written).
	return fmt.Errorf("%s: %w%w", strings.Join(parts, "; "), first, hidden{we})
}

// hidden wraps an error without adding to the message.
type hidden struct{ err error }

func (h hidden) Error() string { return "" }
func (h hidden) Unwrap() error { return h.err }

// Refused says which of the n records of a failed Write the broker
// refused, by index; ok is false when err does not say per record (then
// none may be assumed written).
func Refused(err error, n int) (refused []int, ok bool) {
	var each kafka.WriteErrors
	if !errors.As(err, &each) || len(each) != n {
		return nil, false
	}
	for i, e := range each {
		if e != nil {
			refused = append(refused, i)
		}
	}
	return refused, true
}

// WriteAlone writes one message in a produce request of its own, to the
// partition Write's partitioner (murmur2 of the key by default) would choose. Write
// batches the messages of concurrent callers together, so a broker that
// refuses one of them for its size refuses its batch-mates too; a caller
// that must know whether this message fits (a dead letter cut down to
// fit) writes it alone.
func (p *Producer) WriteAlone(ctx context.Context, m Record) error {
	meta, err := p.direct.Load().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{p.topic}})
	if err != nil {
		return fmt.Errorf("write to %s: partitions: %w", p.topic, err)
	}
	var parts []int
	for _, t := range meta.Topics {
		if t.Name != p.topic {
			continue
		}
		if t.Error != nil {
			return fmt.Errorf("write to %s: partitions: %w", p.topic, t.Error)
		}
		for _, pt := range t.Partitions {
			parts = append(parts, pt.ID)
		}
	}
	if len(parts) == 0 {
		return fmt.Errorf("write to %s: the topic has no partitions", p.topic)
	}
	slices.Sort(parts)
	partition := p.w.Balancer.Balance(kafka.Message{Key: m.Key}, parts...)
	if err := p.produce(ctx, partition, []Record{m}); err != nil {
		return fmt.Errorf("write 1 message to %s/%d: %w", p.topic, partition, err)
	}
	return nil
}
