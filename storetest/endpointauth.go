package storetest

import (
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testEndpointMTLS(t *testing.T, open Opener) {
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
			return got.MTLSVersion
		}
		equal(t, "version of a new endpoint", version(ep.ID), 0)
		_, err := s.GetEndpointMTLS(ctx, app.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, s.DeleteEndpointMTLS(ctx, app.ID, ep.ID), hookbridge.ENOTFOUND)

		m := &hookbridge.EndpointMTLS{CertPEM: "cert-1", KeyPEM: "key-1", CAPEM: "ca-1", NotAfter: at(48 * time.Hour)}
		ok(t, s.PutEndpointMTLS(ctx, app.ID, ep.ID, m))
		equal(t, "version set", m.Version, int64(1))
		got, err := s.GetEndpointMTLS(ctx, app.ID, ep.ID)
		ok(t, err)
		equal(t, "read back", *got, *m)
		wantUTC(t, "mtls times", got.NotAfter, got.UpdatedAt)
		equal(t, "endpoint's version", version(ep.ID), 1)
		equal(t, "another endpoint's version", version(plain.ID), 0)

		// Scoped to the application; a missing endpoint is not found.
		_, err = s.GetEndpointMTLS(ctx, other.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, s.DeleteEndpointMTLS(ctx, other.ID, ep.ID), hookbridge.ENOTFOUND)
		wantCode(t, s.PutEndpointMTLS(ctx, other.ID, ep.ID, &hookbridge.EndpointMTLS{CertPEM: "x", KeyPEM: "y", NotAfter: at(time.Hour)}), hookbridge.ENOTFOUND)
		wantCode(t, s.PutEndpointMTLS(ctx, app.ID, hookbridge.NewID(hookbridge.PrefixEndpoint), m), hookbridge.ENOTFOUND)

		// Updating the endpoint keeps it.
		cur, err := s.GetEndpoint(ctx, app.ID, ep.ID)
		ok(t, err)
		cur.Description = "changed"
		cur.MTLSVersion = 0
		ok(t, s.UpdateEndpoint(ctx, cur))
		equal(t, "version after an update", cur.MTLSVersion, int64(1))
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
			equal(t, "claimed endpoint's version", c.Endpoint.MTLSVersion, want)
		}
		ok(t, s.ReleaseDeliveries(ctx, "a", []string{claims[0].Delivery.ID, claims[1].Delivery.ID}))

		// Replacing it gives a new version; deleting it never gives back an
		// old one.
		m2 := &hookbridge.EndpointMTLS{CertPEM: "cert-2", KeyPEM: "key-2", NotAfter: at(72 * time.Hour)}
		ok(t, s.PutEndpointMTLS(ctx, app.ID, ep.ID, m2))
		equal(t, "version replaced", m2.Version, int64(2))
		got, err = s.GetEndpointMTLS(ctx, app.ID, ep.ID)
		ok(t, err)
		equal(t, "replaced, no CA", *got, *m2)
		ok(t, s.DeleteEndpointMTLS(ctx, app.ID, ep.ID))
		equal(t, "version deleted", version(ep.ID), -2)
		_, err = s.GetEndpointMTLS(ctx, app.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, s.DeleteEndpointMTLS(ctx, app.ID, ep.ID), hookbridge.ENOTFOUND)
		m3 := &hookbridge.EndpointMTLS{CertPEM: "cert-3", KeyPEM: "key-3", NotAfter: at(time.Hour)}
		ok(t, s.PutEndpointMTLS(ctx, app.ID, ep.ID, m3))
		equal(t, "version set again", m3.Version, int64(3))

		// Deleting the endpoint takes it along.
		ok(t, s.DeleteEndpoint(ctx, app.ID, ep.ID))
		_, err = s.GetEndpointMTLS(ctx, app.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
	})
}

func testEndpointOAuth(t *testing.T, open Opener) {
	open.run(t, "PutGetDelete", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		other := newApp(t, s, "b")
		ep := newEndpoint(t, s, app.ID, nil)
		version := func() int64 {
			t.Helper()
			got, err := s.GetEndpoint(ctx, app.ID, ep.ID)
			ok(t, err)
			return got.OAuthVersion
		}
		_, err := s.GetEndpointOAuth(ctx, app.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		o := &hookbridge.EndpointOAuth{TokenURL: "https://auth.example/token", ClientID: "hookbridge", ClientSecret: "s3cret",
			Scopes: []string{"webhooks.write", "orders.read"}, Audience: "https://receiver.example"}
		ok(t, s.PutEndpointOAuth(ctx, app.ID, ep.ID, o))
		equal(t, "version set", o.Version, int64(1))
		got, err := s.GetEndpointOAuth(ctx, app.ID, ep.ID)
		ok(t, err)
		equal(t, "read back", *got, *o)
		equal(t, "endpoint's version", version(), 1)
		_, err = s.GetEndpointOAuth(ctx, other.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, s.PutEndpointOAuth(ctx, other.ID, ep.ID, o), hookbridge.ENOTFOUND)

		newMessage(t, s, app.ID, "order.created", at(0))
		claims := claimAll(t, s, "a", at(0))
		if len(claims) != 1 {
			t.Fatalf("claimed %d, want 1", len(claims))
		}
		equal(t, "claimed endpoint's version", claims[0].Endpoint.OAuthVersion, int64(1))
		ok(t, s.ReleaseDeliveries(ctx, "a", []string{claims[0].Delivery.ID}))

		o2 := &hookbridge.EndpointOAuth{TokenURL: "https://auth.example/token2", ClientID: "hb", ClientSecret: "other"}
		ok(t, s.PutEndpointOAuth(ctx, app.ID, ep.ID, o2))
		equal(t, "version replaced", o2.Version, int64(2))
		got, err = s.GetEndpointOAuth(ctx, app.ID, ep.ID)
		ok(t, err)
		equal(t, "replaced", *got, *o2)
		ok(t, s.DeleteEndpointOAuth(ctx, app.ID, ep.ID))
		equal(t, "version deleted", version(), -2)
		wantCode(t, s.DeleteEndpointOAuth(ctx, app.ID, ep.ID), hookbridge.ENOTFOUND)
		ok(t, s.PutEndpointOAuth(ctx, app.ID, ep.ID, o))
		equal(t, "version set again", o.Version, int64(3))
		ok(t, s.DeleteEndpoint(ctx, app.ID, ep.ID))
		_, err = s.GetEndpointOAuth(ctx, app.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
	})
}
