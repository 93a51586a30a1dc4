package enrollment

import (
	"strings"
	"testing"
)

// hubspot.api_version picks the Sequences API version: the dated one by
// default, v4 on request, anything else is an error naming the line.
func TestConfigHubSpotAPIVersion(t *testing.T) {
	for _, tc := range []struct{ yaml, want, problem string }{
		{"", "2026-03", ""},
		{"hubspot: {api_version: v4}\n", "v4", ""},
		{"hubspot: {api_version: \"2026-03\"}\n", "2026-03", ""},
		{"hubspot: {api_version: v3}\n", "", `mem.yaml:1: hubspot.api_version: api_version "v3": want "2026-03" (current) or "v4" (legacy)`},
	} {
		cfg, err := ParseConfig("mem.yaml", []byte(tc.yaml+"sink: dry-run\nroutes: [{model: m, sequence_id: '1'}]\n"))
		switch {
		case tc.problem != "":
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("%q: err %v, want %s", tc.yaml, err, tc.problem)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case cfg.HubSpot.APIVersion != tc.want:
			t.Errorf("%q: api_version %q, want %q", tc.yaml, cfg.HubSpot.APIVersion, tc.want)
		}
	}
}
