package inbound

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// DefaultTolerance is how far a signed timestamp may lie from the receiver's
// clock, in either direction, unless WithTolerance says otherwise. It bounds
// the window in which a captured request can be replayed.
const DefaultTolerance = 5 * time.Minute

// NoTolerance, given to WithTolerance, turns the timestamp check off. Only
// tools that re-check recorded requests should use it.
const NoTolerance time.Duration = -1

// A Scheme verifies the notifications of one processor, configured with one
// source's credentials. Build one with New; it is safe for concurrent use.
type Scheme interface {
	// Name is the scheme's registry name, e.g. "stripe".
	Name() string

	// Verify checks that req was sent by the processor and not altered.
	// It returns what the request told about itself, or an error. A
	// refusal is an *Error whose Reason says why; any other error means
	// the verification could not be carried out (a cancelled context).
	Verify(ctx context.Context, req *Request) (*Verified, error)

	// Ack is the answer the processor expects to a notification it
	// delivered: Adyen wants 200 with the body "[accepted]", most others
	// any 2xx. A verification request (see Verified.Challenge) is answered
	// with its own response instead.
	Ack() Response
}

// Request is one HTTP request as the processor sent it.
type Request struct {
	// Body is the raw request body, byte for byte. Parsing and
	// re-serialising it breaks every signature.
	Body []byte

	// Header holds the request headers. Repeated headers are repeated
	// values, as net/http stores them.
	Header http.Header

	// URL is the full URL the processor called, with scheme, host, path
	// and query, as the processor knows it (not as a proxy rewrote it).
	// Square signs it; Mercado Pago and Braintree read its query.
	URL string

	// Now is the receiver's clock for this request. The zero value means
	// time.Now().
	Now time.Time
}

// Response is an HTTP answer to the processor.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
}

// Verified is what a verified request says about itself.
type Verified struct {
	// Scheme is the name of the scheme that verified the request.
	Scheme string

	// EventIDs are the processor's own ids of the events the request
	// carries, in order: one for most processors, one per item for
	// batches (Adyen, GoCardless). They are the de-duplication keys: a
	// processor delivers at least once, and each retry carries the same
	// ids. Empty when the processor's notification has no id of its own
	// (Braintree) or the body could not be read for one; de-duplication
	// then has to fall back on the body itself. For Razorpay and Shopify
	// the id comes from an unsigned header (see the package comment).
	EventIDs []string

	// SignedAt is the timestamp the signature covers, for the schemes that
	// sign one; zero otherwise.
	SignedAt time.Time

	// Challenge, when set, means the request was not a notification but
	// the processor checking the endpoint (Braintree's bt_challenge): answer
	// with this response and store nothing.
	Challenge *Response

	// Note is something the operator should know about how the request was
	// verified, e.g. that a certificate was supplied offline and its chain
	// and expiry were not checked.
	Note string

	// Topic is the processor's name for the event when it travels in a
	// header rather than in the body: Shopify's X-Shopify-Topic
	// ("orders/paid"). "" for the others. Like Shopify's event id, the
	// signature does not cover it.
	Topic string

	// Merchant is the merchant the request names in a header rather than
	// in the body: Shopify's shop domain (X-Shopify-Shop-Domain). "" for
	// the others.
	Merchant string

	// ResourceID is the id of the object the notification is about where
	// the signature covers it apart from the body: Mercado Pago's data.id
	// (as the body writes it, which must match the signed one). "" for the
	// others.
	ResourceID string
}

// Credentials are a source's secrets and settings, each taken exactly as the
// processor's dashboard shows it; the scheme knows how to decode it. Which
// fields a scheme reads is listed in docs/inbound.md and at each scheme.
type Credentials struct {
	// Secret is the signing secret, webhook key or private key, e.g.
	// Stripe's whole "whsec_…" string, Adyen's hex HMAC key, Braintree's
	// private key.
	Secret string

	// PublicKey is Braintree's public key, or a Standard Webhooks "whpk_"
	// Ed25519 public key.
	PublicKey string

	// KeyID is PayPal's webhook ID, or the Worldpay keyId of the secret.
	KeyID string

	// CertPEM is PayPal's signing certificate supplied offline. With it no
	// certificate is fetched, and its chain and expiry are not checked.
	CertPEM []byte

	// HMAC configures the generic "hmac" scheme.
	HMAC HMACOptions
}

// Option adjusts how New builds a scheme.
type Option func(*options)

