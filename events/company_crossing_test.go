package events

import (
	"strings"
	"testing"
)

// A company crossing needs company_id rather than contact_id; an unknown
// level is refused.
func TestDecodeCompanyCrossing(t *testing.T) {
	ok := `{"crossing_id":"x","level":"company","company_id":"acme","model":"acct","crossed_at":"2026-11-03T15:00:00Z","members":[{"contact_id":"bob","score":30,"role":"economic_buyer","owner_id":"u-2"}]}`
	c, err := DecodeCrossing([]byte(ok))
	if err != nil || c.Level != LevelCompany || len(c.Members) != 1 || c.Members[0].OwnerID != "u-2" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"crossing_id":"x","level":"company","model":"acct","crossed_at":"2026-11-03T15:00:00Z"}`, "crossing missing company_id"},
		{`{"crossing_id":"x","level":"account","company_id":"a","model":"acct","crossed_at":"2026-11-03T15:00:00Z"}`, `crossing level "account"`},
		{`{"crossing_id":"x","company_id":"a","model":"acct","crossed_at":"2026-11-03T15:00:00Z"}`, "crossing missing contact_id"},
	} {
		if _, err := DecodeCrossing([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.in, err, tc.want)
		}
	}
}
