package hubspot

import "fmt"

// The Sequences API versions the client speaks and the sandbox serves.
// HubSpot documents the Sequences API under dated versions and marks the
// v4 paths legacy; the calls, their parameters and their answers are the
// same in both (sandbox/version_test.go records what HubSpot's docs show).
const (
	// APIVersion202603 is the current dated version, the default:
	// /automation/sequences/2026-03/...
	APIVersion202603 = "2026-03"
	// APIVersionV4 is the legacy version: /automation/v4/sequences/...
	APIVersionV4 = "v4"
)

// APIVersions lists the versions, the default first.
var APIVersions = []string{APIVersion202603, APIVersionV4}

// SequencesPrefix is the path every Sequences call of version v starts with.
func SequencesPrefix(v string) string {
	if v == APIVersionV4 {
		return "/automation/v4/sequences"
	}
	return "/automation/sequences/" + v
}

func checkAPIVersion(v string) error {
	for _, ok := range APIVersions {
		if v == ok {
			return nil
		}
	}
	return fmt.Errorf("api version %q: want %s (current) or %s (legacy)", v, APIVersion202603, APIVersionV4)
}

// IsEnrollPath reports whether path is the sequence enrollment endpoint in
// any version (for test and benchmark seams that watch enrollments go by).
func IsEnrollPath(path string) bool {
	for _, v := range APIVersions {
		if path == SequencesPrefix(v)+"/enrollments" {
			return true
		}
	}
	return false
}
