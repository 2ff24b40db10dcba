package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/ui"
)

// TestServeOIDCFlagsRefused: settings of the dashboard's sign-in through
// an OpenID Connect provider that cannot work are usage errors (exit 2)
// naming the flag, before anything is created.
func TestServeOIDCFlagsRefused(t *testing.T) {
	t.Parallel()
	const issuer = "https://login.example.com/realms/ops"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin-key-sign-in=false"}, "--admin-key-sign-in=false needs --oidc-issuer"},
		{[]string{"--oidc-client-id", "hb"}, "--oidc-client-id is set but --oidc-issuer is not"},
		{[]string{"--oidc-issuer", issuer, "--oidc-client-id", "hb", "--oidc-admin-values", "ops"}, "--oidc-redirect-url: set it"},
		{[]string{"--oidc-issuer", "http://login.example.com", "--oidc-client-id", "hb", "--public-url", "https://hooks.example.com", "--oidc-admin-values", "ops"}, "--oidc-issuer: "},
		{[]string{"--oidc-issuer", issuer, "--public-url", "https://hooks.example.com", "--oidc-admin-values", "ops"}, "--oidc-client-id: required"},
		{[]string{"--oidc-issuer", issuer, "--oidc-client-id", "hb", "--public-url", "https://hooks.example.com"}, "--oidc-admin-values: name at least one value"},
		{[]string{"--oidc-issuer", issuer, "--oidc-client-id", "hb", "--public-url", "https://hooks.example.com", "--oidc-admin-values", "ops", "--oidc-read-only-values", "ops,staff"}, "--oidc-read-only-values: \"ops\" is also an admin value"},
		{[]string{"--oidc-issuer", issuer, "--oidc-client-id", "hb", "--oidc-redirect-url", "https://hooks.example.com/callback", "--oidc-admin-values", "ops"}, "--oidc-redirect-url: "},
		{[]string{"--oidc-issuer", issuer, "--oidc-client-id", "hb", "--public-url", "hooks.example.com", "--oidc-admin-values", "ops"}, "--public-url: the OpenID Connect redirect URL derived from it"},
	} {
		dir := t.TempDir()
		var stdout, stderr bytes.Buffer
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "hookbridge.db")}, c.args...)
		code := run(context.Background(), args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", c.args, code, stderr.String(), c.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("%v: a refused start left %s behind", c.args, entries[0].Name())
		}
	}
}

// TestServeOIDCConfig: the redirect URL follows --public-url unless given,
// lists take commas or spaces, and the client secret is passed on.
func TestServeOIDCConfig(t *testing.T) {
	t.Parallel()
	cfg := serveConfig{
		PublicURL: "https://hooks.example.com/", OIDCIssuer: "https://login.example.com", OIDCClientID: "hb", OIDCClientSecret: "s3cret",
		OIDCScopes: "openid,email groups", OIDCAdminValues: "ops, platform", OIDCReadOnlyValues: "support",
	}
	oc, err := cfg.oidcConfig()
	if err != nil {
		t.Fatal(err)
	}
	if oc.RedirectURL != "https://hooks.example.com"+ui.OIDCCallbackPath || oc.ClientSecret != "s3cret" ||
		!slices.Equal(oc.Scopes, []string{"openid", "email", "groups"}) || !slices.Equal(oc.AdminValues, []string{"ops", "platform"}) ||
		!slices.Equal(oc.ReadOnlyValues, []string{"support"}) {
		t.Errorf("config %+v", oc)
	}
	cfg.OIDCRedirectURL = "https://dash.example.com/ui/oidc/callback"
	if oc, _ := cfg.oidcConfig(); oc.RedirectURL != cfg.OIDCRedirectURL {
		t.Errorf("redirect URL %q, want the flag's", oc.RedirectURL)
	}
	if oc, err := (&serveConfig{}).oidcConfig(); oc != nil || err != nil {
		t.Errorf("no issuer: %v, %v; want no OIDC", oc, err)
	}
}

// TestServeWithoutAdminKeySignIn: serve wires the settings into the
// dashboard: the sign-in page offers the provider only and refuses the
// admin key, which the API still takes; a provider that does not answer at
// start is a warning, not a failed start.
func TestServeWithoutAdminKeySignIn(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() // nobody answers there
	ln.Close()
	srv := startTestServer(t, func(c *serveConfig) {
		c.PublicURL = "https://hooks.example.com"
		c.OIDCIssuer, c.OIDCClientID, c.OIDCAdminValues = down, "hb", "ops"
		c.NoAdminKeySignIn = true
	})
	base := "http://" + srv.Addr
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/ui/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `href="/ui/oidc/login`) || strings.Contains(string(body), `id="key"`) {
		t.Errorf("GET /ui/login = %d:\n%s", resp.StatusCode, body)
	}
	resp, err = client.PostForm(base+"/ui/login", url.Values{"key": {testAPIKey}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("POST /ui/login with the admin key = %d, cookies %v; want 403 and none", resp.StatusCode, resp.Cookies())
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/app", nil)
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the API with the admin key = %d", resp.StatusCode)
	}
	if resp, err = client.Get(base + "/ui/oidc/login"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("sign-in with the provider down = %d, want 502", resp.StatusCode)
	}
}

