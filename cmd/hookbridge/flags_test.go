package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/dispatch"
)

// TestFlagsAroundArguments: flags may come before, between and after a
// command's arguments, "--" ends them, and an argument too many is a usage
// error naming it.
func TestFlagsAroundArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		id, st   string
		url      string
		percent  int
		all      bool
		errMatch string // "" when parse must succeed
	}{
		{name: "flags after", args: []string{"src_1", "on", "--url", "u", "--percent", "10"}, id: "src_1", st: "on", url: "u", percent: 10},
		{name: "flags before", args: []string{"--url", "u", "--percent", "10", "src_1", "on"}, id: "src_1", st: "on", url: "u", percent: 10},
		{name: "flags between", args: []string{"--url=u", "src_1", "--percent", "10", "on", "--all"}, id: "src_1", st: "on", url: "u", percent: 10, all: true},
		{name: "bool flag before an argument", args: []string{"--all", "src_1", "on"}, id: "src_1", st: "on", all: true},
		{name: "negative value", args: []string{"src_1", "--percent", "-1", "on"}, id: "src_1", st: "on", percent: -1},
		{name: "one argument", args: []string{"--url", "u", "src_1"}, id: "src_1", url: "u"},
		{name: "none", args: []string{"--url", "u"}, url: "u"},
		{name: "dash dash ends the flags", args: []string{"--url", "u", "--", "-src", "--percent"}, id: "-src", st: "--percent", url: "u"},
		{name: "dash dash after an argument", args: []string{"src_1", "--", "on"}, id: "src_1", st: "on"},
		{name: "dash dash as a value", args: []string{"--url=--", "src_1"}, id: "src_1", url: "--"},
		{name: "a lone dash is an argument", args: []string{"-", "on"}, id: "-", st: "on"},
		{name: "too many", args: []string{"src_1", "on", "--url", "u", "off"}, errMatch: `unexpected argument "off"`},
		{name: "too many after dash dash", args: []string{"src_1", "--", "on", "--url"}, errMatch: `unexpected argument "--url"`},
		{name: "unknown flag after an argument", args: []string{"src_1", "--nope"}, errMatch: "-nope"},
		{name: "missing value before dash dash", args: []string{"--url", "--", "src_1"}, errMatch: "needs an argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var id, st, url string
			var percent int
			var all bool
			fs := newFlagSet("test", "", &bytes.Buffer{})
			fs.String(&url, "url", "", "")
			fs.Int(&percent, "percent", 0, "")
			fs.Bool(&all, "all", false, "")
			err := fs.parse(tc.args, &id, &st)
			if tc.errMatch != "" {
				var ee *exitError
				if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.errMatch) {
					t.Fatalf("parse(%q) = %v, want a usage error mentioning %q", tc.args, err, tc.errMatch)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tc.args, err)
			}
			if id != tc.id || st != tc.st || url != tc.url || percent != tc.percent || all != tc.all {
				t.Errorf("parse(%q): id %q state %q url %q percent %d all %v; want %q %q %q %d %v",
					tc.args, id, st, url, percent, all, tc.id, tc.st, tc.url, tc.percent, tc.all)
			}
		})
	}
}

