package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestBadFlagsReportEveryProblem(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--mode", "fast", "--pipeline", "bogus", "--events", "0"}, io.Discard, &stderr)
	if code != 2 {
		t.Fatalf("code %d", code)
	}
	for _, want := range []string{"--mode", "--pipeline", "must be positive"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q does not mention %s", stderr.String(), want)
		}
	}
}

func TestEmbeddedSmallRun(t *testing.T) {
	var stdout bytes.Buffer
	code := run(context.Background(), []string{"--embedded", "--pipeline", "passthrough", "--events", "2000", "--rounds", "1", "--rate", "500", "--duration", "1s"}, &stdout, io.Discard)
	if code != 0 {
		t.Fatalf("code %d; output:\n%s", code, stdout.String())
	}
	for _, want := range []string{"kafka-go group Reader, raw", "franz-go kgo", "pass-through pipeline", "p99"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}

// The scorer row runs the real processor over the bench's events.
func TestEmbeddedScorerRow(t *testing.T) {
	var stdout bytes.Buffer
	code := run(context.Background(), []string{"--embedded", "--events", "3000", "--contacts", "300", "--rounds", "1", "--mode", "throughput"}, &stdout, io.Discard)
	if code != 0 {
		t.Fatalf("code %d; output:\n%s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), "scorer end to end") || !strings.Contains(stdout.String(), "x kafka-go group Reader") {
		t.Errorf("no scorer row:\n%s", stdout.String())
	}
}
