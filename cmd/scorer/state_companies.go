package main

import (
	"context"
	"fmt"
	"io"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/stream"
)

// companyCrossingProblems reads the company topic and the crossings
// topic into an accounts.CrossingCheck, prints its summary line and
// examples on stderr, and returns the problems found.
func companyCrossingProblems(ctx context.Context, brokers []string, set *rules.Set, crossTopic, companiesTopic string, stderr io.Writer) ([]string, error) {
	check := accounts.NewCrossingCheck(set)
	if _, err := stream.ReadTopic(ctx, brokers, companiesTopic, func(m stream.Record) error {
		check.Change(m.Partition, m.Value)
		return nil
	}); err != nil {
		return nil, err
	}
	if _, err := stream.ReadTopic(ctx, brokers, crossTopic, func(m stream.Record) error {
		if x, err := events.DecodeCrossing(m.Value); err == nil { // malformed ones are counted with the contacts'
			check.Crossing(x)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	r := check.Result()
	fmt.Fprintf(stderr, "company crossings in %s against the reference over the changes in %s (%d companies, %d malformed changes, %d deletions): %d expected, %d missing, %d unexpected, %d differing, %d conflicting\n",
		crossTopic, companiesTopic, r.Companies, r.Malformed, r.Deletions, r.Expected, r.Missing, r.Unexpected, r.Differing, r.Conflicting)
	if r.Deletions > 0 && r.Missing+r.Unexpected+r.Differing > 0 {
		fmt.Fprintln(stderr, "  (the aggregator applies a batch's deletions before its other changes: crossings next to a deletion may differ from the reference, which applies them in the topic's order)")
	}
	for _, e := range r.Examples {
		fmt.Fprintln(stderr, "  "+e)
	}
	if !r.OK() {
		return []string{"the company crossings differ from the reference"}, nil
	}
	return nil, nil
}
