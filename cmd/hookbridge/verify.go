package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge/inbound"
)

// stdin is where verify reads the notification body. It is a variable so that
// tests can hand the command a body without a pipe.
var stdin io.Reader = os.Stdin

// verifyURLEnv is the environment variable of verify's --url, the
// notification's URL: not HOOKBRIDGE_URL, which names the server for listen
// and source and would otherwise be taken for the notification's.
const verifyURLEnv = "HOOKBRIDGE_VERIFY_URL"

// maxVerifyBody bounds the body verify reads: notifications are kilobytes.
const maxVerifyBody = 10 << 20

const verifySynopsis = `Check a recorded processor notification the way a source checks it, and say
why it is refused if it is.

  hookbridge verify --scheme NAME --secret SECRET [--header 'Name: value']... [--url URL]
                    [--now UNIX] [--tolerance SECONDS|none] [--public-key K] [--cert-file PEM]
                    [--key-id ID]  < raw-body

The body is read from standard input, byte for byte. Prints "valid" (and a note
on a second line, if there is one) and exits 0, or prints "invalid: <reason>"
and exits 1; a mistake in the command line exits 2.

The secret is given exactly as the processor's dashboard shows it. --public-key
is Braintree's public key (with the private key as --secret) or a Standard
Webhooks whpk_ key; --key-id is PayPal's webhook ID or Worldpay's keyId.
--cert-file supplies PayPal's certificate instead of fetching it; its chain and
expiry are then not checked. The --hmac-* flags configure the generic "hmac"
scheme.

Each flag's environment variable is shown with it below. --url's is
` + verifyURLEnv + `, not HOOKBRIDGE_URL, which is the server's address for
listen and source.`

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		scheme, secret, rawURL, now, tolerance string
		publicKey, certFile, keyID             string
		hmacOpts                               inbound.HMACOptions
		hdrs                                   = headerFlag{}
	)
	fs := newFlagSet("verify", verifySynopsis, stderr)
	fs.String(&scheme, "scheme", "", "verification scheme, one of: "+strings.Join(inbound.Names(), ", "))
	fs.String(&secret, "secret", "", "the signing secret or key, exactly as the processor's dashboard shows it")
	fs.Var(hdrs, "header", "a request header as 'Name: value'; repeat the flag for more, and a repeated name is a repeated header")
	fs.stringEnv(&rawURL, "url", verifyURLEnv, "", "the full notification URL as the processor called it (Square signs it; Mercado Pago and Braintree read its query)")
	fs.String(&now, "now", "", "verify as of this unix time in seconds instead of the clock")
	fs.String(&tolerance, "tolerance", "", "how far a signed timestamp may lie from now, in seconds, or none (default 300)")
	fs.String(&publicKey, "public-key", "", "Braintree's public key, or a Standard Webhooks whpk_ public key")
	fs.String(&certFile, "cert-file", "", "PayPal's certificate as a PEM file, used instead of fetching it")
	fs.String(&keyID, "key-id", "", "PayPal's webhook ID, or the Worldpay keyId of the secret")
	hmacFlags(fs, &hmacOpts, "sha256", "hex")
	if err := fs.parse(args); err != nil {
		return err
	}

	if scheme == "" {
		return usageError("--scheme is required, one of: %s", strings.Join(inbound.Names(), ", "))
	}
	creds := inbound.Credentials{Secret: secret, PublicKey: publicKey, KeyID: keyID, HMAC: hmacOpts}
	if certFile != "" {
		pemBytes, err := os.ReadFile(certFile)
		if err != nil {
			return usageError("--cert-file: %v", err)
		}
		creds.CertPEM = pemBytes
	}
	var opts []inbound.Option
	switch tolerance {
	case "":
	case "none":
		opts = append(opts, inbound.WithTolerance(inbound.NoTolerance))
	default:
		secs, err := strconv.ParseInt(tolerance, 10, 64)
		if err != nil || secs <= 0 || secs > int64(100*365*24*time.Hour/time.Second) {
			return usageError("--tolerance %q: want a positive number of seconds, or none", tolerance)
		}
		opts = append(opts, inbound.WithTolerance(time.Duration(secs)*time.Second))
	}
	req := &inbound.Request{Header: http.Header(hdrs), URL: rawURL}
	if now != "" {
		secs, err := strconv.ParseInt(now, 10, 64)
		if err != nil {
			return usageError("--now %q: want a unix time in seconds", now)
		}
		req.Now = time.Unix(secs, 0)
	}

	s, err := inbound.New(scheme, creds, opts...)
	if err != nil {
		return usageError("%v", strings.TrimPrefix(err.Error(), inbound.ErrConfig.Error()+": "))
	}
	body, err := io.ReadAll(io.LimitReader(stdin, maxVerifyBody+1))
	if err != nil {
		return fmt.Errorf("read the body from standard input: %w", err)
	}
	if len(body) > maxVerifyBody {
		return usageError("the body on standard input is larger than %d bytes", maxVerifyBody)
	}
	req.Body = body

	v, err := s.Verify(ctx, req)
	var refusal *inbound.Error
	switch {
	case errors.As(err, &refusal) && refusal.Reason == inbound.ReasonMissingURL:
		return usageError("scheme %s needs --url: %s", scheme, refusal.Detail)
	case refusal != nil:
		fmt.Fprintf(stdout, "invalid: %v\n", refusal)
		return &exitError{code: 1, err: fmt.Errorf("notification refused (%s)", refusal.Reason)}
	case err != nil:
		return err
	}
	fmt.Fprintln(stdout, "valid")
	if v.Note != "" {
		fmt.Fprintln(stdout, v.Note)
	}
	return nil
}

// headerFlag collects --header flags into a header set; a name given twice
// becomes a repeated header, as a processor sends it.
type headerFlag http.Header

func (h headerFlag) String() string { return "" }

func (h headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
		return fmt.Errorf("want 'Name: value', got %q", s)
	}
	http.Header(h).Add(textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value))
	return nil
}

// hmacFlags registers the options of the generic hmac scheme, shared by
// verify and source create, with the defaults given for the algorithm and
// the encoding ("" leaves them to the scheme).
func hmacFlags(fs *flagSet, o *inbound.HMACOptions, algorithm, encoding string) {
	fs.String(&o.Header, "hmac-header", "", "scheme hmac: the header holding the signature")
	fs.String(&o.Algorithm, "hmac-algorithm", algorithm, "scheme hmac: sha1, sha256 or sha512")
	fs.String(&o.Encoding, "hmac-encoding", encoding, "scheme hmac: hex or base64")
	fs.String(&o.Prefix, "hmac-prefix", "", `scheme hmac: text before each signature, e.g. "sha256="`)
	fs.String(&o.TimestampHeader, "hmac-timestamp-header", "", `scheme hmac: a header with the unix time, signed as "<time>.<body>"`)
}
