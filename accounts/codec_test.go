package accounts

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/rules"
)

// The binary forms read back what was written, and the JSON forms an
// older scorer wrote read alike.
func TestCodecRoundTrips(t *testing.T) {
	ch := Change{To: "acme", Member: Member{ContactID: "c1", CompanyID: "acme", Seq: 7,
		Scores: map[string]rules.Points{"eng": 30 * rules.Scale, "intent": -5}, Props: map[string]string{"job_role": "champion", "owner_id": "u-1"}},
		EventID: "e9", At: time.Date(2026, 3, 1, 10, 0, 0, 5, time.UTC)}
	forget := Change{To: "acme", Member: Member{ContactID: "c2"}, Forget: PrivacyDeleted, At: ch.At}
	for _, c := range []Change{ch, forget} {
		js, _ := json.Marshal(&c)
		for _, data := range [][]byte{AppendChange(nil, &c), js} {
			got, err := DecodeChange(data)
			if err != nil || !reflect.DeepEqual(got, c) {
				t.Errorf("change %q: %+v %v, want %+v", data[:1], got, err, c)
			}
		}
	}
	tr := Tracker{Company: Keyed{Value: "acme", At: 5, EventID: "e1"}, Props: map[string]Keyed{"job_role": {Value: "champion", At: 4, EventID: "e0"}}, Sent: []string{"globex", "acme"}}
	js, _ := json.Marshal(&tr)
	for _, data := range [][]byte{AppendTracker(nil, &tr), js} {
		if got, err := DecodeTracker(data); err != nil || !reflect.DeepEqual(got, tr) {
			t.Errorf("tracker %q: %+v %v", data[:1], got, err)
		}
	}
	if got, err := DecodeMember(AppendMember(nil, &ch.Member)); err != nil || !reflect.DeepEqual(got, ch.Member) {
		t.Errorf("member: %+v %v", got, err)
	}
	models := map[string]*ModelState{"acct": {Score: 95 * rules.Scale, Disarmed: []bool{true, false}, CrossedAt: []int64{5, 0}}, "top": {Score: 0}}
	standing := &Aggregate{Models: models, Latest: 42}
	if got, whole, err := DecodeCompany(AppendStanding(nil, standing)); err != nil || whole || !reflect.DeepEqual(got.Models, models) || got.Latest != 42 {
		t.Errorf("standing: %+v %v %v", got, whole, err)
	}
	agg := NewAggregate("acme")
	agg.Contacts["c1"] = &ch.Member
	agg.Models = models
	js, _ = json.Marshal(agg)
	if got, whole, err := DecodeCompany(js); err != nil || !whole || !reflect.DeepEqual(got.Contacts, agg.Contacts) {
		t.Errorf("a whole aggregate in JSON: %+v %v %v", got, whole, err)
	}
	for _, bad := range [][]byte{nil, {0}, {binaryFormat}, AppendChange(nil, &ch)[:10], append(AppendChange(nil, &ch), 1)} {
		if _, err := DecodeChange(bad); err == nil {
			t.Errorf("change %x: no error", bad)
		}
	}
}

// Decoders never panic and never allocate without bound on arbitrary
// input.
func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, ev := range History(r, 5, 2, 5) {
		ch := Change{To: ev.CompanyID, Member: Member{ContactID: ev.ContactID, Seq: 1}, EventID: ev.ID, At: ev.OccurredAt}
		f.Add(AppendChange(nil, &ch))
	}
	f.Add(AppendTracker(nil, &Tracker{Sent: []string{"a"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		DecodeChange(data)
		DecodeTracker(data)
		DecodeMember(data)
		DecodeCompany(data)
	})
}
