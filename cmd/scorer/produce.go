package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/scorebridge/scorebridge/ingest"
	"github.com/scorebridge/scorebridge/internal/cli"
	"github.com/scorebridge/scorebridge/stream"
)

func init() {
	register("produce", "send a JSONL event history to the events topic, keyed by contact_id", produceCmd)
}

func produceCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("produce", stderr)
	input := fs.String("events", "-", "JSONL events file, or - for stdin")
	brokers := cli.Brokers(fs, "Kafka brokers (env KAFKA_BROKERS)")
	topic := fs.String("topic", envOr("EVENTS_TOPIC", "engagement-events"), "events topic (env EVENTS_TOPIC)")
	perSec := fs.Float64("rate", 0, "events per second (0: as fast as the broker takes them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	in, _, done, err := openInput(*input, stdin)
	if err != nil {
		return err
	}
	defer done()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := stream.EnsureTopics(ctx, brokers(), stream.Topic{Name: *topic}); err != nil {
		return err
	}
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers(), Topic: *topic})
	if err != nil {
		return err
	}
	defer p.Close()
	start := time.Now()
	sum, err := ingest.Lines(ctx, in, p, *perSec)
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(stderr, "produced %d events to %s in %s (%.0f/s)", sum.Sent, *topic, el.Round(time.Millisecond), float64(sum.Sent)/el.Seconds())
	if sum.Unkeyed > 0 {
		fmt.Fprintf(stderr, "; %d lines without a contact_id (the scorer will dead-letter them)", sum.Unkeyed)
	}
	fmt.Fprintln(stderr)
	return nil
}
