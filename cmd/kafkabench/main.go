// Command kafkabench measures Kafka throughput and latency against the
// local broker (cmd/localkafka) or an in-process one (--embedded):
//
//	kafkabench [--brokers 127.0.0.1:9092] [--events 1000000] [--mode both]
//	           [--rate 10000] [--duration 20s] [--pipeline passthrough]
//
// Throughput: produces --events synthetic engagement events, then consumes
// them raw with kafka-go's group Reader, stream.GroupConsumer and franz-go's
// kgo, and runs the pipeline (consume -> produce -> commit) over them,
// printing msgs/s and ratios to kafka-go. Latency: produces at --rate for
// --duration through the pipeline and prints p50/p90/p99. The harness is
// cmd/internal/kafkabench; the scorer's pipelines and the company-model
// benchmark (--pipeline accounts) are cmd/internal/scorerbench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/scorebridge/scorebridge/cmd/internal/kafkabench"
	"github.com/scorebridge/scorebridge/cmd/internal/scorerbench"
	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code := parseOptions(args, stderr)
	if code >= 0 {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "kafkabench:", err)
		return 1
	}
	if o.cpuProfile != "" {
		stopProfile, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return fail(err)
		}
		defer stopProfile()
	}
	addrs, where, closeBroker, err := o.broker()
	if err != nil {
		return fail(err)
	}
	defer closeBroker()
	header := func() {
		fmt.Fprintf(stdout, "kafkabench against %s; %d CPUs; load average %s\n", where, runtime.NumCPU(), loadavg())
	}
	footer := func() { fmt.Fprintf(stdout, "load average at the end: %s\n", loadavg()) }
	if o.pipeline == "accounts" {
		header()
		if err := scorerbench.Accounts(ctx, addrs, o.events, o.partitions, o.contacts, o.days, o.rounds, stdout, stderr); err != nil {
			return fail(err)
		}
		footer()
		return 0
	}
	p, err := o.pipelines()
	if err != nil {
		return fail(err)
	}
	header()
	defer footer()
	if o.mode != "latency" {
		rep, err := kafkabench.Run(ctx, kafkabench.Config{
			Brokers: addrs, Events: o.events, Partitions: o.partitions,
			Source:   p.source,
			Pipeline: p.pipe, PipelineName: p.name, More: p.more,
			Rounds: o.rounds, ProduceBatch: o.produceBatch, Keep: o.keep, Log: stderr,
		})
		if err != nil {
			return fail(err)
		}
		rep.Print(stdout)
	}
	if o.mode != "throughput" {
		rep, err := kafkabench.RunLatency(ctx, kafkabench.LatencyConfig{
			Brokers: addrs, Rate: o.rate, Duration: o.duration, Partitions: o.partitions,
			Source: p.latencySource, Pipeline: p.pipe, Keep: o.keep, Log: stderr,
		})
		if err != nil {
			return fail(err)
		}
		rep.Print(stdout)
	}
	return 0
}

// options are kafkabench's flags.
type options struct {
	brokers, mode, pipeline, clickhouse, cpuProfile                string
	embedded, keep                                                 bool
	events, partitions, contacts, days, rate, produceBatch, rounds int
	duration                                                       time.Duration
}

