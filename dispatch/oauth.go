package dispatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/hookbridge/hookbridge"
)

// OAuth 2.0 client credentials: an endpoint whose receiver demands a bearer
// token (hookbridge.EndpointOAuth) is sent every request with
// "Authorization: Bearer <token>", the token got from the endpoint's token
// URL with the client credentials grant (golang.org/x/oauth2's
// clientcredentials, the client authenticated with HTTP Basic, RFC 6749
// §2.3.1).
//
// One token per endpoint per instance, shared by every request to the
// endpoint until it expires (a minute early, by the dispatcher's clock):
// workers that need it while it is being fetched wait for that fetch. A
// receiver that answers 401 gets one fresh token at once, and the same
// request again with it: both make one attempt, whose result is the second
// answer's. A token that cannot be got (the token server down or refusing)
// makes a failed attempt that says why, retried on the usual schedule.
//
// The token URL is reached through the dispatcher's own HTTP transport: the
// same SSRF-guarded dialer and egress proxy as deliveries; redirects are
// not followed. As for the client certificate (mtls.go), the claim carries
// the endpoint's OAuthVersion, and the configuration is read only when it
// moved on.

// oauthEarly is how long before its expiry a token is no longer used.
const oauthEarly = time.Minute

// oauthCacheSize bounds the endpoints whose tokens are kept.
const oauthCacheSize = 10_000

// oauthTokens keeps one oauthEntry per endpoint with OAuth.
type oauthTokens struct {
	entries endpointCache[*oauthEntry]
	client  *http.Client // for token requests
}

// oauthEntry is an endpoint's OAuth configuration, as of version, and its
// current token. mu is held while a token is fetched.
type oauthEntry struct {
	version  int64
	cfg      clientcredentials.Config
	tokenURL *url.URL

	mu  sync.Mutex
	tok *oauth2.Token
}

// errOAuth marks a failure to get a token.
var errOAuth = errors.New("OAuth token request failed")

// oauthEntry returns the OAuth entry of c's endpoint (OAuthVersion > 0),
// or nil when the configuration was deleted since the claim.
func (d *Dispatcher) oauthEntry(ctx context.Context, c *hookbridge.Claim) (*oauthEntry, error) {
	id := c.Endpoint.ID
	if e, ok := d.oauth.entries.get(id, c.Endpoint.OAuthVersion); ok {
		return e, nil
	}
	conf, err := d.store.GetEndpointOAuth(ctx, c.Delivery.AppID, id)
	if err != nil {
		if hookbridge.IsNotFound(err) {
			return nil, nil
		}
		d.log.Warn("dispatch: reading an endpoint's OAuth configuration", "endpoint", id, "err", err)
		return nil, fmt.Errorf("%w: the configuration could not be read", errOAuth)
	}
	u, err := url.Parse(conf.TokenURL)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid token URL", errOAuth)
	}
	e := &oauthEntry{version: conf.Version, tokenURL: u, cfg: clientcredentials.Config{
		ClientID:     conf.ClientID,
		ClientSecret: conf.ClientSecret,
		TokenURL:     conf.TokenURL,
		Scopes:       conf.Scopes,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}}
	if conf.Audience != "" {
		e.cfg.EndpointParams = url.Values{"audience": {conf.Audience}}
	}
	return d.oauth.entries.put(id, e.version, e), nil
}

// oauthToken returns the endpoint's token, fetching one if it has none
// that is still good, or if it is stale (the receiver refused it).
func (d *Dispatcher) oauthToken(ctx context.Context, e *oauthEntry, stale *oauth2.Token) (*oauth2.Token, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tok; t != nil && t != stale && (t.Expiry.IsZero() || d.now().Before(t.Expiry.Add(-oauthEarly))) {
		return t, nil
	}
	if err := d.guard.CheckScheme(e.tokenURL.Scheme); err != nil {
		return nil, fmt.Errorf("%w: %v", errOAuth, err)
	}
	t, err := e.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, d.oauth.client))
	if err != nil {
		e.tok = nil
		return nil, fmt.Errorf("%w: %s", errOAuth, d.oauthFailure(err, e.tokenURL))
	}
	if t.AccessToken == "" || !strings.EqualFold(cmp.Or(t.TokenType, "bearer"), "bearer") {
		return nil, fmt.Errorf("%w: the token server answered no bearer token", errOAuth)
	}
	e.tok = t
	return t, nil
}

// oauthFailure says in words fit for the attempt log why a token request
// failed.
func (d *Dispatcher) oauthFailure(err error, u *url.URL) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		s := "the token server answered " + re.Response.Status
		if re.ErrorCode != "" {
			s += " (" + re.ErrorCode + ")"
		}
		return s
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return failureText(err, u, d.requestTimeout)
}

// newOAuthClient is the client of token requests: the dispatcher's
// transport, a timeout, and no redirects.
func newOAuthClient(rt http.RoundTripper, timeout time.Duration) *http.Client {
	return &http.Client{
		Transport:     rt,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
