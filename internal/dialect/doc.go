// Package dialect is the configuration language an operator writes, shared
// by rule files (rules) and the bridge configuration (enrollment): YAML
// read with line numbers and every problem reported at once as file:line,
// one duration syntax (30d, 168h, 1w), one time syntax for the commands'
// flags (RFC 3339 or a date), and one expression policy (the
// builtins, size and memory bounds every `when` and `points` is held to).
// It knows nothing of scoring or enrollment.
package dialect
