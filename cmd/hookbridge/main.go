// Command hookbridge is the Hookbridge webhook gateway: one binary that runs
// the server and the operator's tools.
//
//	hookbridge serve     run the API and the dispatcher
//	hookbridge migrate   apply the database schema and exit
//	hookbridge backup    copy a SQLite database while serve runs
//	hookbridge bench     measure delivery throughput and latency
//	hookbridge listen    receive an application's webhooks on this machine
//	hookbridge verify    check a processor notification's signature
//	hookbridge source    manage inbound sources of a running server
//	hookbridge key       manage the API keys of a running server
//	hookbridge keygen    print a new key for --secret-key
//	hookbridge rekey     seal the stored secrets again under a new key
//	hookbridge version   print the version (also: hookbridge --version, -v)
//
// Every flag has a HOOKBRIDGE_* environment variable; `hookbridge <command>
// --help` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// it is read from the module's build information.
var version = ""

// command is one subcommand: its name, a one-line summary for the overview,
// and the function that parses its own flags and runs it.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"serve", "run the API and the dispatcher (embedded SQLite by default)", runServe},
	{"migrate", "apply the database schema and exit", runMigrate},
	{"backup", "copy a SQLite database to a new file, while serve runs", runBackup},
	{"bench", "measure delivery throughput and latency on this machine", runBench},
	{"listen", "receive an application's webhooks on this machine, checked and printed", runListen},
	{"verify", "check a processor notification's signature, as a source would", runVerify},
	{"source", "manage inbound sources (payment processors) of a running server", runSource},
	{"key", "manage the API keys of a running server", runKey},
	{"keygen", "print a new key for --secret-key, which encrypts stored secrets", runKeygen},
	{"rekey", "seal the stored secrets again under a new key, while serve runs", runRekey},
	{"version", "print the version and exit", runVersion},
}

// runSub runs the subcommand args[0], one of subs,
// with the rest of args; synopsis is the command's help.
func runSub(ctx context.Context, synopsis string, subs []command, args []string, stdout, stderr io.Writer) error {
	names := make([]string, len(subs))
	for i, c := range subs {
		names[i] = c.name
	}
	want := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, "Usage:\n\n"+synopsis)
		if len(args) == 0 {
			return usageError("a subcommand is required: %s", want)
		}
		return nil
	}
	for _, c := range subs {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	return usageError("unknown subcommand %q: want %s", args[0], want)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// usageError marks an error in the command line (exit status 2).
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printOverview(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "-v" {
		args = append([]string{"version"}, args[1:]...)
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		}
		fmt.Fprintf(stderr, "hookbridge %s: %v\n", c.name, err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	fmt.Fprintf(stderr, "hookbridge: unknown command %q\n\n", args[0])
	printOverview(stderr)
	return 2
}

func printOverview(w io.Writer) {
	fmt.Fprint(w, `Hookbridge is a self-hosted webhook gateway: it delivers signed webhooks to
the endpoints your consumers register, retries until they are accepted, and
keeps a log of every attempt.

Usage:
  hookbridge <command> [flags] [arguments]
  hookbridge --version

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "hookbridge <command> --help" for a command's flags. Flags may come before
or after a command's arguments; -- ends the flags. Every flag can also be set
with an environment variable, named HOOKBRIDGE_<FLAG> (e.g. HOOKBRIDGE_ADDR)
unless the command's --help names another.
`)
}
