package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// flagSet wraps flag.FlagSet so that every flag also reads a HOOKBRIDGE_*
// environment variable. Precedence: command line, then environment, then the
// default. The variable's name is shown in --help.
//
// Flags may come before, between and after a command's arguments (its
// operands, such as a source id): parse takes them all, up to "--", after
// which everything is an argument.
type flagSet struct {
	*flag.FlagSet
	envErr error // first malformed environment value, reported by parse
	// operands names the arguments the command takes, for the usage line
	// ("ID off|shadow|on"); "" for a command that takes none.
	operands string
}

func newFlagSet(name, synopsis string, out io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs.SetOutput(out)
	fs.Usage = func() {
		if fs.operands == "" {
			fmt.Fprintf(out, "Usage: hookbridge %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
		} else {
			fmt.Fprintf(out, "Usage: hookbridge %s [flags] %s [flags]\n\n%s\n\n"+
				"Flags may come before or after the arguments; -- ends the flags.\n\nFlags:\n", name, fs.operands, synopsis)
		}
		fs.PrintDefaults()
	}
	return fs
}

// envName returns the environment variable for a flag: --allow-private is
// HOOKBRIDGE_ALLOW_PRIVATE.
func envName(flagName string) string {
	return "HOOKBRIDGE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (fs *flagSet) env(name string) (string, bool) {
	return os.LookupEnv(envName(name))
}

func (fs *flagSet) usage(name, usage string) string {
	return fmt.Sprintf("%s (env %s)", usage, envName(name))
}

func (fs *flagSet) String(p *string, name, def, usage string) {
	fs.stringEnv(p, name, envName(name), def, usage)
}

// stringEnv is String reading the environment variable env rather than
// the one named after the flag: for a flag whose name means something else
// in other commands, whose variable a user sets for those (verify's --url
// is a notification's URL; HOOKBRIDGE_URL is the server of listen and
// source).
func (fs *flagSet) stringEnv(p *string, name, env, def, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	fs.StringVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, env))
}

// Secret is String for a secret: its environment variable is read like
// every other, but neither it nor a value given on the command line is
// ever shown as the default in --help, which anyone may run.
func (fs *flagSet) Secret(p *string, name, usage string) {
	if v, ok := fs.env(name); ok {
		*p = v
	}
	fs.Var(secretValue{p}, name, fs.usage(name, usage))
}

// secretValue is the flag.Value of Secret: it shows nothing.
type secretValue struct{ p *string }

func (v secretValue) String() string { return "" }

func (v secretValue) Set(s string) error {
	*v.p = s
	return nil
}

// BoolOff is a boolean flag that is true by default, stored negated in
// *off: so that the field's zero value, in a config made in code, is the
// flag's default too.
func (fs *flagSet) BoolOff(off *bool, name, usage string) {
	v := boolOff{off}
	if s, ok := fs.env(name); ok {
		if err := v.Set(s); err != nil {
			fs.setEnvErr(name, s, err)
		}
	}
	fs.Var(v, name, fs.usage(name, usage))
}

// boolOff is the flag.Value of BoolOff.
type boolOff struct{ off *bool }

// String is the flag's value. The zero boolOff, which the flag package
// asks to tell a default worth printing, says false, as a bool flag's does.
func (v boolOff) String() string { return strconv.FormatBool(v.off != nil && !*v.off) }

func (v boolOff) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*v.off = !b
	return nil
}

func (v boolOff) IsBoolFlag() bool { return true }

func (fs *flagSet) Bool(p *bool, name string, def bool, usage string) {
	if v, ok := fs.env(name); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fs.setEnvErr(name, v, err)
		} else {
			def = b
		}
	}
	fs.BoolVar(p, name, def, fs.usage(name, usage))
}

func (fs *flagSet) Int(p *int, name string, def int, usage string) {
	fs.IntVar(p, name, envDefault(fs, name, def, strconv.Atoi), fs.usage(name, usage))
}

