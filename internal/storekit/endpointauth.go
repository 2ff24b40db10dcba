package storekit

import (
	"context"

	"github.com/hookbridge/hookbridge"
)

// An endpoint's client certificate (hookbridge.EndpointMTLS) is kept in a
// table of its own, endpoint_mtls, its private key sealed for the
// endpoint like the signing secrets; the endpoint row carries only its
// version (endpoints.mtls_version), which every read of the endpoint (the
// claim's included) gets with the rest, so that an endpoint without one
// costs no extra read, and the dispatcher reads the material only when
// the version it built its TLS configuration from has changed.
//
// The version is > 0 while a certificate is set. Setting one makes it
// |version| + 1, deleting it makes it -version: it never comes back to a
// value it had, so that a cache keyed by endpoint and version never serves
// a certificate that was replaced or deleted.

// Setting, replacing or removing either is a change to the endpoint: the
// driver records its endpoint.updated (EndpointUpdated) in the same
// transaction, as an update of the endpoint itself does.

// EndpointUpdated is the endpoint.updated event of a change to the
// application's endpoint (id, uid) made without reading the whole endpoint.
func EndpointUpdated(appID, id, uid string) *hookbridge.OperationalEvent {
	return hookbridge.EndpointEvent(hookbridge.EventEndpointUpdated, &hookbridge.Endpoint{AppID: appID, ID: id, UID: uid})
}

// PutEndpointMTLS stores the endpoint's client certificate and sets
// m.Version and m.UpdatedAt.
func (s *Store) PutEndpointMTLS(ctx context.Context, appID, endpointID string, m *hookbridge.EndpointMTLS) error {
	now := TruncMS(s.now())
	m.NotAfter = TruncMS(m.NotAfter)
	sealedKey := s.keys.Seal(m.KeyPEM, endpointID)
	v, err := s.d.EndpointMTLSPut(ctx, appID, endpointID, m, sealedKey, now)
	if err != nil {
		return Err(err, "endpoint", nil, "put endpoint %s mtls", endpointID)
	}
	m.Version, m.UpdatedAt = v, now
	return nil
}

// GetEndpointMTLS reads the endpoint's client certificate, its key opened.
func (s *Store) GetEndpointMTLS(ctx context.Context, appID, endpointID string) (*hookbridge.EndpointMTLS, error) {
	m, err := s.d.EndpointMTLSGet(ctx, appID, endpointID)
	if err != nil {
		return nil, Err(err, "client certificate", nil, "get endpoint %s mtls", endpointID)
	}
	key, err := s.keys.Open(m.KeyPEM, endpointID)
	if err != nil {
		return nil, Err(err, "", nil, "endpoint %s: mtls key", endpointID)
	}
	m.KeyPEM = key
	return &m, nil
}

// EndpointAuth names where both stores keep one kind of an endpoint's
// authentication material: its table, keyed by endpoint_id, and the column
// of the endpoints row that holds its version.
type EndpointAuth struct{ Table, VersionColumn string }

var (
	endpointMTLS  = EndpointAuth{Table: "endpoint_mtls", VersionColumn: "mtls_version"}
	endpointOAuth = EndpointAuth{Table: "endpoint_oauth", VersionColumn: "oauth_version"}
)

// DeleteEndpointMTLS removes the endpoint's client certificate.
func (s *Store) DeleteEndpointMTLS(ctx context.Context, appID, endpointID string) error {
	n, err := s.d.EndpointAuthDelete(ctx, endpointMTLS, appID, endpointID, TruncMS(s.now()))
	return oneChanged(n, err, "client certificate", "delete endpoint %s mtls", endpointID)
}

// An endpoint's OAuth client credentials (hookbridge.EndpointOAuth) are
// kept the same way: in endpoint_oauth, the client secret sealed for the
// endpoint, with their version on the endpoint row (oauth_version).

// PutEndpointOAuth stores the endpoint's OAuth client credentials and sets
// o.Version and o.UpdatedAt.
func (s *Store) PutEndpointOAuth(ctx context.Context, appID, endpointID string, o *hookbridge.EndpointOAuth) error {
	now := TruncMS(s.now())
	v, err := s.d.EndpointOAuthPut(ctx, appID, endpointID, o, s.keys.Seal(o.ClientSecret, endpointID), now)
	if err != nil {
		return Err(err, "endpoint", nil, "put endpoint %s oauth", endpointID)
	}
	o.Version, o.UpdatedAt = v, now
	return nil
}

// GetEndpointOAuth reads them, the client secret opened.
func (s *Store) GetEndpointOAuth(ctx context.Context, appID, endpointID string) (*hookbridge.EndpointOAuth, error) {
	o, err := s.d.EndpointOAuthGet(ctx, appID, endpointID)
	if err != nil {
		return nil, Err(err, "OAuth configuration", nil, "get endpoint %s oauth", endpointID)
	}
	secret, err := s.keys.Open(o.ClientSecret, endpointID)
	if err != nil {
		return nil, Err(err, "", nil, "endpoint %s: oauth client secret", endpointID)
	}
	o.ClientSecret = secret
	return &o, nil
}

// DeleteEndpointOAuth removes them.
func (s *Store) DeleteEndpointOAuth(ctx context.Context, appID, endpointID string) error {
	n, err := s.d.EndpointAuthDelete(ctx, endpointOAuth, appID, endpointID, TruncMS(s.now()))
	return oneChanged(n, err, "OAuth configuration", "delete endpoint %s oauth", endpointID)
}
