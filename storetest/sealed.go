package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

// SealedDB is one database that RunSealed opens again and again, with
// different keys.
type SealedDB struct {
	// Open opens the database with keys (nil: none). RunSealed closes each
	// store before it opens the next.
	Open func(t *testing.T, keys *sealed.Keyring) hookbridge.Store
	// Raw returns the text of a column of the row of table whose key
	// column holds key, as stored (s is the store open at the time).
	Raw func(t *testing.T, s hookbridge.Store, table, keyColumn, column, key string) string
}

// RunSealed checks that a store seals the secrets it keeps (endpoint
// secrets, the passwords of broker URLs and the values of headers, source
// credentials, settings, and the raw bodies of inbound events, sealed as
// they are written) with its keys:
// none in the clear once keys are set, every read opening them, old keys
// still opening what they sealed, Reseal moving everything to the current
// key, and a store without the keys refusing to read sealed secrets.
func RunSealed(t *testing.T, db SealedDB) {
	t.Helper()
	ctx := t.Context()
	const (
		secret1     = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		secret2     = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
		creds       = "whsec_stripe_0123456789abcdef"
		setting     = "c2V0dGluZyB0aGF0IGlzIGEga2V5"
		token       = "hbpt_eyJ2IjoxLCJhcHAiOiJhcHBfMSJ9"
		response    = `{"token":"` + token + `"}`
		marker      = "cardholder-Wilhelmina-Q-Zyzzyva"
		oauthSecret = "oauth-client-secret-Quixote"
		mtlsKey     = "-----BEGIN PRIVATE KEY-----\nclient-key\n-----END PRIVATE KEY-----\n"
		rawBody     = `{"id":"evt_1","data":{"object":{"description":"` + marker + `"}}}`
	)
	aKey, bKey := sealed.NewKey(), sealed.NewKey()
	a, err := sealed.ParseKeys(aKey)
	ok(t, err)
	b, err := sealed.ParseKeys(bKey)
	ok(t, err)
	ba, err := sealed.ParseKeys(bKey + "," + aKey)
	ok(t, err)

	// Written before any key: in the clear, as before.
	s := db.Open(t, nil)
	app := newApp(t, s, "a")
	ep := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Secrets[0].Key = secret1 })
	src := newSource(t, s, func(src *hookbridge.Source) { src.Credentials.Secret = creds })
	_, err = s.PutSetting(ctx, "a_key", setting, false)
	ok(t, err)
	// A kept response (it holds a portal token) from before any key, and
	// a request still running.
	keep := func(key string) {
		t.Helper()
		_, started, err := s.BeginIdempotent(ctx, key, "POST /x", at(0), time.Time{}, time.Time{})
		ok(t, err)
		if !started {
			t.Fatalf("%s did not start", key)
		}
		if key != "running-key" {
			ok(t, s.FinishIdempotent(ctx, key, 200, []byte(response)))
		}
	}
	keep("plain-key")
	keep("running-key")
	// An inbound event's raw body from before any key.
	plainEvent := newInbound(src.ID, "evt_plain", at(0))
	plainEvent.Body = []byte(rawBody)
	_, _, err = s.CreateInboundEvent(ctx, plainEvent)
	ok(t, err)
	body := func(ev *hookbridge.InboundEvent) string {
		t.Helper()
		got, err := s.GetInboundEvent(ctx, src.ID, ev.ID)
		ok(t, err)
		return string(got.Body)
	}
	// More settings than Reseal reads at a time.
	extra := storekit.ResealPage + 1
	for i := range extra {
		_, err := s.PutSetting(ctx, fmt.Sprintf("page_%05d", i), setting, false)
		ok(t, err)
	}
	last := fmt.Sprintf("page_%05d", extra-1)
	n, err := s.Reseal(ctx)
	ok(t, err)
	equal(t, "resealed without keys", n, 0)
	stale := func(want int) {
		t.Helper()
		n, err := s.StaleSecrets(ctx)
		ok(t, err)
		equal(t, "stale secrets", n, want)
	}
	stale(0)
	ok(t, s.Close())

	// With a key: Reseal seals both; reads open them; new writes are sealed.
	s = db.Open(t, a)
	stale(3 + extra)
	n, err = s.Reseal(ctx)
	ok(t, err)
	equal(t, "resealed with a key", n, 3+extra)
	stale(0)
	raw := func(table, column, id, plain, keyID string) {
		t.Helper()
		keyColumn := map[string]string{"settings": "name", "idempotency_keys": "key", "endpoint_mtls": "endpoint_id", "endpoint_oauth": "endpoint_id"}[table]
		if keyColumn == "" {
			keyColumn = "id"
		}
		v := db.Raw(t, s, table, keyColumn, column, id)
		if strings.Contains(v, plain) || !strings.Contains(v, "hbenc1:"+keyID+":") {
			t.Fatalf("%s %s stored as %s, want it sealed with key %s", table, id, v, keyID)
		}
	}
	raw("endpoints", "secrets", ep.ID, secret1, a.CurrentID())
	raw("sources", "credentials", src.ID, creds, a.CurrentID())
	raw("settings", "value", "a_key", setting, a.CurrentID())
	v, err := s.Setting(ctx, "a_key")
	ok(t, err)
	equal(t, "setting read back", v, setting)
	// Kept responses are sealed as they are written, and not resealed:
	// the one from before the key stays as it was, and both read back.
	keep("done-key")
	raw("idempotency_keys", "body", "done-key", token, a.CurrentID())
	kept := func(key string) {
		t.Helper()
		rec, started, err := s.BeginIdempotent(ctx, key, "POST /x", at(time.Second), time.Time{}, time.Time{})
		ok(t, err)
		if started || string(rec.Body) != response {
			t.Fatalf("kept response %s: started %v, %+v", key, started, rec)
		}
	}
	kept("done-key")
	kept("plain-key")
	// So are raw bodies: the new one is sealed for its row, the old one
	// stays as it was; both read back.
	sealedEvent := newInbound(src.ID, "evt_sealed", at(time.Second))
	sealedEvent.Body = []byte(rawBody)
	_, _, err = s.CreateInboundEvent(ctx, sealedEvent)
	ok(t, err)
	raw("inbound_events", "body", sealedEvent.ID, marker, a.CurrentID())
	equal(t, "sealed body read back", body(sealedEvent), rawBody)
	equal(t, "plain body read back", body(plainEvent), rawBody)
	page, err := s.ListInboundEvents(ctx, src.ID, hookbridge.InboundFilter{})
	ok(t, err)
	equal(t, "bodies listed", []string{string(page.Data[0].Body), string(page.Data[1].Body)}, []string{rawBody, rawBody})
	got, err := s.GetEndpoint(ctx, app.ID, ep.ID)
	ok(t, err)
	equal(t, "secret read back", got.Secrets[0].Key, secret1)
	gotSrc, err := s.GetSource(ctx, src.ID)
	ok(t, err)
	equal(t, "credentials read back", gotSrc.Credentials.Secret, creds)
	ep2 := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Secrets[0].Key = secret2 })
	raw("endpoints", "secrets", ep2.ID, secret2, a.CurrentID())
	// A client certificate's key is sealed for its endpoint.
	mtls := &hookbridge.EndpointMTLS{CertPEM: "cert", KeyPEM: mtlsKey, NotAfter: at(time.Hour)}
	ok(t, s.PutEndpointMTLS(ctx, app.ID, ep2.ID, mtls))
	raw("endpoint_mtls", "key", ep2.ID, mtlsKey, a.CurrentID())
	// So is an OAuth client secret.
	ok(t, s.PutEndpointOAuth(ctx, app.ID, ep2.ID, &hookbridge.EndpointOAuth{TokenURL: "https://auth.example/token", ClientID: "hb", ClientSecret: oauthSecret}))
	raw("endpoint_oauth", "client_secret", ep2.ID, oauthSecret, a.CurrentID())
	// A claim carries the secret opened, to sign with.
	newMessage(t, s, app.ID, "order.created", at(0))
	claims := claimAll(t, s, "a", at(0))
	if len(claims) != 2 {
		t.Fatalf("claimed %d, want 2", len(claims))
	}
	for _, c := range claims {
		if k := c.Endpoint.Secrets[0].Key; k != secret1 && k != secret2 {
			t.Fatalf("claim of %s carries the secret %q", c.Endpoint.ID, k)
		}
	}
	ok(t, s.ReleaseDeliveries(ctx, "a", []string{claims[0].Delivery.ID, claims[1].Delivery.ID}))
	ok(t, s.Close())

	// Without the key, sealed secrets cannot be read, and Reseal says so.
	s = db.Open(t, nil)
	if _, err := s.GetEndpoint(ctx, app.ID, ep.ID); !errors.Is(err, sealed.ErrNoKey) {
		t.Fatalf("read without the key: %v, want ErrNoKey", err)
	}
	if _, err := s.Reseal(ctx); !errors.Is(err, sealed.ErrNoKey) {
		t.Fatalf("Reseal without the key: %v, want ErrNoKey", err)
	}
	stale(6 + extra) // none opens
	// A wrong key alone is no better.
	ok(t, s.Close())
	s = db.Open(t, b)
	if _, err := s.GetSource(ctx, src.ID); !errors.Is(err, sealed.ErrNoKey) {
		t.Fatalf("read with another key: %v, want ErrNoKey", err)
	}
	// A raw body no configured key opens counts as gone: the event is
	// still shown.
	equal(t, "a body under another key", body(sealedEvent), "")
	ok(t, s.Close())

	// Rotation: the new key first, the old one after; Reseal moves all.
	s = db.Open(t, ba)
	got, err = s.GetEndpoint(ctx, app.ID, ep.ID)
	ok(t, err)
	equal(t, "secret under the old key", got.Secrets[0].Key, secret1)
	stale(6 + extra)
	n, err = s.Reseal(ctx)
	ok(t, err)
	equal(t, "resealed on rotation", n, 6+extra)
	stale(0)
	raw("endpoints", "secrets", ep.ID, secret1, b.CurrentID())
	raw("endpoints", "secrets", ep2.ID, secret2, b.CurrentID())
	raw("endpoint_mtls", "key", ep2.ID, mtlsKey, b.CurrentID())
	raw("endpoint_oauth", "client_secret", ep2.ID, oauthSecret, b.CurrentID())
	raw("sources", "credentials", src.ID, creds, b.CurrentID())
	raw("settings", "value", "a_key", setting, b.CurrentID())
	raw("settings", "value", last, setting, b.CurrentID())
	kept("done-key") // the old key still opens it
	equal(t, "a body under the old key", body(sealedEvent), rawBody)
	ok(t, s.Close())

	// The new key alone now reads everything, and nothing is left to do.
	s = db.Open(t, b)
	defer s.Close()
	n, err = s.Reseal(ctx)
	ok(t, err)
	equal(t, "resealed again", n, 0)
	got, err = s.GetEndpoint(ctx, app.ID, ep2.ID)
	ok(t, err)
	equal(t, "secret after rotation", got.Secrets[0].Key, secret2)
	gotMTLS, err := s.GetEndpointMTLS(ctx, app.ID, ep2.ID)
	ok(t, err)
	equal(t, "client key after rotation", gotMTLS.KeyPEM, mtlsKey)
	gotOAuth, err := s.GetEndpointOAuth(ctx, app.ID, ep2.ID)
	ok(t, err)
	equal(t, "client secret after rotation", gotOAuth.ClientSecret, oauthSecret)
	gotSrc, err = s.GetSource(ctx, src.ID)
	ok(t, err)
	equal(t, "credentials after rotation", gotSrc.Credentials.Secret, creds)
	v, err = s.Setting(ctx, "a_key")
	ok(t, err)
	equal(t, "setting after rotation", v, setting)
	// A kept response that no configured key opens is gone: the request
	// runs again, as after its expiry.
	if _, started, err := s.BeginIdempotent(ctx, "done-key", "POST /x", at(2*time.Second), time.Time{}, time.Time{}); err != nil || !started {
		t.Fatalf("a kept response under a dropped key: started %v, %v; want it gone", started, err)
	}

	// A broker URL's password and the headers' values are sealed too (the
	// rest of the URL and the header names stay readable); reads, and the
	// claim the dispatcher builds its connection from, open them.
	const (
		brokerPassword = "Br0kerPassw0rd-7f3a9c"
		headerValue    = "Bearer tok_HeaderValue_91c4e7"
	)
	brokerURL := "amqp://hook:" + brokerPassword + "@broker.example:5672/orders?exchange=webhooks"
	ep3 := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) {
		e.URL, e.Headers = brokerURL, map[string]string{"Authorization": headerValue}
	})
	raw("endpoints", "url", ep3.ID, brokerPassword, b.CurrentID())
	raw("endpoints", "headers", ep3.ID, headerValue, b.CurrentID())
	if v := db.Raw(t, s, "endpoints", "id", "url", ep3.ID); !strings.HasPrefix(v, "amqp://hook:hbenc1:") || !strings.HasSuffix(v, "@broker.example:5672/orders?exchange=webhooks") {
		t.Fatalf("broker URL stored as %s, want only its password sealed", v)
	}
	if v := db.Raw(t, s, "endpoints", "id", "url", ep2.ID); v != ep2.URL {
		t.Fatalf("URL without credentials stored as %s, want %s", v, ep2.URL)
	}
	got, err = s.GetEndpoint(ctx, app.ID, ep3.ID)
	ok(t, err)
	equal(t, "broker URL read back", got.URL, brokerURL)
	equal(t, "header read back", got.Headers["Authorization"], headerValue)
	stale(0)
	newMessage(t, s, app.ID, "order.created", at(0))
	claimed := false
	for _, c := range claimAll(t, s, "b", at(0)) {
		if c.Endpoint.ID == ep3.ID {
			claimed = true
			equal(t, "claimed broker URL", c.Endpoint.URL, brokerURL)
			equal(t, "claimed header", c.Endpoint.Headers["Authorization"], headerValue)
		}
	}
	if !claimed {
		t.Fatal("no delivery to the broker endpoint claimed")
	}
}
