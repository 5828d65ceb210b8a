// Command seatbridge is the Seatbridge server and its administration CLI: it turns flags
// and SEATBRIDGE_* environment variables into a Config, opens the store, wires the SCIM,
// SSO and admin doors onto one HTTP server, and offers commands for tenants, tokens,
// connections and clients. It is the only package that imports store and the sso
// implementations.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/seatbridge/seatbridge/provisioning"
)

// command is one CLI verb ("serve", "tenant create", …).
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv carries what every command gets: output streams and the process environment.
type cliEnv struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// usageError marks mistakes in how a command was called (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &cliEnv{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// run dispatches args to a command and turns its error into one line and an exit status:
// never a stack trace.
func run(ctx context.Context, args []string, env *cliEnv) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(env.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	commands := commandsByName()
	name := args[0]
	rest := args[1:]
	c, ok := commands[name]
	if !ok && len(args) > 1 {
		if c, ok = commands[name+" "+args[1]]; ok {
			rest = args[2:]
		}
	}
	if !ok {
		fmt.Fprintf(env.stderr, "seatbridge: unknown command %q (run 'seatbridge help')\n", strings.Join(args[:min(2, len(args))], " "))
		return 2
	}
	err := c.run(ctx, env, rest)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(env.stderr, "seatbridge %s: %s\n", c.name, describe(err))
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// describe renders an error as one line for a person.
func describe(err error) string {
	var ve *provisioning.ValidationError
	if errors.As(err, &ve) {
		return "invalid " + ve.Error()
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Seatbridge: SCIM 2.0 provisioning and SAML/OIDC single sign-on for tenants.")
	fmt.Fprintln(w, "\nUsage: seatbridge COMMAND [flags]   (every flag can also be set as SEATBRIDGE_<FLAG>)")
	fmt.Fprintln(w, "\nCommands:")
	commands := commandsByName()
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-20s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'seatbridge COMMAND -h' for a command's flags.")
}

// parseFlags parses flags that may come before, between or after positional arguments
// ("tenant create acme --seats 5"), which the flag package alone does not allow.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stdout)
				fs.PrintDefaults()
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// openCommand parses the flags of a command that takes no positional arguments and opens
// the app; the caller closes it.
func openCommand(ctx context.Context, env *cliEnv, fs *flag.FlagSet, b *flagBinder, cfg *Config, args []string) (*app, error) {
	_, a, err := openCommandArgs(ctx, env, fs, b, cfg, args, noArgs)
	return a, err
}

// noArgs is the check of a command that takes no positional arguments.
func noArgs(pos []string) error {
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	return nil
}

// openCommandArgs parses flags and positional arguments, lets check refuse them before
// anything touches the database, and opens the app; the caller closes it.
func openCommandArgs(ctx context.Context, env *cliEnv, fs *flag.FlagSet, b *flagBinder, cfg *Config, args []string,
	check func(pos []string) error) ([]string, *app, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if err := b.err(); err != nil {
		return nil, nil, err
	}
	if err := check(pos); err != nil {
		return nil, nil, err
	}
	a, err := openApp(ctx, *cfg, env)
	return pos, a, err
}

// printList writes rows as a JSON array (never null) with --json, else as a table under
// header (tab-separated columns) with one line a row.
func printList[T any](env *cliEnv, cfg *Config, rows []T, header string, line func(w io.Writer, r T)) error {
	if cfg.JSON {
		if rows == nil {
			rows = []T{}
		}
		return printJSON(env.stdout, rows)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		line(tw, r)
	}
	return tw.Flush()
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
