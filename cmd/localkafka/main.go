// Command localkafka runs scorebridge's local Kafka-protocol broker for
// development, tests and the demo: a single-node franz-go kfake cluster on
// loopback, optionally persisted in a data directory so topics, messages
// and committed group offsets survive restarts.
//
//	localkafka [--addr 127.0.0.1:9092] [--data-dir DIR] [--partitions 6]
//	           [--seed-topics engagement-events,lead-score-crossings,...] [--sync]
//
// It prints one line starting "localkafka ready on ADDR" once clients can
// connect, and exits 0 after a clean shutdown on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

const defaultSeedTopics = "engagement-events,lead-score-crossings,engagement-events-dlq"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		// A second signal while shutting down forces the exit.
		<-ctx.Done()
		stop()
		force := make(chan os.Signal, 1)
		signal.Notify(force, syscall.SIGTERM, os.Interrupt)
		<-force
		fmt.Fprintln(os.Stderr, "localkafka: forced exit")
		os.Exit(1)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	addr       string
	dataDir    string
	partitions int
	seedTopics []stream.Topic
	logLevel   kfake.LogLevel
	sync       bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("localkafka", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var seeds, level string
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:9092", "host:port to listen on (port 0 picks a free one)")
	fs.StringVar(&cfg.dataDir, "data-dir", "", "directory that keeps topics, messages and committed offsets across restarts (empty: in memory)")
	fs.IntVar(&cfg.partitions, "partitions", 6, "partitions of auto-created topics and of seed topics without :N")
	fs.StringVar(&seeds, "seed-topics", defaultSeedTopics, "topics to create at start if missing: name[:partitions],...")
	fs.BoolVar(&cfg.sync, "sync", false, "fsync every write (with --data-dir): nothing acknowledged is lost if the machine dies, at a cost in throughput")
	fs.StringVar(&level, "log-level", "none", "broker log level: none, error, warn, info, debug")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	if _, port, err := net.SplitHostPort(cfg.addr); err != nil {
		problems = append(problems, fmt.Sprintf("--addr %q: %v", cfg.addr, err))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		problems = append(problems, fmt.Sprintf("--addr %q: bad port", cfg.addr))
	}
	if cfg.partitions < 1 {
		problems = append(problems, "--partitions must be at least 1")
	}
	var err error
	if cfg.seedTopics, err = stream.ParseTopics(seeds); err != nil {
		problems = append(problems, "--seed-topics: "+err.Error())
	}
	for i := range cfg.seedTopics {
		if cfg.seedTopics[i].Partitions == 0 {
			cfg.seedTopics[i].Partitions = cfg.partitions
		}
	}
	levels := map[string]kfake.LogLevel{"none": kfake.LogLevelNone, "error": kfake.LogLevelError, "warn": kfake.LogLevelWarn, "info": kfake.LogLevelInfo, "debug": kfake.LogLevelDebug}
	var ok bool
	if cfg.logLevel, ok = levels[strings.ToLower(level)]; !ok {
		problems = append(problems, fmt.Sprintf("--log-level %q: want none, error, warn, info or debug", level))
	}
	if len(problems) > 0 {
		return cfg, errors.New(strings.Join(problems, "; "))
	}
	return cfg, nil
}

// run starts the broker, prints the ready line, and stops it cleanly when
// ctx ends. It returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "localkafka:", err)
		return 2
	}
	host, portStr, _ := net.SplitHostPort(cfg.addr)
	port, _ := strconv.Atoi(portStr)

	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		// kfake listens on 127.0.0.1; honour the host of --addr.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, portStr))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.partitions),
		kfake.WithLogger(kfake.BasicLogger(stderr, cfg.logLevel)),
	}
	if cfg.dataDir != "" {
		unlock, err := lockDataDir(cfg.dataDir)
		if err != nil {
			fmt.Fprintln(stderr, "localkafka:", err)
			return 1
		}
		defer unlock()
		opts = append(opts, kfake.DataDir(cfg.dataDir))
		if cfg.sync {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			fmt.Fprintf(stderr, "localkafka: %s is already in use: another localkafka or Kafka is listening there.\n"+
				"  Stop it (e.g. `ss -ltnp 'sport = :%s'` shows which process), or pass --addr %s:<other port> and point clients at it.\n",
				cfg.addr, portStr, host)
			return 1
		}
		fmt.Fprintln(stderr, "localkafka: start:", err)
		return 1
	}
	addr := c.ListenAddrs()[0]

	seedCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = stream.EnsureTopics(seedCtx, []string{addr}, cfg.seedTopics...)
	cancel()
	if err != nil {
		c.Close()
		fmt.Fprintln(stderr, "localkafka: seed topics:", err)
		return 1
	}

	dir := "none (in memory)"
	if cfg.dataDir != "" {
		dir = cfg.dataDir
	}
	fmt.Fprintf(stdout, "localkafka ready on %s (data dir: %s; new topics get %d partitions; topics: %s)\n",
		addr, dir, cfg.partitions, topicNames(cfg.seedTopics))

	<-ctx.Done()
	fmt.Fprintln(stderr, "localkafka: shutting down")
	c.Close() // with a data dir, this saves the state
	fmt.Fprintln(stderr, "localkafka: stopped")
	return 0
}

func topicNames(ts []stream.Topic) string {
	if len(ts) == 0 {
		return "none"
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = fmt.Sprintf("%s:%d", t.Name, t.Partitions)
	}
	return strings.Join(names, ",")
}

// lockDataDir keeps two brokers from writing one data directory.
func lockDataDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, "localkafka.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another localkafka (lock %s): %w", dir, path, err)
	}
	return func() { f.Close() }, nil
}
