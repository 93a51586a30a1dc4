package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/internal/syncbuf"
	"github.com/scorebridge/scorebridge/stream"
)

// broker is a localkafka started in-process by run.
type broker struct {
	addr   string
	stderr *syncbuf.Buffer
	stop   func() int
}

func startBroker(t *testing.T, args ...string) *broker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &syncbuf.Buffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, args, pw, stderr)
		pw.Close()
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "localkafka ready on "); ok {
				ready <- strings.Fields(addr)[0]
			}
		}
		close(ready)
	}()
	var once sync.Once
	var exit int
	stop := func() int {
		once.Do(func() {
			cancel()
			select {
			case exit = <-code:
			case <-time.After(15 * time.Second):
				t.Fatal("localkafka did not stop within 15s")
			}
		})
		return exit
	}
	t.Cleanup(func() { stop() })
	select {
	case addr, ok := <-ready:
		if !ok {
			t.Fatalf("localkafka exited without a ready line; stderr: %s", stderr)
		}
		return &broker{addr: addr, stderr: stderr, stop: stop}
	case <-time.After(15 * time.Second):
		t.Fatalf("no ready line within 15s; stderr: %s", stderr)
	}
	return nil
}

// handler commits everything it sees, remembering the values.
type handler struct {
	mu   sync.Mutex
	seen []string
	from map[int]int64
}

func (h *handler) Assigned(_ context.Context, c *stream.Claim) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.from == nil {
		h.from = map[int]int64{}
	}
	h.from[c.Partition] = c.Committed
	return nil
}

func (h *handler) Handle(_ context.Context, c *stream.Claim, msgs []stream.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range msgs {
		h.seen = append(h.seen, string(m.Value))
	}
	c.Commit(msgs[len(msgs)-1].Offset + 1)
	return nil
}

func (h *handler) Revoked(context.Context, *stream.Claim) error { return nil }

func (h *handler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

// consume reads with group "g" until want messages arrived, commits, leaves.
func consume(t *testing.T, addr string, want int) *handler {
	t.Helper()
	h := &handler{}
	gc, err := stream.NewGroupConsumer(stream.GroupConfig{
		Brokers: []string{addr}, Group: "g", Topic: "engagement-events",
		HeartbeatInterval: 200 * time.Millisecond, CommitInterval: 100 * time.Millisecond, MaxWait: 100 * time.Millisecond,
	}, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gc.Run(ctx) }()
	deadline := time.Now().Add(15 * time.Second)
	for h.count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d messages in 15s", h.count(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return h
}

func write(t *testing.T, addr string, from, to int) {
	t.Helper()
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: []string{addr}, Topic: "engagement-events"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var msgs []stream.Record
	for i := from; i < to; i++ {
		msgs = append(msgs, stream.Message(fmt.Sprintf("c%d", i%7), []byte(fmt.Sprintf("e%d", i))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Write(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func TestDataDirKeepsMessagesAndOffsetsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, "--addr", "127.0.0.1:0", "--data-dir", dir, "--seed-topics", "engagement-events:4,extra")
	write(t, b.addr, 0, 100)
	if h := consume(t, b.addr, 100); h.count() != 100 {
		t.Fatalf("first run consumed %d", h.count())
	}
	write(t, b.addr, 100, 150)
	if code := b.stop(); code != 0 {
		t.Fatalf("exit code %d; stderr: %s", code, b.stderr)
	}

	b = startBroker(t, "--addr", "127.0.0.1:0", "--data-dir", dir, "--seed-topics", "engagement-events:4,extra")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for topic, want := range map[string]int{"engagement-events": 4, "extra": 6} {
		if n, err := stream.Partitions(ctx, []string{b.addr}, topic); err != nil || n != want {
			t.Fatalf("after restart %s has %d partitions (%v), want %d", topic, n, err, want)
		}
	}
	// The group resumes at its committed offsets: the 50 messages written
	// after the commit, none of the first 100 (a replay would deliver those
	// first, as they precede the new ones in every partition).
	h := consume(t, b.addr, 50)
	for _, v := range h.seen {
		var n int
		fmt.Sscanf(v, "e%d", &n)
		if n < 100 {
			t.Fatalf("replayed %s that was committed before the restart", v)
		}
	}
	if code := b.stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestBusyPortIsExplained(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--addr", ln.Addr().String()}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "already in use") {
		t.Fatalf("code %d, stderr %q; want 1 and an 'already in use' message", code, stderr.String())
	}
}

func TestDataDirIsLocked(t *testing.T) {
	dir := t.TempDir()
	startBroker(t, "--addr", "127.0.0.1:0", "--data-dir", dir)
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "in use by another localkafka") {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
	}
}

func TestBadFlagsReportEveryProblem(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--addr", "nope", "--partitions", "0", "--seed-topics", "a:x", "--log-level", "loud"}, io.Discard, &stderr)
	if code != 2 {
		t.Fatalf("code %d", code)
	}
	for _, want := range []string{"--addr", "--partitions", "--seed-topics", "--log-level"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q does not mention %s", stderr.String(), want)
		}
	}
}

// buildBinary builds localkafka once per test that needs the real process.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "localkafka")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startProcess runs the binary and returns once it printed its ready line.
func startProcess(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *syncbuf.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		addr, ok := strings.CutPrefix(l, "localkafka ready on ")
		if !ok {
			t.Fatalf("ready line %q; stderr %s", l, stderr.String())
		}
		return cmd, strings.Fields(addr)[0], stderr
	case <-time.After(20 * time.Second):
		t.Fatalf("no ready line; stderr %s", stderr.String())
	}
	return nil, "", nil
}

// TestSIGTERMExitsCleanly runs the real binary as scripts do.
func TestSIGTERMExitsCleanly(t *testing.T) {
	bin := buildBinary(t)
	cmd, _, stderr := startProcess(t, bin, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGTERM")
	}
}

// TestSIGKILLKeepsAcknowledgedData kills the broker without warning: what
// it acknowledged and the group's commits are there after a restart (the
// files are in the page cache; only --sync survives losing the machine).
func TestSIGKILLKeepsAcknowledgedData(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cmd, addr, _ := startProcess(t, bin, "--addr", "127.0.0.1:0", "--data-dir", dir)
	write(t, addr, 0, 100)
	consume(t, addr, 100)
	write(t, addr, 100, 130)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	_, addr, _ = startProcess(t, bin, "--addr", "127.0.0.1:0", "--data-dir", dir)
	h := consume(t, addr, 30)
	for _, v := range h.seen {
		var n int
		fmt.Sscanf(v, "e%d", &n)
		if n < 100 {
			t.Fatalf("replayed %s, committed before the kill", v)
		}
	}
}
