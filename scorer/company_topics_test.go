package scorer

import (
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

// scorer run with company models creates the company topic (the
// repartition by company_id) with the events topic's partition count, not
// compacted (it is a stream of changes), and the member changelog, the
// company changelog and company-scores compacted with the same count; a
// member changelog that would not follow the events is refused.
func TestCompanyTopicsFollowTheEvents(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	ctx := ctxFor(t, 30*time.Second)
	if err := stream.EnsureTopics(ctx, brokers, stream.Topic{Name: "ev", Partitions: 5}); err != nil {
		t.Fatal(err)
	}
	o := &Options{Brokers: brokers, EventsTopic: "ev", ChangelogTopic: "ev-state", CompanyScoresTopic: "company-scores"}
	cs, err := newCompanyTopics(ctx, o, 5)
	if err != nil {
		t.Fatal(err)
	}
	if o.CompaniesTopic != "ev-companies" || cs.topic != "ev-companies" || cs.changelog != "ev-companies-state" || cs.members != "ev-state-members" {
		t.Fatalf("topics %q %q %q %q", o.CompaniesTopic, cs.topic, cs.changelog, cs.members)
	}
	admin := stream.NewAdmin(brokers)
	defer admin.Close()
	for _, tc := range []struct {
		topic     string
		compacted bool
	}{{"ev-companies", false}, {"ev-companies-state", true}, {"ev-state-members", true}, {"company-scores", true}} {
		n, err := stream.Partitions(ctx, brokers, tc.topic)
		if err != nil || n != 5 {
			t.Errorf("%s: %d partitions (%v), the events topic has 5", tc.topic, n, err)
		}
		policy, err := admin.TopicConfig(ctx, tc.topic, "cleanup.policy")
		if tc.compacted && (err != nil || policy != "compact") {
			t.Errorf("%s: cleanup.policy %q (%v), want compact", tc.topic, policy, err)
		}
		if !tc.compacted && policy == "compact" {
			t.Errorf("%s is compacted: a company's changes would be lost", tc.topic)
		}
	}
	// A member changelog with another partition count than the events is
	// refused: trackers would not be restored beside their contacts.
	if err := stream.EnsureTopics(ctx, brokers, stream.Topic{Name: "ev2", Partitions: 5}, stream.Topic{Name: "ev2-state-members", Partitions: 3, Compacted: true}); err != nil {
		t.Fatal(err)
	}
	_, err = newCompanyTopics(ctx, &Options{Brokers: brokers, EventsTopic: "ev2", ChangelogTopic: "ev2-state"}, 5)
	if err == nil || !strings.Contains(err.Error(), "ev2-state-members has 3 partitions, the events topic 5") {
		t.Errorf("a member changelog of 3 partitions: %v", err)
	}
}
