// Package rules loads score models from YAML rule files and compiles their
// filter groups into bounded expr programs. It validates strictly and
// reports every problem at once with file, line and group; it derives from
// each `when` the event types the group can match so scoring can index
// groups by type. It holds no state and does no scoring.
package rules
