// Package inbound verifies the webhooks that payment processors send to
// Hookbridge: it decides, for one HTTP request and one source's credentials,
// whether the processor sent it, and says why not when it did not.
//
// Each processor's scheme lives in its own file, written after that
// processor's official SDK (or, where there is none, its documentation); the
// file's opening comment names the source followed. A scheme is built by
// name:
//
//	s, err := inbound.New("stripe", inbound.Credentials{Secret: "whsec_…"})
//	…
//	v, err := s.Verify(ctx, &inbound.Request{Body: body, Header: r.Header, URL: fullURL})
//	if err != nil {
//		// refused: answer 4xx (503 if err is Temporary), store nothing
//	}
//	if v.Challenge != nil {
//		// the processor is checking the endpoint: answer with v.Challenge
//	}
//	// store the body, de-duplicate on v.EventIDs, answer with s.Ack()
//
// Names lists the schemes; docs/inbound.md describes each one: its headers,
// what it signs, the secret's format and the acknowledgement.
//
// # Policy
//
// The rules below hold for every scheme; the shared wrapper in New and the
// helpers in shared.go enforce them, so a scheme cannot forget one.
//
//   - An empty body is never valid. The only request without one that gets
//     an answer is a processor's check of the endpoint (Braintree's
//     bt_challenge), and it comes back as Verified.Challenge, never as a
//     notification.
//   - Where a scheme signs a timestamp, it must lie within the tolerance
//     (DefaultTolerance, five minutes) of the receiver's clock in both
//     directions. WithTolerance widens or narrows it; NoTolerance turns it
//     off, for tools that re-check recorded requests. Request.Now fixes the
//     clock.
//   - Signatures and MACs are compared in constant time (crypto/hmac.Equal,
//     or the RSA and Ed25519 verifiers). Where a request carries several
//     signatures, as during a secret rotation, one match is enough; at most
//     32 are read.
//   - A refusal is an *Error with a Reason (one word, for logs and metrics)
//     and a Detail (for people). Neither contains a secret or a signature
//     that would have been valid. Only ReasonCertificateUnavailable is
//     Temporary. Errors from New wrap ErrConfig.
//   - Secrets are taken exactly as the processor's dashboard shows them:
//     Stripe's whole whsec_ string is the HMAC key; a Standard Webhooks
//     whsec_ secret is base64 after the prefix; Adyen's key is hex;
//     Braintree's is the private key, with the public key beside it.
//   - Nothing reaches the network except PayPal's certificate fetches: over
//     HTTPS only, to PayPal's certificate hosts and, for a missing
//     intermediate, to its CA's issuer host, both allow-listed (see
//     paypal.go).
//
// # Event ids
//
// Verified.EventIDs are the processor's own ids for what the request
// carries, the key to drop the duplicates every processor sends: one id for
// most, one per item for batched processors (Adyen, GoCardless). Most come
// from the verified body or a signed header. Razorpay and Shopify send theirs
// in a header beside the signature, which the signature does not cover: a
// replayed body with another id there passes as a new event, so
// de-duplication for them is best keyed on the body as well. Mercado Pago
// signs no body at all; its Verified.Note says to act on the signed data.id.
//
// # Normalisation and card data
//
// Normalize reads a verified notification into Events, each with the
// canonical messages it stands for (payment.captured, refund.succeeded, …,
// or payment.updated where the processor only names the object that
// changed); one file per processor, normalize_<processor>.go, whose opening
// comment gives the mapping and the documentation followed. Payload amounts
// are integers in the currency's minor unit (CurrencyExponent, the one
// exponent table). Redact removes card numbers and security codes from a
// body before it is stored; payloads are masked the same way. Schemes
// without a normaliser are passed through under their own type.
//
// # Adding a scheme
//
//  1. Read the processor's official SDK: how it finds the signature, what
//     exactly it signs, how it decodes the secret, what it compares.
//  2. Add <processor>.go with an opening comment naming the SDK file
//     followed and any deliberate difference, a constructor
//     func(Credentials, options) (verifier, error) that refuses unusable
//     credentials, and a verify method that returns an *Error (built with
//     refuse) for every refusal. Use checkTimestamp for signed times,
//     hmac.Equal for comparisons, maxSignatures to bound lists, jsonID or a
//     signed header for the event id.
//  3. Register it in the registry in inbound.go with its acknowledgement.
//  4. Test it in <processor>_test.go: the processor's published example
//     where one exists, requests signed in the test, and the tampered cases
//     (one body byte, wrong secret, stale and future timestamp, missing and
//     malformed header, several signatures with one valid); add its
//     header parser to the fuzz tests; describe it in docs/inbound.md.
package inbound
