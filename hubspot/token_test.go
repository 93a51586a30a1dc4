package hubspot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("  pat-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	twoLines := filepath.Join(dir, "two")
	if err := os.WriteFile(twoLines, []byte("pat-secret-a\npat-secret-b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, file, want, errPart string
	}{
		{"env wins", "pat-from-env", file, "pat-from-env", ""},
		{"file when env empty", "", file, "pat-from-file", ""},
		{"neither", "", "", "", "no token file"},
		{"missing file", "", filepath.Join(dir, "nope"), "", "reading"},
		{"empty file", "", empty, "", "is empty"},
		{"two lines", "", twoLines, "", "more than one line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SCOREBRIDGE_TEST_HUBSPOT_TOKEN", tt.env)
			got, err := LoadToken("SCOREBRIDGE_TEST_HUBSPOT_TOKEN", tt.file)
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) {
					t.Fatalf("err %v, want %q", err, tt.errPart)
				}
				if strings.Contains(err.Error(), "pat-secret") {
					t.Errorf("error shows the file's content: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q %v, want %q", got, err, tt.want)
			}
		})
	}
}
