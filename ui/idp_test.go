package ui

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// idp is a real OpenID Connect provider, run in the test process: it
// serves discovery, its signing keys (JWKS), an authorization endpoint that
// approves at once whoever the test says is signed in, and a token endpoint
// that checks the client, the redirect URI and PKCE before it issues an ID
// token signed with RS256. Tests change what it signs (tamper) to play a
// provider that is wrong or a token that was forged.
type idp struct {
	t *testing.T
	*httptest.Server
	// Issuer is http://localhost:port: another site than the dashboard's
	// http://127.0.0.1:port, as a company's provider is, so that a browser
	// treats the sign-in's redirects as cross-site.
	Issuer string

	mu          sync.Mutex
	redirectURI string
	user        map[string]any // the claims of whoever /authorize signs in
	// tamper changes an ID token's claims before it is signed; forge
	// changes the signed token.
	tamper        func(claims map[string]any)
	forge         func(token string) string
	codes         map[string]*grant
	tokenRequests int
	// interactive: /authorize shows a page whose link approves, as a
	// provider's sign-in form does, so that the redirects back start from
	// the provider's own page (another site's navigation).
	interactive bool
}

// grant is what an authorization code stands for.
type grant struct {
	nonce, challenge, redirectURI string
	claims                        map[string]any
	used                          bool
}

const (
	idpClientID     = "hookbridge-dashboard"
	idpClientSecret = "idp-test-client-secret-7f3a9c"
	idpKeyID        = "test-key-1"
	idpAdminGroup   = "hookbridge-admins"
	idpViewerGroup  = "hookbridge-viewers"
)

// idpKey is the provider's RSA key, made once per test binary: making one
// is slow under -race.
var idpKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newIDP(t *testing.T) *idp {
	t.Helper()
	p := &idp{t: t, codes: map[string]*grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("signed out at the provider")) })
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	_, port, _ := net.SplitHostPort(p.Listener.Addr().String())
	p.Issuer = "http://localhost:" + port
	return p
}

// register makes the dashboard a client whose callback is redirectURI,
// and returns the dashboard's settings for this provider.
func (p *idp) register(redirectURI string) *OIDCConfig {
	p.mu.Lock()
	p.redirectURI = redirectURI
	p.mu.Unlock()
	return &OIDCConfig{
		Issuer: p.Issuer, ClientID: idpClientID, ClientSecret: idpClientSecret, RedirectURL: redirectURI,
		AdminValues: []string{idpAdminGroup}, ReadOnlyValues: []string{idpViewerGroup},
	}
}

// signIn sets whoever the provider signs in next, and clears any tampering.
func (p *idp) signIn(claims map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user, p.tamper, p.forge = claims, nil, nil
}

func (p *idp) setInteractive(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.interactive = on
}

func (p *idp) setTamper(tamper func(map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = tamper
}

func (p *idp) setForge(forge func(string) string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forge = forge
}

func (p *idp) tokenCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenRequests
}

func (p *idp) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSONBody(w, http.StatusOK, map[string]any{
		"issuer":                                p.Issuer,
		"authorization_endpoint":                p.Issuer + "/authorize",
		"token_endpoint":                        p.Issuer + "/token",
		"jwks_uri":                              p.Issuer + "/jwks",
		"end_session_endpoint":                  p.Issuer + "/logout",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "email", "profile", "groups"},
	})
}

func (p *idp) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSONBody(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &idpKey().PublicKey, KeyID: idpKeyID, Algorithm: string(jose.RS256), Use: "sig"},
	}})
}

// authorize approves at once: it checks the request as a provider does,
// remembers the nonce and the PKCE challenge with a new code, and sends
// the browser back with the code and the state.
func (p *idp) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	defer p.mu.Unlock()
	scopes := strings.Fields(q.Get("scope"))
	switch {
	case q.Get("client_id") != idpClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
	case q.Get("redirect_uri") != p.redirectURI:
		http.Error(w, "redirect_uri not registered", http.StatusBadRequest)
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE with S256 is required", http.StatusBadRequest)
	case q.Get("state") == "" || q.Get("nonce") == "":
		http.Error(w, "state and nonce are required", http.StatusBadRequest)
	case !slices.Contains(scopes, "openid"):
		http.Error(w, "scope must include openid", http.StatusBadRequest)
	case p.user == nil:
		http.Error(w, "the test signed nobody in", http.StatusInternalServerError)
	case p.interactive && q.Get("approve") == "":
		q.Set("approve", "1")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Provider</title><h1>Sign in to Hookbridge?</h1><a id="approve" href="/authorize?%s">Continue</a>`,
			html.EscapeString(q.Encode()))
	default:
		code := newNonce()
		p.codes[code] = &grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"),
			redirectURI: q.Get("redirect_uri"), claims: maps.Clone(p.user)}
		back, _ := url.Parse(q.Get("redirect_uri"))
		bq := back.Query()
		bq.Set("code", code)
		bq.Set("state", q.Get("state"))
		back.RawQuery = bq.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
}

// token exchanges a code: the client's credentials (Basic or in the form),
// the code, its redirect URI and the PKCE verifier must all be right, and a
// code works once.
func (p *idp) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenRequests++
	if err := r.ParseForm(); err != nil {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != idpClientID || secret != idpClientSecret {
		writeJSONBody(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	g := p.codes[r.PostForm.Get("code")]
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code" || g == nil || g.used:
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "redirect_uri"})
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "PKCE verifier"})
		return
	}
	g.used = true
	now := time.Now()
	claims := map[string]any{
		"iss": p.Issuer, "aud": idpClientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "nonce": g.nonce,
	}
	maps.Copy(claims, g.claims)
	if p.tamper != nil {
		p.tamper(claims)
	}
	idToken := signJWT(p.t, claims)
	if p.forge != nil {
		idToken = p.forge(idToken)
	}
	writeJSONBody(w, http.StatusOK, map[string]any{
		"access_token": "at_" + newNonce(), "token_type": "Bearer", "expires_in": 300, "id_token": idToken,
	})
}

// signJWT signs claims as a compact JWS with the provider's key (RS256).
func signJWT(t *testing.T, claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: idpKey(), KeyID: idpKeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Errorf("signer: %v", err)
		return ""
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Errorf("sign: %v", err)
		return ""
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Errorf("serialize: %v", err)
	}
	return s
}

// rewritePayload changes a signed token's claims and keeps its signature:
// a forgery, such as a read-only user making themself admin.
func rewritePayload(token string, change func(map[string]any)) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return token
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(raw, &claims)
	change(claims)
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