// TestCommandsTakeFlagsAnywhere: the commands accept their flags on either
// side of their arguments, as the README writes them, say so in --help,
// and those without arguments still refuse one wherever it is.
func TestCommandsTakeFlagsAnywhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startTestServer(t)
	base := "http://" + srv.Addr
	src := createSourceCLI(t, srv, "--scheme", "stripe", "--secret", e2eStripeSecret, "--state", "off")

	runOK := func(args ...string) []byte {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(ctx, args, &stdout, &stderr); code != 0 {
			t.Fatalf("hookbridge %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
		}
		return stdout.Bytes()
	}
	type rollout struct {
		State     string   `json:"state"`
		Merchants []string `json:"merchants"`
		Percent   *int     `json:"percent"`
	}
	setState := func(args ...string) rollout {
		t.Helper()
		var out struct {
			Rollout rollout `json:"rollout"`
		}
		raw := runOK(append([]string{"source", "set-state"}, args...)...)
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		return out.Rollout
	}

	// The README's own line: the key first, then the id and the state,
	// then the rollout's flags.
	if r := setState("--api-key", testAPIKey, "--url", base, src, "on", "--percent", "10"); r.State != "on" || r.Percent == nil || *r.Percent != 10 {
		t.Errorf("flags before and after: rollout %+v", r)
	}
	if r := setState(src, "--merchants", "PizzaEU,PizzaUK", "on", "--url", base, "--api-key", testAPIKey); r.State != "on" || !slices.Equal(r.Merchants, []string{"PizzaEU", "PizzaUK"}) {
		t.Errorf("flags between: rollout %+v", r)
	}
	if r := setState("--url", base, "--api-key", testAPIKey, "--all-merchants", "--", src, "off"); r.State != "off" || r.Merchants != nil || r.Percent != nil {
		t.Errorf("after --: rollout %+v", r)
	}
	var got struct{ ID string }
	if err := json.Unmarshal(runOK("source", "get", "--url", base, "--api-key", testAPIKey, src), &got); err != nil || got.ID != src {
		t.Errorf("source get with the id last: %+v, %v", got, err)
	}

	for _, args := range [][]string{
		{"source", "get", src, "src_other", "--url", base, "--api-key", testAPIKey},
		{"source", "list", "extra", "--url", base, "--api-key", testAPIKey},
		{"migrate", "extra", "--db", filepath.Join(t.TempDir(), "x.db")},
		{"backup", "--db", "a.db", "extra", "--to", "b.db"},
		{"version", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(ctx, args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "unexpected argument") {
			t.Errorf("hookbridge %s: exit %d, stderr %q; want 2 and an unexpected argument", strings.Join(args, " "), code, stderr.String())
		}
	}

	var stderr bytes.Buffer
	if code := run(ctx, []string{"source", "set-state", "--help"}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("set-state --help: exit %d", code)
	}
	for _, want := range []string{"hookbridge source set-state [flags] ID off|shadow|on [flags]", "Flags may come before or after the arguments; -- ends the flags."} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("set-state --help does not say %q:\n%s", want, stderr.String())
		}
	}
	var overview bytes.Buffer
	run(ctx, []string{"--help"}, &overview, &bytes.Buffer{})
	if !strings.Contains(overview.String(), "Flags may come before\nor after a command's arguments; -- ends the flags.") {
		t.Errorf("the overview does not say where flags may go:\n%s", overview.String())
	}
}

// TestVersionFlag: --version and -v print what `hookbridge version` prints.
func TestVersionFlag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var want bytes.Buffer
	if code := run(ctx, []string{"version"}, &want, &bytes.Buffer{}); code != 0 || !strings.HasPrefix(want.String(), "hookbridge ") {
		t.Fatalf("version: exit %d, %q", code, want.String())
	}
	for _, arg := range []string{"--version", "-version", "-v"} {
		var stdout, stderr bytes.Buffer
		if code := run(ctx, []string{arg}, &stdout, &stderr); code != 0 || stdout.String() != want.String() {
			t.Errorf("hookbridge %s: exit %d, stdout %q, stderr %q; want 0 and %q", arg, code, stdout.String(), stderr.String(), want.String())
		}
	}
	var overview bytes.Buffer
	run(ctx, []string{"--help"}, &overview, &bytes.Buffer{})
	if !strings.Contains(overview.String(), "hookbridge --version") {
		t.Errorf("the overview does not mention --version:\n%s", overview.String())
	}
}

// TestDisableAfterFlag: --disable-after takes a positive duration or
// "never", from the command line or the environment, and its zero is
// refused rather than read as "never": serveConfig.DisableAfter's zero,
// like dispatch.Config's, is the default.
func TestDisableAfterFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string // HOOKBRIDGE_DISABLE_AFTER; "" leaves it unset
		want time.Duration
		bad  bool
	}{
		{name: "Default", want: dispatch.DefaultDisableAfter},
		{name: "Duration", args: []string{"--disable-after", "48h"}, want: 48 * time.Hour},
		{name: "Never", args: []string{"--disable-after", "never"}, want: dispatch.NeverDisable},
		{name: "NeverFromEnv", env: "never", want: dispatch.NeverDisable},
		{name: "EnvOverridden", env: "never", args: []string{"--disable-after", "1h"}, want: time.Hour},
		{name: "Zero", args: []string{"--disable-after", "0"}, bad: true},
		{name: "Negative", args: []string{"--disable-after", "-1h"}, bad: true},
		{name: "ZeroFromEnv", env: "0", bad: true},
		{name: "Garbage", args: []string{"--disable-after", "soon"}, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("HOOKBRIDGE_DISABLE_AFTER", tc.env)
			}
			var cfg serveConfig
			fs := newFlagSet("serve", "", &bytes.Buffer{})
			cfg.register(fs)
			err := fs.parse(tc.args)
			var ee *exitError
			switch {
			case tc.bad && (!errors.As(err, &ee) || ee.code != 2):
				t.Fatalf("parse %v = %v, want a usage error", tc.args, err)
			case !tc.bad && err != nil:
				t.Fatalf("parse %v: %v", tc.args, err)
			case !tc.bad && cfg.DisableAfter != tc.want:
				t.Errorf("DisableAfter = %v, want %v", cfg.DisableAfter, tc.want)
			}
		})
	}
}
