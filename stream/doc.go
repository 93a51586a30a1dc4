// Package stream is scorebridge's Kafka layer: small adapters around
// kafka-go (github.com/segmentio/kafka-go) for creating topics, producing
// keyed messages, consuming as a member of a consumer group with explicit
// per-partition commits, dead-lettering bad messages and restoring state
// from a compacted changelog. It knows nothing of events, rules or scores
// and must not: the scorer and the bridge put their logic in a Handler.
//
// It is the only package that knows the Kafka client: everything else
// speaks Record and Header, and a test (boundary_test.go) fails when a
// non-test file outside stream/ imports kafka-go. A change of client is a
// change of stream alone.
//
// # Records
//
//	type Record struct { Topic string; Partition int; Offset int64; Key, Value []byte; Headers []Header; Time time.Time }
//	type Header struct { Key string; Value []byte }
//	func (r Record) Header(name string) (string, bool)
//	func Message(key string, value []byte, headers ...string) Record  // headers as name, value pairs
//
// Delivery is at least once. kafka-go has no transactions, so effects must
// be idempotent (e.g. a deterministic crossing_id) and a message counts as
// done only when the caller says its effects are durable.
//
// # Topics
//
//	type Topic struct { Name string; Partitions int; Compacted bool; Configs map[string]string }
//	func EnsureTopics(ctx context.Context, brokers []string, topics ...Topic) error
//	func ParseTopics(s string) ([]Topic, error)        // "name[:partitions],..."
//	func Partitions(ctx context.Context, brokers []string, topic string) (int, error)
//
// EnsureTopics creates what is missing (existing topics are left alone)
// and returns only once metadata shows every partition with a leader.
//
// # Producing
//
//	type ProducerConfig struct { Brokers []string; Topic string; BatchTimeout time.Duration; BatchSize int;
//	                             Async bool; OnError func([]Record, error); Compression string;
//	                             BatchBytes int; Partitioner Partitioner }
//	func NewProducer(cfg ProducerConfig) (*Producer, error)
//	func (p *Producer) Write(ctx context.Context, msgs ...Record) error        // sync: returns when acked by all ISR
//	func (p *Producer) WriteAsync(ctx context.Context, done func(error), msgs ...Record) error // Async only
//	func (p *Producer) WritePartition(ctx context.Context, partition int, msgs ...Record) error // sync, at once
//	func (p *Producer) WriteAlone(ctx context.Context, m Record) error         // a produce request of its own
//	func (p *Producer) Failed() int64
//	func (p *Producer) Close() error
//	func IsMessageTooLarge(err error) bool
//	func KeyPartition(key []byte, n int) int                                   // murmur2, as the producer
//
// Producers always use RequiredAcks=RequireAll, a 5 ms batch timeout and,
// unless a fault script asks for FNV1a, the murmur2 partitioner (as the
// Java client and franz-go): key every
// message by contact id so a contact's messages stay in one partition, in
// order.
// WritePartition is for a caller that knows the partition (a changelog
// co-partitioned with its input): no partitioner and no batch timeout, one
// produce request per MB.
//
// # Consuming in a group
//
//	type GroupConfig struct { Brokers []string; Group, Topic string; StartOffset int64; MaxBatch int;
//	                          CommitInterval, HeartbeatInterval, SessionTimeout, RebalanceTimeout,
//	                          RevokeTimeout, MaxWait time.Duration; Log *zerolog.Logger }
//	type Handler interface {
//		Assigned(ctx context.Context, c *Claim) error                        // restore the partition's state
//		Handle(ctx context.Context, c *Claim, msgs []Record) error           // a batch, in offset order
//		Revoked(ctx context.Context, c *Claim) error                         // flush; then marks are committed
//	}
//	func NewGroupConsumer(cfg GroupConfig, h Handler) (*GroupConsumer, error)
//	func (g *GroupConsumer) Run(ctx context.Context) error   // until ctx ends (nil) or a callback fails
//	func (g *GroupConsumer) Assignment() []int
//	func (g *GroupConsumer) Lag() int64
//
//	type Claim struct { Topic string; Partition int; Generation int32; MemberID string; Committed int64 }
//	func (c *Claim) Commit(next int64)             // messages before next are durable
//	func (c *Claim) Track(next int64) (done func()) // same, once done() is called; in Track order
//	func (c *Claim) WaitTracked(ctx context.Context) error
//	func (c *Claim) StartAt(offset int64)          // in Assigned: resume elsewhere than Committed
//	func (c *Claim) Marked() int64
//	func (c *Claim) Lag() int64
//
// GroupConsumer is built on kafka-go's ConsumerGroup/Generation API, not
// on kafka.Reader, because the Reader hides the partition assignment a
// stateful consumer must act on. Each assigned partition gets its own
// goroutine and fetcher; marks are committed every CommitInterval, after
// Revoked, and when Run returns (which also leaves the group, so another
// member takes over at once). kafka-go rebalances eagerly: every rebalance
// revokes all partitions and assigns them again. A member killed without
// leaving is replaced after SessionTimeout; its partitions resume at its
// last commit.
//
// # Dead letters and changelogs
//
//	func DeadLetter(m Record, reason string) Record   // original key, value, time, headers + dlq-*
//	func SendDeadLetter(ctx context.Context, dlq *Producer, m Record, reason string) error
//	func StripDeadLetter(d Record) Record              // key and dlq-* headers only
//	func RestorePartition(ctx context.Context, brokers []string, topic string, partition int,
//		fn func(Record) error) (end int64, err error)
//	func ReadTopic(ctx context.Context, brokers []string, topic string,
//		fn func(Record) error) (partitions int, err error)   // RestorePartition on every partition
//
// Dead letters carry the headers dlq-reason, dlq-source-topic,
// dlq-partition and dlq-offset; one over MaxDeadLetterBytes keeps only the
// first DeadLetterPrefixBytes of its value and says so in dlq-truncated
// (StripDeadLetter drops the value altogether). Producers keep every
// record batch under MaxMessageBytes (1,000,000), below Kafka's default
// max.message.bytes, which a broker enforces per batch. A changelog is a Topic with Compacted set,
// the events topic's partition count, keyed by contact id.
//
// # Watching from outside
//
//	func NewAdmin(brokers []string) *Admin
//	func (a *Admin) EndOffsets(ctx, topic string, partitions int) (map[int]int64, error)
//	func (a *Admin) CommittedOffsets(ctx, group, topic string, partitions int) (map[int]int64, error)
//	func (a *Admin) CaughtUp(ctx, group, topic string, partitions int) (bool, error)
//	func (a *Admin) GroupMembers(ctx, group string) (members int, state string, err error)
//	func (a *Admin) Topics(ctx) ([]string, error)
//	func (a *Admin) DeleteTopics(ctx, topics ...string) error
//	func (a *Admin) AlterTopicConfigs(ctx, topic string, configs map[string]string) error
//	func (a *Admin) TopicConfig(ctx, topic, name string) (string, error)
//	func (a *Admin) AddPartitions(ctx, counts map[string]int) error
//
// For `scorer state lag`, the rebuild's idle-group check, tests and
// benchmarks. stream/baseline is kafka-go used bare, the floor the
// benchmarks measure stream against.
package stream
