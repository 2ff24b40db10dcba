package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// endpointMaterial is one kind of material a store keeps beside an
// endpoint, versioned on it: its client certificate (mTLS) or its OAuth
// client credentials. The functions are the store's methods for it and
// the fields that carry its version.
type endpointMaterial[M any] struct {
	name string
	put  func(s hookbridge.Store, ctx context.Context, appID, endpointID string, m *M) error
	get  func(s hookbridge.Store, ctx context.Context, appID, endpointID string) (*M, error)
	del  func(s hookbridge.Store, ctx context.Context, appID, endpointID string) error
	// version is the version a put stamped on m.
	version func(m M) int64
	// endpointVersion is the endpoint's field that tells the version.
	endpointVersion func(e *hookbridge.Endpoint) *int64
	// times are m's times, which a store reads back in UTC.
	times func(m M) []time.Time
	// values are three materials to put in turn; the second leaves out
	// what may be left out.
	values [3]M
}

// mtlsMaterial is an endpoint's client certificate.
var mtlsMaterial = endpointMaterial[hookbridge.EndpointMTLS]{
	name:            "mtls",
	put:             hookbridge.Store.PutEndpointMTLS,
	get:             hookbridge.Store.GetEndpointMTLS,
	del:             hookbridge.Store.DeleteEndpointMTLS,
	version:         func(m hookbridge.EndpointMTLS) int64 { return m.Version },
	endpointVersion: func(e *hookbridge.Endpoint) *int64 { return &e.MTLSVersion },
	times:           func(m hookbridge.EndpointMTLS) []time.Time { return []time.Time{m.NotAfter, m.UpdatedAt} },
	values: [3]hookbridge.EndpointMTLS{
		{CertPEM: "cert-1", KeyPEM: "key-1", CAPEM: "ca-1", NotAfter: at(48 * time.Hour)},
		{CertPEM: "cert-2", KeyPEM: "key-2", NotAfter: at(72 * time.Hour)},
		{CertPEM: "cert-3", KeyPEM: "key-3", NotAfter: at(time.Hour)},
	},
}

// oauthMaterial is an endpoint's OAuth client credentials.
var oauthMaterial = endpointMaterial[hookbridge.EndpointOAuth]{
	name:            "oauth",
	put:             hookbridge.Store.PutEndpointOAuth,
	get:             hookbridge.Store.GetEndpointOAuth,
	del:             hookbridge.Store.DeleteEndpointOAuth,
	version:         func(o hookbridge.EndpointOAuth) int64 { return o.Version },
	endpointVersion: func(e *hookbridge.Endpoint) *int64 { return &e.OAuthVersion },
	times:           func(o hookbridge.EndpointOAuth) []time.Time { return []time.Time{o.UpdatedAt} },
	values: [3]hookbridge.EndpointOAuth{
		{TokenURL: "https://auth.example/token", ClientID: "hookbridge", ClientSecret: "s3cret",
			Scopes: []string{"webhooks.write", "orders.read"}, Audience: "https://receiver.example"},
		{TokenURL: "https://auth.example/token2", ClientID: "hb", ClientSecret: "other"},
		{TokenURL: "https://auth.example/token3", ClientID: "hookbridge", ClientSecret: "third"},
	},
}

// testEndpointMaterial checks that a store puts, reads and deletes one
// kind of endpoint material within its application, and that every put
// gives the endpoint a new version that its reads and claims carry.
func testEndpointMaterial[M any](t *testing.T, open Opener, k endpointMaterial[M]) {
	open.run(t, "PutGetDelete", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		other := newApp(t, s, "b")
		ep := newEndpoint(t, s, app.ID, nil)
		plain := newEndpoint(t, s, app.ID, nil)
		version := func(id string) int64 {
			t.Helper()
			got, err := s.GetEndpoint(ctx, app.ID, id)
			ok(t, err)
			return *k.endpointVersion(got)
		}
		equal(t, "version of a new endpoint", version(ep.ID), 0)
		_, err := k.get(s, ctx, app.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, k.del(s, ctx, app.ID, ep.ID), hookbridge.ENOTFOUND)

		m := k.values[0]
		ok(t, k.put(s, ctx, app.ID, ep.ID, &m))
		equal(t, "version set", k.version(m), 1)
		got := storedAs(t, "read back", m)(k.get(s, ctx, app.ID, ep.ID))
		wantUTC(t, k.name+" times", k.times(*got)...)
		equal(t, "endpoint's version", version(ep.ID), 1)
		equal(t, "another endpoint's version", version(plain.ID), 0)

		// Scoped to the application; a missing endpoint is not found.
		_, err = k.get(s, ctx, other.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, k.del(s, ctx, other.ID, ep.ID), hookbridge.ENOTFOUND)
		elsewhere := k.values[1]
		wantCode(t, k.put(s, ctx, other.ID, ep.ID, &elsewhere), hookbridge.ENOTFOUND)
		wantCode(t, k.put(s, ctx, app.ID, hookbridge.NewID(hookbridge.PrefixEndpoint), &m), hookbridge.ENOTFOUND)

		// Updating the endpoint keeps it.
		cur, err := s.GetEndpoint(ctx, app.ID, ep.ID)
		ok(t, err)
		cur.Description = "changed"
		*k.endpointVersion(cur) = 0
		ok(t, s.UpdateEndpoint(ctx, cur))
		equal(t, "version after an update", *k.endpointVersion(cur), 1)
		equal(t, "version read after an update", version(ep.ID), 1)

		// A claim carries the version, so that the dispatcher reads the
		// material only when it changed.
		newMessage(t, s, app.ID, "order.created", at(0))
		claims := claimAll(t, s, "a", at(0))
		if len(claims) != 2 {
			t.Fatalf("claimed %d, want 2", len(claims))
		}
		for _, c := range claims {
			want := int64(0)
			if c.Endpoint.ID == ep.ID {
				want = 1
			}
			equal(t, "claimed endpoint's version", *k.endpointVersion(&c.Endpoint), want)
		}
		ok(t, s.ReleaseDeliveries(ctx, "a", []string{claims[0].Delivery.ID, claims[1].Delivery.ID}))

		// Replacing it gives a new version; deleting it never gives back an
		// old one.
		m2 := k.values[1]
		ok(t, k.put(s, ctx, app.ID, ep.ID, &m2))
		equal(t, "version replaced", k.version(m2), 2)
		storedAs(t, "replaced", m2)(k.get(s, ctx, app.ID, ep.ID))
		ok(t, k.del(s, ctx, app.ID, ep.ID))
		equal(t, "version deleted", version(ep.ID), -2)
		_, err = k.get(s, ctx, app.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, k.del(s, ctx, app.ID, ep.ID), hookbridge.ENOTFOUND)
		m3 := k.values[2]
		ok(t, k.put(s, ctx, app.ID, ep.ID, &m3))
		equal(t, "version set again", k.version(m3), 3)

		// Deleting the endpoint takes it along.
		ok(t, s.DeleteEndpoint(ctx, app.ID, ep.ID))
		_, err = k.get(s, ctx, app.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
	})
}
