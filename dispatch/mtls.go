package dispatch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/hookbridge/hookbridge"
)

// Mutual TLS: an endpoint whose receiver demands a client certificate
// (hookbridge.EndpointMTLS) is sent through an HTTP transport of its own,
// a clone of the shared one (same guarded dialer, same proxy, same limits)
// whose TLS configuration presents the certificate and, when the endpoint
// has a CA bundle, trusts only that bundle for the receiver. Connections
// are pooled per transport, so a connection made with one endpoint's
// certificate never carries another endpoint's request.
//
// The claim carries the endpoint's MTLSVersion, read with the endpoint; the
// material is read from the store only when the transport kept for the
// endpoint was built from an older version, so that an endpoint with a
// client certificate costs one read per change, and one without costs
// nothing.

// mtlsCacheSize bounds the transports kept; past it they are all closed
// and built again as endpoints need them.
const mtlsCacheSize = 1000

// errMTLS marks a failure to build an endpoint's TLS configuration.
var errMTLS = errors.New("client certificate")

// mtlsTransport returns the transport for c's endpoint, which has a client
// certificate (MTLSVersion > 0). The text of an error is fit for the
// attempt log.
func (d *Dispatcher) mtlsTransport(ctx context.Context, c *hookbridge.Claim) (*http.Transport, error) {
	id := c.Endpoint.ID
	if t, ok := d.mtls.get(id, c.Endpoint.MTLSVersion); ok {
		// The same version, or one newer than the claim saw.
		return t, nil
	}
	mt, err := d.store.GetEndpointMTLS(ctx, c.Delivery.AppID, id)
	if err != nil {
		if hookbridge.IsNotFound(err) {
			// Deleted since the claim: sent without it, as the endpoint
			// now asks.
			return d.transport, nil
		}
		d.log.Warn("dispatch: reading an endpoint's client certificate", "endpoint", id, "err", err)
		return nil, fmt.Errorf("%w could not be read", errMTLS)
	}
	cfg, err := mtlsConfig(mt)
	if err != nil {
		return nil, err
	}
	t := d.transport.Clone()
	t.TLSClientConfig = cfg
	return d.mtls.put(id, mt.Version, t), nil
}

// mtlsConfig is the TLS configuration that presents m's certificate and
// trusts m's CA bundle, if any.
func mtlsConfig(m *hookbridge.EndpointMTLS) (*tls.Config, error) {
	pair, err := tls.X509KeyPair([]byte(m.CertPEM), []byte(m.KeyPEM))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMTLS, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if m.CAPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(m.CAPEM)) {
			return nil, fmt.Errorf("%w: the CA bundle holds no certificate", errMTLS)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
