package enrollment

import (
	"os"
	"testing"
)

// ParseConfig must never panic, whatever the file holds.
func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"../testdata/bridge.yaml", "testdata/config/invalid.yaml", "testdata/config/unknown_keys.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("routes: [{model: m, when: 'contact.a ?? 1 > 0', sequence_id: '1'}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.yaml", data)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
	})
}
