// Scheme "paypal": PayPal's transmission signature, verified locally with
// PayPal's certificate.
//
// Followed: paypal/PayPal-Java-SDK, rest-api-sdk/src/main/java/com/paypal/
// api/payments/Event.java (validateReceivedEvent) and com/paypal/base/
// SSLUtil.java (crc32, validateData, validateCertificateChain), with the
// common-name rule of paypal/PayPal-Python-SDK, paypalrestsdk/
// notifications.py. The signed string is
//
//	<PAYPAL-TRANSMISSION-ID>|<PAYPAL-TRANSMISSION-TIME>|<webhook ID>|<CRC32 of the body, unsigned decimal>
//
// signed with RSA PKCS #1 v1.5 over SHA-256 (PAYPAL-AUTH-ALGO
// "SHA256withRSA", the only algorithm accepted), base64 in
// PAYPAL-TRANSMISSION-SIG. The webhook ID is the one the developer dashboard
// shows for the webhook (Credentials.KeyID); it binds the signature to this
// endpoint. The transmission time is signed, so it must lie within the
// tolerance.
//
// The certificate is named by PAYPAL-CERT-URL, which the sender controls, so
// it is fetched only over HTTPS, only from PayPal's API hosts (an allow-list)
// and only from the certificate path. It must chain to a trusted root at the
// time of the request and name PayPal's message-verification service
// (messageverificationcerts…paypal.com). PayPal serves the leaf certificate
// alone, and Go does not fetch missing intermediates by itself; so, when the
// chain is incomplete, the issuer named in the leaf's Authority Information
// Access is fetched, again only over HTTPS and only from an allow-listed CA
// host. Anything fetched still has to chain to a trusted root, so these
// fetches add no trust. Certificates are cached by URL.
//
// With Credentials.CertPEM the certificate is supplied offline: nothing is
// fetched, its chain and expiry are not checked, and Verified.Note says so.

package inbound

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// paypalCertHosts are the only hosts a PayPal certificate is fetched from.
var paypalCertHosts = []string{
	"api.paypal.com",
	"api-m.paypal.com",
	"api.sandbox.paypal.com",
	"api-m.sandbox.paypal.com",
}

// paypalCertPath is the path every PayPal certificate URL starts with.
const paypalCertPath = "/v1/notifications/certs/"

// issuerHosts are the CA hosts whose Authority Information Access URLs may be
// followed to complete a PayPal certificate's chain: DigiCert issues PayPal's
// certificates.
var issuerHosts = []string{"cacerts.digicert.com"}

const (
	maxCertBytes   = 64 << 10 // a certificate chain is a few KiB
	maxCachedCerts = 32       // PayPal uses a handful of certificates at a time
	fetchTimeout   = 10 * time.Second
)

// OfflineCertNote is the Verified.Note of a PayPal notification verified with
// a certificate supplied offline.
const OfflineCertNote = "certificate supplied offline: chain and expiry not checked"

type paypalScheme struct {
	webhookID string
	tolerance time.Duration
	offline   *x509.Certificate
	client    *http.Client
	roots     *x509.CertPool // nil: the system's roots

	mu      sync.Mutex
	certs   map[string]*paypalCert       // by certificate URL
	issuers map[string]*x509.Certificate // by issuer URL
}

// paypalCert is a certificate as fetched: the leaf, and whatever
// intermediates came with it or were fetched for it.
type paypalCert struct {
	leaf          *x509.Certificate
	intermediates []*x509.Certificate
}

func newPayPal(c Credentials, o options) (verifier, error) {
	s := &paypalScheme{
		webhookID: strings.TrimSpace(c.KeyID),
		tolerance: o.tolerance,
		roots:     o.roots,
		certs:     map[string]*paypalCert{},
		issuers:   map[string]*x509.Certificate{},
	}
	if s.webhookID == "" {
		return nil, errors.New("the webhook ID (key id) that PayPal shows for the webhook is required")
	}
	if len(c.CertPEM) > 0 {
		certs, err := parseCertificates(c.CertPEM)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		if !isPayPalVerificationCert(certs[0]) {
			return nil, fmt.Errorf("certificate for %q is not PayPal's message-verification certificate", certs[0].Subject.CommonName)
		}
		if _, ok := certs[0].PublicKey.(*rsa.PublicKey); !ok {
			return nil, errors.New("certificate: the key is not RSA")
		}
		s.offline = certs[0]
		return s, nil
	}
	client := o.httpClient
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	// A redirect would lead away from the URL that passed the allow-list.
	cc := *client
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.client = &cc
	return s, nil
}

