// Package docscheck holds tests that hold the documentation to the code
// across packages: what the docs name must exist, what the code exports
// must be documented.
package docscheck