// parseOptions parses and checks the flags; code is the exit code when the
// run ends here (help, or every problem reported on stderr), -1 otherwise.
func parseOptions(args []string, stderr io.Writer) (o options, code int) {
	fs := flag.NewFlagSet("kafkabench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokersDefault := os.Getenv("KAFKA_BROKERS")
	if brokersDefault == "" {
		brokersDefault = "127.0.0.1:9092"
	}
	fs.StringVar(&o.brokers, "brokers", brokersDefault, "comma-separated brokers (env KAFKA_BROKERS)")
	fs.BoolVar(&o.embedded, "embedded", false, "start an in-process kfake broker instead of using --brokers")
	fs.StringVar(&o.mode, "mode", "both", "throughput, latency or both")
	fs.IntVar(&o.events, "events", 1_000_000, "events for the throughput run")
	fs.IntVar(&o.partitions, "partitions", 6, "partitions of the bench topics")
	fs.IntVar(&o.contacts, "contacts", 100_000, "distinct contacts in the synthetic events")
	fs.IntVar(&o.days, "days", 365, "days the scorer's synthetic events span (ClickHouse writes a part per monthly partition an insert touches: live traffic touches one)")
	fs.IntVar(&o.rate, "rate", 10_000, "events per second in the latency run")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "length of the latency run")
	fs.StringVar(&o.pipeline, "pipeline", "scorer", "pipeline for the end-to-end row and the latency run: scorer, passthrough or none; accounts: the scorer with and without a company model (throughput only)")
	fs.BoolVar(&o.keep, "keep", false, "keep the bench topics")
	fs.IntVar(&o.produceBatch, "produce-batch", 2000, "most records per produced batch (small batches make a slower log to consume)")
	fs.IntVar(&o.rounds, "rounds", 3, "times to repeat the consumer rows, interleaved; the median counts")
	fs.StringVar(&o.clickhouse, "clickhouse", os.Getenv("CLICKHOUSE_DSN"), "ClickHouse DSN (env CLICKHOUSE_DSN): with --pipeline scorer, adds the scorer with its touch history in ClickHouse, run over the same events in every round and compared with the scorer without it (a database per round, dropped after it)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0
		}
		return o, 2
	}
	if problems := o.problems(); len(problems) > 0 {
		fmt.Fprintln(stderr, "kafkabench:", strings.Join(problems, "; "))
		return o, 2
	}
	return o, -1
}

func (o options) problems() []string {
	var problems []string
	if o.mode != "throughput" && o.mode != "latency" && o.mode != "both" {
		problems = append(problems, fmt.Sprintf("--mode %q: want throughput, latency or both", o.mode))
	}
	if o.pipeline != "passthrough" && o.pipeline != "scorer" && o.pipeline != "none" && o.pipeline != "accounts" {
		problems = append(problems, fmt.Sprintf("--pipeline %q: want passthrough, scorer, accounts or none", o.pipeline))
	}
	if o.pipeline == "none" && o.mode != "throughput" {
		problems = append(problems, "the latency run needs a pipeline")
	}
	if o.events < 1 || o.partitions < 1 || o.contacts < 1 || o.rate < 1 || o.rounds < 1 || o.produceBatch < 1 || o.duration <= 0 || o.days < 1 {
		problems = append(problems, "--events, --partitions, --contacts, --rate, --rounds, --produce-batch, --days and --duration must be positive")
	}
	return problems
}

// startCPUProfile profiles the process into path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// broker returns the brokers to run against (--embedded: a kfake cluster
// started here, stopped by closeBroker), and says which for the header.
func (o options) broker() (addrs []string, where string, closeBroker func(), err error) {
	if !o.embedded {
		return strings.Split(o.brokers, ","), "broker " + o.brokers, func() {}, nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		return nil, "", nil, fmt.Errorf("embedded broker: %w", err)
	}
	addrs = c.ListenAddrs()
	return addrs, "embedded kfake broker " + addrs[0], c.Close, nil
}

// benchPipelines is what --pipeline runs, over which events.
type benchPipelines struct {
	pipe                  kafkabench.Pipeline
	name                  string
	more                  []kafkabench.NamedPipeline
	source, latencySource kafkabench.Source
}

func (o options) pipelines() (benchPipelines, error) {
	p := benchPipelines{
		name:          "pass-through pipeline (consume->produce->commit)",
		source:        kafkabench.SyntheticEvents(1, o.contacts),
		latencySource: kafkabench.SyntheticEvents(2, o.contacts),
	}
	switch o.pipeline {
	case "passthrough":
		p.pipe = kafkabench.PassThrough()
	case "scorer":
		e, err := scorerbench.Engine(100)
		if err != nil {
			return p, fmt.Errorf("rules: %w", err)
		}
		p.pipe = scorerbench.Pipeline(e)
		p.name = "scorer end to end (decode, 100 groups, crossings, state, commit)"
		p.source, p.latencySource = scorerbench.Source(1, o.contacts, o.days), scorerbench.Source(2, o.contacts, o.days)
		if o.clickhouse != "" {
			p.more = append(p.more, kafkabench.NamedPipeline{Name: "scorer end to end + ClickHouse history (touches, ledger, crossings)", Pipeline: scorerbench.ClickHousePipeline(e, o.clickhouse)})
		}
	}
	return p, nil
}

// loadavg says how busy the machine was: figures taken while other work
// competes for the CPUs are not comparable.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
