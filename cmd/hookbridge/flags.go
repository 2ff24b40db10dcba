package main

import (
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
	if v, ok := fs.env(name); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			fs.setEnvErr(name, v, err)
		} else {
			def = n
		}
	}
	fs.IntVar(p, name, def, fs.usage(name, usage))
}

func (fs *flagSet) Int64(p *int64, name string, def int64, usage string) {
	if v, ok := fs.env(name); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			fs.setEnvErr(name, v, err)
		} else {
			def = n
		}
	}
	fs.Int64Var(p, name, def, fs.usage(name, usage))
}

func (fs *flagSet) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := fs.env(name); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			fs.setEnvErr(name, v, err)
		} else {
			def = d
		}
	}
	fs.DurationVar(p, name, def, fs.usage(name, usage))
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
