package api

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// An endpoint's client certificate (a Hookbridge addition), for receivers
// that demand mutual TLS: set with PUT …/endpoint/{endpoint_id}/mtls, read
// with GET (never the private key), removed with DELETE. A sub-resource,
// never a field of EndpointOut, which stays exactly Svix's model.

// maxPEMLen bounds each PEM field of EndpointMtlsIn.
const maxPEMLen = 64 << 10

// endpointMTLSIn is EndpointMtlsIn, the body of PUT …/mtls.
type endpointMTLSIn struct {
	ClientCert *string `json:"clientCert"`
	ClientKey  *string `json:"clientKey"`
	CABundle   *string `json:"caBundle"`
}

// endpointMTLSOut is EndpointMtlsOut: what is set, without the key.
type endpointMTLSOut struct {
	ClientCert string  `json:"clientCert"`
	CABundle   *string `json:"caBundle"`
	Subject    string  `json:"subject"`
	NotAfter   string  `json:"notAfter"`
	UpdatedAt  string  `json:"updatedAt"`
}

func mtlsOut(m *hookbridge.EndpointMTLS) endpointMTLSOut {
	out := endpointMTLSOut{ClientCert: m.CertPEM, CABundle: nullable(m.CAPEM), NotAfter: formatTime(m.NotAfter), UpdatedAt: formatTime(m.UpdatedAt)}
	if block, _ := pem.Decode([]byte(m.CertPEM)); block != nil {
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			out.Subject = c.Subject.String()
		}
	}
	return out
}

// checkMTLS checks a client certificate as given: the certificate parses
// and has not expired, the key parses and is the certificate's, the CA
// bundle, if any, holds certificates. It returns what to store.
func checkMTLS(in *endpointMTLSIn, now time.Time, fe *fieldErrors) *hookbridge.EndpointMTLS {
	text := func(v *string, field string) string {
		switch {
		case v == nil || strings.TrimSpace(*v) == "":
			fe.body("field required", field)
		case len(*v) > maxPEMLen:
			fe.body(fmt.Sprintf("must be at most %d characters", maxPEMLen), field)
		default:
			return *v
		}
		return ""
	}
	certPEM, keyPEM := text(in.ClientCert, "clientCert"), text(in.ClientKey, "clientKey")
	var caPEM string
	if in.CABundle != nil && strings.TrimSpace(*in.CABundle) != "" {
		if caPEM = text(in.CABundle, "caBundle"); caPEM != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(caPEM)) {
			fe.body("must hold one or more PEM certificates", "caBundle")
		}
	}
	if certPEM == "" {
		return nil
	}
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		fe.body("must be a PEM certificate (-----BEGIN CERTIFICATE-----)", "clientCert")
		return nil
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		fe.body("not a valid certificate: "+strings.TrimPrefix(err.Error(), "x509: "), "clientCert")
		return nil
	}
	switch {
	case now.After(cert.NotAfter):
		fe.body("expired on "+formatTime(cert.NotAfter), "clientCert")
	case now.Before(cert.NotBefore):
		fe.body("not valid before "+formatTime(cert.NotBefore), "clientCert")
	}
	if keyPEM == "" {
		return nil
	}
	if _, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM)); err != nil {
		if strings.Contains(err.Error(), "does not match") {
			fe.body("does not match clientCert", "clientKey")
		} else {
			fe.body("must be an unencrypted PEM private key (PKCS #8, PKCS #1 or SEC 1)", "clientKey")
		}
		return nil
	}
	return &hookbridge.EndpointMTLS{CertPEM: certPEM, KeyPEM: keyPEM, CAPEM: caPEM, NotAfter: cert.NotAfter}
}

func (s *Server) handleGetEndpointMTLS(w http.ResponseWriter, r *http.Request) error {
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	m, err := s.store.GetEndpointMTLS(r.Context(), app.ID, ep.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, mtlsOut(m))
	return nil
}

// handlePutEndpointMTLS sets the endpoint's client certificate, replacing
// any; the next request to the endpoint presents it.
func (s *Server) handlePutEndpointMTLS(w http.ResponseWriter, r *http.Request) error {
	var in endpointMTLSIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	m := checkMTLS(&in, s.timeNow(), &fe)
	if err := fe.err(); err != nil {
		return err
	}
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if err := s.store.PutEndpointMTLS(r.Context(), app.ID, ep.ID, m); err != nil {
		return err
	}
	s.eventsRecorded()
	writeJSON(w, http.StatusOK, mtlsOut(m))
	return nil
}

// handleDeleteEndpointMTLS removes it: requests go without a client
// certificate again.
func (s *Server) handleDeleteEndpointMTLS(w http.ResponseWriter, r *http.Request) error {
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteEndpointMTLS(r.Context(), app.ID, ep.ID); err != nil {
		return err
	}
	s.eventsRecorded()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
