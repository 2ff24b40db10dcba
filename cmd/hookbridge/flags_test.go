package main

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/dispatch"
)

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