// TestSecretFlagsHidden: --help never shows a secret taken from the
// environment as a default, and the secret is still read from there.
func TestSecretFlagsHidden(t *testing.T) {
	secrets := map[string]string{
		"HOOKBRIDGE_API_KEY":            "hbk_env_admin_key_0123456789abcdefghij",
		"HOOKBRIDGE_SECRET_KEY":         "c2VjcmV0LWtleS1vZi10aGlydHktdHdvLWJ5dGVzISE=",
		"HOOKBRIDGE_OIDC_CLIENT_SECRET": "oidc-client-secret-from-env",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	run(context.Background(), []string{"serve", "--help"}, &stdout, &stderr)
	help := stdout.String() + stderr.String()
	for k, v := range secrets {
		if strings.Contains(help, v) {
			t.Errorf("serve --help shows %s's value", k)
		}
		if !strings.Contains(help, k) {
			t.Errorf("serve --help does not name %s", k)
		}
	}
	// The client commands take the admin key too.
	for _, cmd := range [][]string{{"source", "list", "--help"}, {"listen", "--help"}} {
		stdout.Reset()
		stderr.Reset()
		run(context.Background(), cmd, &stdout, &stderr)
		if help := stdout.String() + stderr.String(); strings.Contains(help, secrets["HOOKBRIDGE_API_KEY"]) || !strings.Contains(help, "api-key") {
			t.Errorf("%s shows the admin key's value, or no --api-key:\n%s", strings.Join(cmd, " "), help)
		}
	}
	var cfg serveConfig
	fs := newFlagSet("serve", "", io.Discard)
	cfg.register(fs)
	if err := fs.parse(nil); err != nil {
		t.Fatal(err)
	}
	if cfg.APIKey != secrets["HOOKBRIDGE_API_KEY"] || cfg.OIDCClientSecret != secrets["HOOKBRIDGE_OIDC_CLIENT_SECRET"] {
		t.Errorf("secrets not read from the environment: %q %q", cfg.APIKey, cfg.OIDCClientSecret)
	}
	if err := fs.parse([]string{"--oidc-client-secret", "from-the-command-line", "--admin-key-sign-in=false"}); err != nil {
		t.Fatal(err)
	}
	if cfg.OIDCClientSecret != "from-the-command-line" || !cfg.NoAdminKeySignIn {
		t.Errorf("flags: secret %q, NoAdminKeySignIn %v", cfg.OIDCClientSecret, cfg.NoAdminKeySignIn)
	}
}

// TestAdminKeySignInFlag: --admin-key-sign-in is on by default, and off
// from the command line or HOOKBRIDGE_ADMIN_KEY_SIGN_IN.
func TestAdminKeySignInFlag(t *testing.T) {
	for _, c := range []struct {
		env  string
		args []string
		off  bool
	}{
		{off: false},
		{args: []string{"--admin-key-sign-in=false"}, off: true},
		{args: []string{"--admin-key-sign-in"}, off: false},
		{env: "false", off: true},
		{env: "false", args: []string{"--admin-key-sign-in=true"}, off: false},
	} {
		t.Run(strings.Join(append([]string{"env=" + c.env}, c.args...), " "), func(t *testing.T) {
			if c.env != "" {
				t.Setenv("HOOKBRIDGE_ADMIN_KEY_SIGN_IN", c.env)
			}
			var cfg serveConfig
			fs := newFlagSet("serve", "", io.Discard)
			cfg.register(fs)
			if err := fs.parse(c.args); err != nil {
				t.Fatal(err)
			}
			if cfg.NoAdminKeySignIn != c.off {
				t.Errorf("NoAdminKeySignIn = %v, want %v", cfg.NoAdminKeySignIn, c.off)
			}
		})
	}
	t.Setenv("HOOKBRIDGE_ADMIN_KEY_SIGN_IN", "maybe")
	var cfg serveConfig
	fs := newFlagSet("serve", "", io.Discard)
	cfg.register(fs)
	if err := fs.parse(nil); err == nil {
		t.Error("HOOKBRIDGE_ADMIN_KEY_SIGN_IN=maybe was accepted")
	}
}
