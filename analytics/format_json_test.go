package analytics

import (
	"bytes"
	"encoding/json"
	"testing"
)

// An empty report prints its lists as [] in JSON, so `jq '.decisions[]'`
// works on a contact without decisions.
func TestWriteJSONEmptyListsAreArrays(t *testing.T) {
	for name, r := range map[string]Report{
		"attribution": AttributionReport{}, "cadence": CadenceReport{}, "timeline": TimelineReport{},
		"decisions": DecisionsReport{ContactID: "c-none"}, "api-calls": APICallsReport{ContactID: "c-none"},
	} {
		var b bytes.Buffer
		if err := Write(&b, "json", r); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k, v := range m {
			if v == nil {
				t.Errorf("%s: %q is null, want []:\n%s", name, k, b.String())
			}
		}
	}
	var b bytes.Buffer
	Write(&b, "json", DecisionsReport{ContactID: "c-none"})
	if !bytes.Contains(b.Bytes(), []byte(`"decisions": []`)) {
		t.Errorf("decisions report: %s", b.String())
	}
}