type options struct {
	tolerance  time.Duration
	httpClient *http.Client
	roots      *x509.CertPool
}

// WithTolerance sets how far a signed timestamp may lie from the clock in
// either direction. Zero means DefaultTolerance; NoTolerance (or any negative
// duration) turns the check off.
func WithTolerance(d time.Duration) Option {
	return func(o *options) { o.tolerance = d }
}

// WithHTTPClient sets the client that fetches PayPal's certificates. Its
// redirect policy is replaced: a certificate is never fetched from anywhere
// but the URL that was checked. The default client times out after 10 s.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.httpClient = c }
}

// WithRoots sets the roots that a fetched PayPal certificate must chain to.
// The default is the system's pool.
func WithRoots(pool *x509.CertPool) Option {
	return func(o *options) { o.roots = pool }
}

// ErrConfig is wrapped by every error New returns for credentials or options
// that cannot work, and for an unknown scheme name.
var ErrConfig = errors.New("inbound: invalid scheme configuration")

// verifier is the part each scheme file implements. verify is only called
// with a non-empty body, unless the scheme answers challenges; the wrapper in
// New enforces that and fills in Verified.Scheme.
type verifier interface {
	verify(ctx context.Context, req *Request, now time.Time) (*Verified, error)
}

// factory builds one scheme's verifier from its credentials.
type factory struct {
	build func(c Credentials, o options) (verifier, error)
	ack   Response
	// challenges is true for schemes whose processor checks the endpoint
	// with a request that has no body (Braintree).
	challenges bool
}

// Acknowledgements.
var (
	ackOK       = Response{Status: http.StatusOK}
	ackAccepted = Response{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte("[accepted]")}
)

// registry maps each scheme name to its factory. It is read-only after
// package initialisation.
var registry = map[string]factory{
	"standard-webhooks": {build: newStandardWebhooks, ack: ackOK},
	"stripe":            {build: newStripe, ack: ackOK},
	"adyen":             {build: newAdyen, ack: ackAccepted},
	"adyen-hmac-header": {build: newAdyenHeader, ack: ackAccepted},
	"square":            {build: newSquare, ack: ackOK},
	"checkout":          {build: newCheckout, ack: ackOK},
	"braintree":         {build: newBraintree, ack: ackOK, challenges: true},
	"paypal":            {build: newPayPal, ack: ackOK},
	"razorpay":          {build: newRazorpay, ack: ackOK},
	"gocardless":        {build: newGoCardless, ack: ackOK},
	"shopify":           {build: newShopify, ack: ackOK},
	"mollie":            {build: newMollie, ack: ackOK},
	"worldpay":          {build: newWorldpay, ack: ackOK},
	"mercadopago":       {build: newMercadoPago, ack: ackOK},
	"hmac":              {build: newGenericHMAC, ack: ackOK},
}

// Names returns the names of every scheme, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// New returns the scheme called name, configured with creds. An unknown name,
// or credentials the scheme cannot use, is an error wrapping ErrConfig that
// says what is wrong (and, for a name, which ones exist).
func New(name string, creds Credentials, opts ...Option) (Scheme, error) {
	f, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown scheme %q; known schemes: %s", ErrConfig, name, strings.Join(Names(), ", "))
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.tolerance == 0 {
		o.tolerance = DefaultTolerance
	}
	v, err := f.build(creds, o)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	return &scheme{name: name, v: v, ack: f.ack, challenges: f.challenges}, nil
}

// scheme applies the rules every scheme shares around the scheme's own check.
type scheme struct {
	name       string
	v          verifier
	ack        Response
	challenges bool
}

func (s *scheme) Name() string { return s.name }

func (s *scheme) Ack() Response {
	a := s.ack
	a.Body = slices.Clone(a.Body) // the caller may write to it
	return a
}

func (s *scheme) Verify(ctx context.Context, req *Request) (*Verified, error) {
	if req == nil {
		return nil, refuse(s.name, ReasonEmptyBody, "no request")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// An empty body carries nothing to act on. Refusing it here, before
	// any scheme looks, means no scheme can be talked into accepting one;
	// only a processor's endpoint check may come without a body.
	if len(req.Body) == 0 && !s.challenges {
		return nil, refuse(s.name, ReasonEmptyBody, "the request has no body")
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	v, err := s.v.verify(ctx, req, now)
	if err != nil {
		return nil, err
	}
	v.Scheme = s.name
	return v, nil
}
