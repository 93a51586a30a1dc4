package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/internal/cli"
	"github.com/scorebridge/scorebridge/stream"
	"golang.org/x/time/rate"
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
	var limit *rate.Limiter
	if *perSec > 0 {
		limit = rate.NewLimiter(rate.Limit(*perSec), max(1, int(*perSec/100)))
	}
	r := bufio.NewReaderSize(in, 1<<20)
	var batch []stream.Record
	sent, unkeyed, line := 0, 0, 0
	start := time.Now()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.Write(ctx, batch...)
		sent += len(batch)
		batch = batch[:0]
		return err
	}
	for {
		raw, err := r.ReadBytes('\n')
		if len(raw) > 0 {
			line++
			raw = []byte(strings.TrimRight(string(raw), "\r\n"))
			if len(raw) == 0 {
				continue
			}
			// Lines pass through as they are: a malformed one reaches the
			// scorer's dead-letter topic with its reason.
			var key struct {
				ContactID string `json:"contact_id"`
			}
			if json.Unmarshal(raw, &key) != nil || key.ContactID == "" {
				unkeyed++
			}
			batch = append(batch, stream.Message(key.ContactID, raw))
			if limit != nil {
				if err := limit.Wait(ctx); err != nil {
					return err
				}
			}
			if len(batch) >= 1000 || limit != nil && len(batch) >= limit.Burst() {
				if err := flush(); err != nil {
					return fmt.Errorf("line %d: %w", line, err)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(stderr, "produced %d events to %s in %s (%.0f/s)", sent, *topic, el.Round(time.Millisecond), float64(sent)/el.Seconds())
	if unkeyed > 0 {
		fmt.Fprintf(stderr, "; %d lines without a contact_id (the scorer will dead-letter them)", unkeyed)
	}
	fmt.Fprintln(stderr)
	return nil
}
