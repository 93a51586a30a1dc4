// Command bridge turns threshold crossings into HubSpot sequence and
// workflow enrollments (`bridge run`), serves a local HubSpot sandbox
// (`bridge sandbox`), checks a configuration (`bridge check`) and measures
// itself (`bridge bench`). It only wires flags to packages: the decisions
// live in package enrollment, HubSpot in hubspot, Kafka in stream,
// ClickHouse in analytics.
package main

import (
	"flag"
	"io"
	"os"
	"strings"

	"github.com/scorebridge/scorebridge/internal/cli"
)

var commands = cli.Set{Program: "bridge", Commands: map[string]cli.Command{
	"run":             {Summary: "consume crossings and enroll contacts (the service)", Run: cmdRun},
	"sandbox":         {Summary: "serve the local HubSpot sandbox", Run: cmdSandbox},
	"check":           {Summary: "validate a bridge configuration, printing every problem", Run: cmdCheck},
	"bench":           {Summary: "measure crossing-to-enrollment latency and throughput against the sandbox", Run: cmdBench},
	"ingest":          {Summary: "receive HubSpot's signed webhooks and produce them as events", Run: cmdIngest},
	"writeback-check": {Summary: "compare HubSpot's contact properties with lead-scores messages (scorer state scores)", Run: cmdWritebackCheck},
}}

type exitError = cli.ExitError

var envOr = cli.EnvOr

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int { return commands.Main(args, stdout, stderr) }

// newFlagSet makes every command's flag set; a test wraps it to see them
// all (TestDurationFlagsSpeakTheDialect).
var newFlagSet = cli.Flags

func flags(name string, stderr io.Writer) *flag.FlagSet { return newFlagSet("bridge", name, stderr) }

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