func (s *paypalScheme) verify(ctx context.Context, req *Request, now time.Time) (*Verified, error) {
	const name = "paypal"
	h := map[string]string{}
	var missing []string
	for _, k := range []string{"Paypal-Transmission-Id", "Paypal-Transmission-Time", "Paypal-Transmission-Sig", "Paypal-Auth-Algo", "Paypal-Cert-Url"} {
		h[k] = req.Header.Get(k)
		if h[k] == "" && (k != "Paypal-Cert-Url" || s.offline == nil) {
			missing = append(missing, strings.ToUpper(k))
		}
	}
	if len(missing) > 0 {
		return nil, refuse(name, ReasonMissingHeader, "no %s header", strings.Join(missing, ", "))
	}
	if !strings.EqualFold(h["Paypal-Auth-Algo"], "SHA256withRSA") {
		return nil, refuse(name, ReasonUnsupportedAlgorithm, "PAYPAL-AUTH-ALGO %.40q; only SHA256withRSA is accepted", h["Paypal-Auth-Algo"])
	}
	signed, err := time.Parse(time.RFC3339Nano, h["Paypal-Transmission-Time"])
	if err != nil {
		return nil, refuse(name, ReasonMalformedHeader, "PAYPAL-TRANSMISSION-TIME %.40q is not an RFC 3339 time", h["Paypal-Transmission-Time"])
	}
	sig, err := base64.StdEncoding.DecodeString(h["Paypal-Transmission-Sig"])
	if err != nil {
		return nil, refuse(name, ReasonMalformedHeader, "PAYPAL-TRANSMISSION-SIG is not base64")
	}
	if err := checkTimestamp(name, signed, now, s.tolerance); err != nil {
		return nil, err
	}

	v := &Verified{SignedAt: signed}
	cert := s.offline
	if cert != nil {
		v.Note = OfflineCertNote
	} else if cert, err = s.certificate(ctx, h["Paypal-Cert-Url"], now); err != nil {
		return nil, err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, refuse(name, ReasonUnsupportedAlgorithm, "the certificate's key is not RSA")
	}

	message := h["Paypal-Transmission-Id"] + "|" + h["Paypal-Transmission-Time"] + "|" + s.webhookID + "|" +
		strconv.FormatUint(uint64(crc32.ChecksumIEEE(req.Body)), 10)
	digest := sha256.Sum256([]byte(message))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return nil, refuse(name, ReasonSignatureMismatch, "PAYPAL-TRANSMISSION-SIG does not match (is %q the webhook ID of this webhook?)", s.webhookID)
	}
	v.EventIDs = ids(jsonID(req.Body, "id"))
	return v, nil
}

// certificate returns the verified certificate at rawURL, fetching it unless
// it is cached. Every failure is an *Error.
func (s *paypalScheme) certificate(ctx context.Context, rawURL string, now time.Time) (*x509.Certificate, error) {
	const name = "paypal"
	u, err := checkCertURL(rawURL)
	if err != nil {
		return nil, &Error{Scheme: name, Reason: ReasonUntrustedCertificate, Detail: "PAYPAL-CERT-URL: " + err.Error(), Err: err}
	}
	key := u.String()
	s.mu.Lock()
	c := s.certs[key]
	s.mu.Unlock()
	if c == nil {
		body, err := s.fetch(ctx, u)
		if err != nil {
			return nil, &Error{Scheme: name, Reason: ReasonCertificateUnavailable, Detail: "fetch " + key + ": " + err.Error(), Err: err}
		}
		certs, err := parseCertificates(body)
		if err != nil {
			return nil, &Error{Scheme: name, Reason: ReasonUntrustedCertificate, Detail: key + ": " + err.Error(), Err: err}
		}
		c = &paypalCert{leaf: certs[0], intermediates: certs[1:]}
	}
	if !isPayPalVerificationCert(c.leaf) {
		return nil, refuse(name, ReasonUntrustedCertificate, "the certificate at %s is for %q, not PayPal's message-verification service", key, c.leaf.Subject.CommonName)
	}
	if c, err = s.verifyChain(ctx, c, now); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.certs) >= maxCachedCerts && s.certs[key] == nil {
		for k := range s.certs { // evict any one; they are cheap to fetch again
			delete(s.certs, k)
			break
		}
	}
	s.certs[key] = c
	s.mu.Unlock()
	return c.leaf, nil
}

