package stream

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// crashMark is where the member killed in TestKillNineReplaysFromLastCommit
// stops marking: everything from it on must be replayed.
const crashMark = 50

// TestCrashHelper is the member that gets killed; it runs only as a child
// of TestKillNineReplaysFromLastCommit.
func TestCrashHelper(t *testing.T) {
	brokers := os.Getenv("STREAM_CRASH_BROKERS")
	if brokers == "" {
		t.Skip("helper process")
	}
	r := newRecorder("doomed")
	r.commitBelow = crashMark
	gc, err := NewGroupConsumer(GroupConfig{
		Brokers: strings.Split(brokers, ","), Group: "crash", Topic: testTopic,
		HeartbeatInterval: 200 * time.Millisecond, CommitInterval: 50 * time.Millisecond,
		SessionTimeout: time.Second, RebalanceTimeout: time.Second, MaxWait: 100 * time.Millisecond,
	}, r)
	if err != nil {
		t.Fatal(err)
	}
	go gc.Run(context.Background())
	ctx := testCtx(t, 20*time.Second)
	for {
		committed := committedOffsets(t, ctx, strings.Split(brokers, ","), "crash")
		all := len(committed) == testPartitions
		for _, o := range committed {
			all = all && o == crashMark
		}
		if all && r.count() == 600 {
			fmt.Println("committed")
			select {} // wait for SIGKILL
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKillNineReplaysFromLastCommit kills a member with SIGKILL (no final
// commit, no leave) and checks the next member resumes every partition at
// the last commit.
func TestKillNineReplaysFromLastCommit(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(testPartitions, testTopic),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	ctx := testCtx(t, 40*time.Second)
	// 100 events per partition, so each has offsets past crashMark.
	var msgs []Record
	for p := 0; p < testPartitions; p++ {
		for i := 0; i < 100; i++ {
			msgs = append(msgs, Record{Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))})
		}
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: testTopic, Balancer: toPartition{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(ctx, kafkaMessages(msgs)...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), "STREAM_CRASH_BROKERS="+strings.Join(brokers, ","))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "committed" {
				line <- sc.Text()
				return
			}
		}
		close(line)
	}()
	select {
	case _, ok := <-line:
		if !ok {
			t.Fatal("helper exited before committing")
		}
	case <-ctx.Done():
		t.Fatal("helper never reported its commits")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()

	r := newRecorder("survivor")
	m := startMember(t, brokers, "crash", r)
	eventually(t, 20*time.Second, "the survivor to replay from the last commit", func() bool {
		return r.count() == testPartitions*(100-crashMark)
	})
	if err := m.stop(); err != nil {
		t.Fatal(err)
	}
	for p := 0; p < testPartitions; p++ {
		if r.assigned[p] != crashMark || r.firstSeen[p] != crashMark {
			t.Errorf("partition %d: resumed at %d, first offset %d; want %d", p, r.assigned[p], r.firstSeen[p], crashMark)
		}
	}
}

// toPartition sends each message to the partition it names.
type toPartition struct{}

func (toPartition) Balance(m kafka.Message, _ ...int) int { return m.Partition }

// kafkaMessages converts records for a test's own kafka.Writer, keeping
// the partition toPartition sends each to.
func kafkaMessages(recs []Record) []kafka.Message {
	msgs := toKafka(recs)
	for i := range msgs {
		msgs[i].Partition = recs[i].Partition
	}
	return msgs
}
