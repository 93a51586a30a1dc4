// Command faultkit is scripts/faults-scorer.sh's helper for what the
// project's own tools rightly refuse to do: create or reconfigure a topic
// with given configs (max.message.bytes), and produce messages larger
// than the scorer's producer takes.
//
//	faultkit topic BROKER TOPIC PARTITIONS KEY=VALUE...  create, or alter the configs of an existing topic
//	faultkit produce BROKER TOPIC FILE [fnv]             each line "KEY<TAB>VALUE"; murmur2, or FNV-1a (kafka-go's Hash, as
//	                                                     another client's partitioner would)
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/stream"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "faultkit:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch {
	case len(args) >= 4 && args[0] == "topic":
		n, err := strconv.Atoi(args[3])
		if err != nil {
			return fmt.Errorf("partitions %q: %w", args[3], err)
		}
		configs := map[string]string{}
		for _, kv := range args[4:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("config %q: want KEY=VALUE", kv)
			}
			configs[k] = v
		}
		if err := stream.EnsureTopics(ctx, []string{args[1]}, stream.Topic{Name: args[2], Partitions: n, Configs: configs}); err != nil {
			return err
		}
		admin := stream.NewAdmin([]string{args[1]})
		defer admin.Close()
		return admin.AlterTopicConfigs(ctx, args[2], configs)
	case (len(args) == 4 || len(args) == 5) && args[0] == "produce":
		data, err := os.ReadFile(args[3])
		if err != nil {
			return err
		}
		partitioner := stream.Murmur2
		if len(args) == 5 && args[4] == "fnv" {
			partitioner = stream.FNV1a
		}
		// Batches under the events topic's max.message.bytes the script
		// sets (8 MiB); a larger message goes alone.
		w, err := stream.NewProducer(stream.ProducerConfig{Brokers: []string{args[1]}, Topic: args[2],
			Partitioner: partitioner, BatchBytes: 7 << 20})
		if err != nil {
			return err
		}
		defer w.Close()
		var msgs []stream.Record
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			k, v, ok := bytes.Cut(sc.Bytes(), []byte("\t"))
			if !ok {
				return errors.New("a line without a tab")
			}
			msgs = append(msgs, stream.Record{Key: bytes.Clone(k), Value: bytes.Clone(v)})
		}
		if err := sc.Err(); err != nil {
			return err
		}
		if err := w.Write(ctx, msgs...); err != nil {
			return fmt.Errorf("%d messages: %w", len(msgs), err)
		}
		return nil
	}
	return errors.New("usage: faultkit topic BROKER TOPIC PARTITIONS KEY=VALUE... | faultkit produce BROKER TOPIC FILE")
}
