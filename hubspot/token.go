package hubspot

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// LoadToken returns the private-app or OAuth token from the environment
// variable envName, else from the file at filePath (surrounding white space
// trimmed). Errors name where it looked, never what it found.
func LoadToken(envName, filePath string) (string, error) {
	if envName != "" {
		if v := strings.TrimSpace(os.Getenv(envName)); v != "" {
			return v, nil
		}
	}
	if filePath == "" {
		return "", fmt.Errorf("hubspot token: $%s is empty and no token file is configured", envName)
	}
	b, err := os.ReadFile(filePath)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message below
		}
		return "", fmt.Errorf("hubspot token: $%s is empty and reading %s failed: %w", envName, filePath, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("hubspot token: $%s is empty and %s is empty", envName, filePath)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("hubspot token: %s holds more than one line or word", filePath)
	}
	return tok, nil
}