func (fs *flagSet) Int64(p *int64, name string, def int64, usage string) {
	parse := func(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) }
	fs.Int64Var(p, name, envDefault(fs, name, def, parse), fs.usage(name, usage))
}

func (fs *flagSet) Float64(p *float64, name string, def float64, usage string) {
	parse := func(v string) (float64, error) { return strconv.ParseFloat(v, 64) }
	fs.Float64Var(p, name, envDefault(fs, name, def, parse), fs.usage(name, usage))
}

func (fs *flagSet) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	fs.DurationVar(p, name, envDefault(fs, name, def, time.ParseDuration), fs.usage(name, usage))
}

// DurationOrNever is a duration flag that also takes "never", which it
// stores in p as never (a negative duration). Zero and negative durations
// are refused, so that no number stands for "never".
func (fs *flagSet) DurationOrNever(p *time.Duration, name string, def, never time.Duration, usage string) {
	v := &durationOrNever{p: p, never: never}
	*p = def
	if s, ok := fs.env(name); ok {
		if err := v.Set(s); err != nil {
			fs.setEnvErr(name, s, err)
		}
	}
	fs.Var(v, name, fs.usage(name, usage))
}

// durationOrNever is the flag.Value of DurationOrNever.
type durationOrNever struct {
	p     *time.Duration
	never time.Duration
}

func (v *durationOrNever) String() string {
	switch {
	case v.p == nil:
		return ""
	case *v.p == v.never:
		return "never"
	}
	return v.p.String()
}

func (v *durationOrNever) Set(s string) error {
	if s == "never" {
		*v.p = v.never
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New(`want a positive duration (e.g. 120h) or "never"`)
	}
	*v.p = d
	return nil
}

// envDefault returns the flag's environment variable parsed, if it is set
// and parses, else def; a value that does not parse is kept for parse to
// report.
func envDefault[T any](fs *flagSet, name string, def T, parse func(string) (T, error)) T {
	v, ok := fs.env(name)
	if !ok {
		return def
	}
	x, err := parse(v)
	if err != nil {
		fs.setEnvErr(name, v, err)
		return def
	}
	return x
}

func (fs *flagSet) setEnvErr(name, v string, err error) {
	if fs.envErr == nil {
		fs.envErr = fmt.Errorf("invalid value %q for %s: %v", v, envName(name), err)
	}
}

// parse parses the command line, flags and arguments in any order, and
// sets operands to the arguments in turn; an argument beyond them is a
// usage error, and operands not given are left as they are. "--" ends the
// flags: what follows is arguments even if it starts with "-" (a flag's
// value that is "--" must be given as --flag=--). Help requests return
// flag.ErrHelp, other problems a usage error.
func (fs *flagSet) parse(args []string, operands ...*string) error {
	positional, err := fs.parseInterspersed(args)
	if err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError("%v", err)
	}
	if fs.envErr != nil {
		return usageError("%v", fs.envErr)
	}
	if len(positional) > len(operands) {
		return usageError("unexpected argument %q", positional[len(operands)])
	}
	for i, a := range positional {
		*operands[i] = a
	}
	return nil
}

// parseInterspersed returns the arguments of args, parsing the flags
// around them. The flag package stops at the first argument that is not a
// flag; this takes that argument and carries on with the rest. Each run of
// the flag package is given the args only up to the next "--", so that it
// cannot swallow the "--" itself and lose track of where the flags end.
func (fs *flagSet) parseInterspersed(args []string) ([]string, error) {
	var positional []string
	for len(args) > 0 {
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		if !strings.HasPrefix(args[0], "-") || args[0] == "-" {
			positional = append(positional, args[0])
			args = args[1:]
			continue
		}
		end := len(args)
		if i := slices.Index(args, "--"); i >= 0 {
			end = i
		}
		if err := fs.Parse(args[:end]); err != nil {
			return nil, err
		}
		args = args[end-len(fs.Args()):] // what it did not take, and from "--" on
	}
	return positional, nil
}
