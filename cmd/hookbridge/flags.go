package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// flagSet wraps flag.FlagSet so that every flag also reads a HOOKBRIDGE_*
// environment variable. Precedence: command line, then environment, then the
// default. The variable's name is shown in --help.
type flagSet struct {
	*flag.FlagSet
	envErr error // first malformed environment value, reported by parse
}

func newFlagSet(name, synopsis string, out io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: hookbridge %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
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
	if v, ok := fs.env(name); ok {
		def = v
	}
	fs.StringVar(p, name, def, fs.usage(name, usage))
}

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

// parse parses the command line; help requests return flag.ErrHelp, other
// problems a usage error.
func (fs *flagSet) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError("%v", err)
	}
	if fs.envErr != nil {
		return usageError("%v", fs.envErr)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