// verifyChain checks that c's leaf chains to a trusted root at now,
// completing the chain from the leaf's issuer URL if it must. It returns the
// certificate with the intermediates that completed it; c itself, which may
// be shared through the cache, is not changed.
func (s *paypalScheme) verifyChain(ctx context.Context, c *paypalCert, now time.Time) (*paypalCert, error) {
	const name = "paypal"
	verify := func(c *paypalCert) error {
		pool := x509.NewCertPool()
		for _, ic := range c.intermediates {
			pool.AddCert(ic)
		}
		_, err := c.leaf.Verify(x509.VerifyOptions{
			Roots:         s.roots,
			Intermediates: pool,
			CurrentTime:   now,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		return err
	}
	err := verify(c)
	var unknown x509.UnknownAuthorityError
	if err != nil && errors.As(err, &unknown) && len(c.intermediates) == 0 {
		issuers, ferr := s.fetchIssuers(ctx, c.leaf)
		if ferr != nil {
			return nil, ferr
		}
		if len(issuers) > 0 {
			c = &paypalCert{leaf: c.leaf, intermediates: issuers}
			err = verify(c)
		}
	}
	if err != nil {
		return nil, &Error{Scheme: name, Reason: ReasonUntrustedCertificate, Detail: "certificate for " + c.leaf.Subject.CommonName + ": " + err.Error(), Err: err}
	}
	return c, nil
}

// fetchIssuers fetches the certificates named in leaf's Authority Information
// Access from allow-listed CA hosts, over HTTPS whatever the URL says.
func (s *paypalScheme) fetchIssuers(ctx context.Context, leaf *x509.Certificate) ([]*x509.Certificate, error) {
	const name = "paypal"
	var out []*x509.Certificate
	for _, raw := range leaf.IssuingCertificateURL {
		u, err := url.Parse(raw)
		if err != nil || !slices.Contains(issuerHosts, strings.ToLower(u.Hostname())) || u.User != nil || (u.Port() != "" && u.Port() != "80" && u.Port() != "443") {
			continue
		}
		u.Scheme, u.Host = "https", strings.ToLower(u.Hostname())
		key := u.String()
		s.mu.Lock()
		ic := s.issuers[key]
		s.mu.Unlock()
		if ic == nil {
			body, err := s.fetch(ctx, u)
			if err != nil {
				return nil, &Error{Scheme: name, Reason: ReasonCertificateUnavailable, Detail: "fetch issuer " + key + ": " + err.Error(), Err: err}
			}
			certs, err := parseCertificates(body)
			if err != nil {
				return nil, &Error{Scheme: name, Reason: ReasonUntrustedCertificate, Detail: "issuer " + key + ": " + err.Error(), Err: err}
			}
			ic = certs[0]
			s.mu.Lock()
			if len(s.issuers) < maxCachedCerts {
				s.issuers[key] = ic
			}
			s.mu.Unlock()
		}
		out = append(out, ic)
	}
	return out, nil
}

// fetch GETs u, which has passed an allow-list, and returns at most
// maxCertBytes of a 200 response.
func (s *paypalScheme) fetch(ctx context.Context, u *url.URL) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCertBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxCertBytes {
		return nil, fmt.Errorf("more than %d bytes", maxCertBytes)
	}
	return body, nil
}

// checkCertURL accepts only https://<PayPal API host>/v1/notifications/certs/…
// with nothing that could make the request go elsewhere.
func checkCertURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme != "https":
		return nil, fmt.Errorf("scheme %q, not https", u.Scheme)
	case u.User != nil:
		return nil, errors.New("has user information")
	case !slices.Contains(paypalCertHosts, host):
		return nil, fmt.Errorf("host %.100q is not one of PayPal's certificate hosts", host)
	case u.Port() != "" && u.Port() != "443":
		return nil, fmt.Errorf("port %.10q", u.Port())
	case !strings.HasPrefix(u.Path, paypalCertPath) || len(u.Path) == len(paypalCertPath) || path.Clean(u.Path) != u.Path:
		return nil, fmt.Errorf("path %.100q is not under %s", u.Path, paypalCertPath)
	case u.RawQuery != "" || u.Fragment != "" || u.RawPath != "":
		return nil, errors.New("has a query, fragment or escaped path")
	}
	return &url.URL{Scheme: "https", Host: host, Path: u.Path}, nil
}

// parseCertificates reads PEM certificates, or one DER certificate (what CA
// issuer URLs serve).
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if bytes.Contains(data, []byte("-----BEGIN")) {
			return nil, errors.New("no CERTIFICATE in the PEM data")
		}
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, errors.New("neither PEM nor DER certificate data")
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// isPayPalVerificationCert reports whether c names PayPal's
// message-verification service: messageverificationcerts(.sandbox).paypal.com,
// the rule of PayPal's Java and Python SDKs.
func isPayPalVerificationCert(c *x509.Certificate) bool {
	for _, n := range append([]string{c.Subject.CommonName}, c.DNSNames...) {
		n = strings.ToLower(n)
		if strings.HasPrefix(n, "messageverificationcerts.") && strings.HasSuffix(n, ".paypal.com") && !strings.Contains(n, "*") {
			return true
		}
	}
	return false
}
