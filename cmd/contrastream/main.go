// Command contrastream makes augmented views of image shards, trains a
// contrastive (SimCLR) encoder on them, and evaluates and exports it.
// See DESIGN.md's command-line contract; each subcommand lives in its own
// file in this folder and only parses flags and calls library code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: run parses args (without the subcommand name)
// and does the work.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
	// ownSignals: the command handles SIGINT/SIGTERM itself (train stops
	// gracefully); otherwise the first one cancels ctx.
	ownSignals bool
}

// commands is the explicit table of subcommands (no global registry).
var commands = map[string]command{
	// Each subcommand file adds its entry here.
	"bench":      benchCommand,
	"stream":     streamCommand,
	"eval":       evalCommand,
	"export":     exportCommand,
	"import":     importCommand,
	"preview":    previewCommand,
	"quickstart": quickstartCommand,
	"synth":      synthCommand,
	"train":      trainCommand,
}

func main() {
	os.Exit(mainErr(os.Args[1:]))
}

func mainErr(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "contrastream: unknown command %q\n\n", args[0])
		usage()
		return 2
	}
	ctx := context.Background()
	if !cmd.ownSignals {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	if err := cmd.run(ctx, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "contrastream %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: contrastream <command> [flags]   (contrastream <command> --help for its flags)")
	fmt.Fprintln(os.Stderr, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
}
