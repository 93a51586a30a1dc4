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
// --duration through the pipeline and prints p50/p90/p99. To measure the
// scorer, call kafkabench.Run/RunLatency with its Pipeline (see
// internal/kafkabench).
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

	"github.com/scorebridge/scorebridge/internal/kafkabench"
	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kafkabench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokersDefault := os.Getenv("KAFKA_BROKERS")
	if brokersDefault == "" {
		brokersDefault = "127.0.0.1:9092"
	}
	brokers := fs.String("brokers", brokersDefault, "comma-separated brokers (env KAFKA_BROKERS)")
	embedded := fs.Bool("embedded", false, "start an in-process kfake broker instead of using --brokers")
	mode := fs.String("mode", "both", "throughput, latency or both")
	events := fs.Int("events", 1_000_000, "events for the throughput run")
	partitions := fs.Int("partitions", 6, "partitions of the bench topics")
	contacts := fs.Int("contacts", 100_000, "distinct contacts in the synthetic events")
	days := fs.Int("days", 365, "days the scorer's synthetic events span (ClickHouse writes a part per monthly partition an insert touches: live traffic touches one)")
	rate := fs.Int("rate", 10_000, "events per second in the latency run")
	duration := fs.Duration("duration", 20*time.Second, "length of the latency run")
	pipeline := fs.String("pipeline", "scorer", "pipeline for the end-to-end row and the latency run: scorer, passthrough or none; accounts: the scorer with and without a company model (throughput only)")
	keep := fs.Bool("keep", false, "keep the bench topics")
	produceBatch := fs.Int("produce-batch", 2000, "most records per produced batch (small batches make a slower log to consume)")
	rounds := fs.Int("rounds", 3, "times to repeat the consumer rows, interleaved; the median counts")
	clickhouse := fs.String("clickhouse", os.Getenv("CLICKHOUSE_DSN"), "ClickHouse DSN (env CLICKHOUSE_DSN): with --pipeline scorer, adds the scorer with its touch history in ClickHouse, run over the same events in every round and compared with the scorer without it (a database per round, dropped after it)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var problems []string
	if *mode != "throughput" && *mode != "latency" && *mode != "both" {
		problems = append(problems, fmt.Sprintf("--mode %q: want throughput, latency or both", *mode))
	}
	if *pipeline != "passthrough" && *pipeline != "scorer" && *pipeline != "none" && *pipeline != "accounts" {
		problems = append(problems, fmt.Sprintf("--pipeline %q: want passthrough, scorer, accounts or none", *pipeline))
	}
	if *pipeline == "none" && *mode != "throughput" {
		problems = append(problems, "the latency run needs a pipeline")
	}
	if *events < 1 || *partitions < 1 || *contacts < 1 || *rate < 1 || *rounds < 1 || *produceBatch < 1 || *duration <= 0 || *days < 1 {
		problems = append(problems, "--events, --partitions, --contacts, --rate, --rounds, --produce-batch, --days and --duration must be positive")
	}
	if len(problems) > 0 {
		fmt.Fprintln(stderr, "kafkabench:", strings.Join(problems, "; "))
		return 2
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "kafkabench:", err)
			return 1
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	addrs := strings.Split(*brokers, ",")
	where := "broker " + *brokers
	if *embedded {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
		if err != nil {
			fmt.Fprintln(stderr, "kafkabench: embedded broker:", err)
			return 1
		}
		defer c.Close()
		addrs = c.ListenAddrs()
		where = "embedded kfake broker " + addrs[0]
	}
	if *pipeline == "accounts" {
		fmt.Fprintf(stdout, "kafkabench against %s; %d CPUs; load average %s\n", where, runtime.NumCPU(), loadavg())
		if err := accountsBench(ctx, addrs, *events, *partitions, *contacts, *days, *rounds, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "kafkabench:", err)
			return 1
		}
		fmt.Fprintf(stdout, "load average at the end: %s\n", loadavg())
		return 0
	}
	var pipe kafkabench.Pipeline
	var more []kafkabench.NamedPipeline
	pipeName := "pass-through pipeline (consume->produce->commit)"
	source := kafkabench.SyntheticEvents(1, *contacts)
	latencySource := kafkabench.SyntheticEvents(2, *contacts)
	switch *pipeline {
	case "passthrough":
		pipe = kafkabench.PassThrough()
	case "scorer":
		e, err := scorerEngine(100)
		if err != nil {
			fmt.Fprintln(stderr, "kafkabench: rules:", err)
			return 1
		}
		pipe = scorerPipeline(e)
		pipeName = "scorer end to end (decode, 100 groups, crossings, state, commit)"
		source, latencySource = synthSource(1, *contacts, *days), synthSource(2, *contacts, *days)
		if *clickhouse != "" {
			more = append(more, kafkabench.NamedPipeline{Name: "scorer end to end + ClickHouse history (touches, ledger, crossings)", Pipeline: scorerClickHousePipeline(e, *clickhouse)})
		}
	}
	fmt.Fprintf(stdout, "kafkabench against %s; %d CPUs; load average %s\n", where, runtime.NumCPU(), loadavg())
	defer func() { fmt.Fprintf(stdout, "load average at the end: %s\n", loadavg()) }()

	if *mode != "latency" {
		rep, err := kafkabench.Run(ctx, kafkabench.Config{
			Brokers: addrs, Events: *events, Partitions: *partitions,
			Source:   source,
			Pipeline: pipe, PipelineName: pipeName, More: more,
			Rounds: *rounds, ProduceBatch: *produceBatch, Keep: *keep, Log: stderr,
		})
		if err != nil {
			fmt.Fprintln(stderr, "kafkabench:", err)
			return 1
		}
		rep.Print(stdout)
	}
	if *mode != "throughput" {
		rep, err := kafkabench.RunLatency(ctx, kafkabench.LatencyConfig{
			Brokers: addrs, Rate: *rate, Duration: *duration, Partitions: *partitions,
			Source: latencySource, Pipeline: pipe, Keep: *keep, Log: stderr,
		})
		if err != nil {
			fmt.Fprintln(stderr, "kafkabench:", err)
			return 1
		}
		rep.Print(stdout)
	}
	return 0
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
