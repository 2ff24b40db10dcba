package webhook_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/webhook"
)

// The published test vector of the Standard Webhooks specification, from the
// reference Go library's TestWebhookSign
// (standard-webhooks/standard-webhooks, libraries/go/webhook_test.go) and, with
// the same values, the Svix server's test_generate_msg_headers_with_signing_key
// (svix/svix-webhooks, server/svix-server/src/worker.rs).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// Ed25519 test vectors over the same id, timestamp and payload.
const (
	// Svix server, test_asymmetric_key_signing (server/svix-server/src/worker.rs):
	// a 64-byte private key (seed || public key). The public key is the one its
	// e2e_endpoint.rs test expects for this private key, and the signature is
	// also the v1a example in the specification's "Webhook headers" section.
	svixPrivateKey = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
	svixPublicKey  = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="
	svixSignature  = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="

	// Standard Webhooks reference library, TestAsymmetricWebhookSign
	// (libraries/go/webhook_asymmetric_test.go): a 32-byte seed. That library
	// takes the key without a prefix; here the whsk_ prefix says it is an
	// Ed25519 key, since an unprefixed string is an HMAC secret.
	seedPrivateKey = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
	seedSignature  = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)

// otherSecret is a valid secret that is not vectorSecret: 24 bytes of 0x01.
var otherSecret = webhook.SecretPrefix + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x01", 24)))

var vectorTime = time.Unix(vectorTimestamp, 0)

func TestSpecVector(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, vectorSecret)
	if got := s.Sign(vectorID, vectorTime, []byte(vectorPayload)); got != vectorSignature {
		t.Errorf("Sign = %q, want %q", got, vectorSignature)
	}
	if got := string(s.AppendSignature([]byte("x"), vectorID, vectorTimestamp, []byte(vectorPayload))); got != "x"+vectorSignature {
		t.Errorf("AppendSignature = %q, want %q", got, "x"+vectorSignature)
	}
	v := mustVerifier(t, vectorSecret)
	if err := v.VerifyAt(vectorTime, []byte(vectorPayload), header(vectorID, vectorTimestamp, vectorSignature)); err != nil {
		t.Errorf("VerifyAt(vector) = %v, want nil", err)
	}
}

func TestEd25519Vectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, private, want string
	}{
		{"svix 64-byte key", svixPrivateKey, svixSignature},
		{"standard webhooks seed", seedPrivateKey, seedSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mustSigner(t, tc.private)
			got := s.Sign(vectorID, vectorTime, []byte(vectorPayload))
			if got != tc.want {
				t.Errorf("Sign = %q, want %q", got, tc.want)
			}
			public, err := webhook.PublicKey(tc.private)
			if err != nil {
				t.Fatalf("PublicKey: %v", err)
			}
			v := mustVerifier(t, public)
			if err := v.VerifyAt(vectorTime, []byte(vectorPayload), header(vectorID, vectorTimestamp, tc.want)); err != nil {
				t.Errorf("VerifyAt = %v, want nil", err)
			}
		})
	}
	if got, err := webhook.PublicKey(svixPrivateKey); err != nil || got != svixPublicKey {
		t.Errorf("PublicKey(svix key) = %q, %v; want %q", got, err, svixPublicKey)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":"payment.captured","data":{"id":"pay_1","amount":1250,"currency":"EUR"}}`)
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	ts := now.Unix()

	hmacSig := mustSigner(t, vectorSecret).Sign(id, now, body)
	otherSig := mustSigner(t, otherSecret).Sign(id, now, body)
	edSig := mustSigner(t, svixPrivateKey).Sign(id, now, body)
	unprefixed := strings.TrimPrefix(vectorSecret, webhook.SecretPrefix)
	sigAt := func(ts int64) string {
		return mustSigner(t, vectorSecret).Sign(id, time.Unix(ts, 0), body)
	}
	// An entry with a well-formed but wrong signature.
	bogus := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	// The valid HMAC signature relabelled with a version this package does
	// not know: it must be skipped, not accepted.
	unknownVersion := "v2," + strings.TrimPrefix(hmacSig, "v1,")

	without := func(h http.Header, names ...string) http.Header {
		for _, n := range names {
			h.Del(n)
		}
		return h
	}

	tests := []struct {
		name    string
		secrets []string // the verifier's keys; vectorSecret if nil
		body    []byte   // the received body; body if nil
		header  http.Header
		now     time.Time // now if zero
		wantErr error
		wantMsg string // a substring of the error message
	}{
		{name: "valid", header: header(id, ts, hmacSig)},
		{name: "tampered body", body: []byte(strings.Replace(string(body), "1250", "1251", 1)),
			header: header(id, ts, hmacSig), wantErr: webhook.ErrInvalidSignature},
		{name: "empty body", body: []byte{}, header: header(id, ts, hmacSig), wantErr: webhook.ErrInvalidSignature},
		{name: "wrong secret", secrets: []string{otherSecret}, header: header(id, ts, hmacSig), wantErr: webhook.ErrInvalidSignature},
		{name: "id changed", header: header(id+"x", ts, hmacSig), wantErr: webhook.ErrInvalidSignature},
		{name: "timestamp changed within tolerance", header: header(id, ts+1, hmacSig), wantErr: webhook.ErrInvalidSignature},

		{name: "stale timestamp", header: header(id, ts-301, sigAt(ts-301)), wantErr: webhook.ErrMessageTooOld},
		{name: "oldest accepted timestamp", header: header(id, ts-300, sigAt(ts-300))},
		{name: "future timestamp", header: header(id, ts+301, sigAt(ts+301)), wantErr: webhook.ErrMessageTooNew},
		{name: "newest accepted timestamp", header: header(id, ts+300, sigAt(ts+300))},
		{name: "sub-second clock past the limit", header: header(id, ts-300, sigAt(ts-300)),
			now: now.Add(time.Millisecond), wantErr: webhook.ErrMessageTooOld},
		{name: "very old timestamp", header: header(id, 0, sigAt(0)), wantErr: webhook.ErrMessageTooOld},

		{name: "missing id", header: without(header(id, ts, hmacSig), webhook.HeaderID),
			wantErr: webhook.ErrMissingHeaders, wantMsg: "webhook-id not set"},
		{name: "missing timestamp", header: without(header(id, ts, hmacSig), webhook.HeaderTimestamp),
			wantErr: webhook.ErrMissingHeaders, wantMsg: "webhook-timestamp not set"},
		{name: "missing signature", header: without(header(id, ts, hmacSig), webhook.HeaderSignature),
			wantErr: webhook.ErrMissingHeaders, wantMsg: "webhook-signature not set"},
		{name: "empty signature value", header: header(id, ts, ""),
			wantErr: webhook.ErrMissingHeaders, wantMsg: "webhook-signature not set"},
		{name: "no headers", header: http.Header{}, wantErr: webhook.ErrMissingHeaders},

		{name: "timestamp not a number", header: header(id, ts, hmacSig, "soon"), wantErr: webhook.ErrInvalidTimestamp},
		{name: "timestamp with fraction", header: header(id, ts, hmacSig, strconv.FormatInt(ts, 10)+".5"), wantErr: webhook.ErrInvalidTimestamp},
		{name: "timestamp with plus sign", header: header(id, ts, hmacSig, "+"+strconv.FormatInt(ts, 10)), wantErr: webhook.ErrInvalidTimestamp},
		{name: "negative timestamp", header: header(id, ts, hmacSig, "-"+strconv.FormatInt(ts, 10)), wantErr: webhook.ErrInvalidTimestamp},
		{name: "timestamp with leading zero", header: header(id, ts, hmacSig, "0"+strconv.FormatInt(ts, 10)), wantErr: webhook.ErrInvalidTimestamp},
		{name: "timestamp in milliseconds", header: header(id, ts, sigAt(ts*1000), strconv.FormatInt(ts*1000, 10)), wantErr: webhook.ErrMessageTooNew},
		{name: "timestamp overflows int64", header: header(id, ts, hmacSig, "99999999999999999999"), wantErr: webhook.ErrInvalidTimestamp},

		{name: "several signatures, one valid",
			header: header(id, ts, strings.Join([]string{bogus, unknownVersion, hmacSig, bogus}, " "))},
		{name: "several signatures, none valid",
			header: header(id, ts, bogus+" "+otherSig), wantErr: webhook.ErrInvalidSignature, wantMsg: "none of the 2"},
		{name: "doubled spaces between signatures", header: header(id, ts, bogus+"  "+hmacSig+" ")},
		{name: "unknown version only", header: header(id, ts, unknownVersion),
			wantErr: webhook.ErrInvalidSignature, wantMsg: "no v1 or v1a signature"},
		{name: "valid HMAC under an unknown version, bogus v1 beside", header: header(id, ts, unknownVersion+" "+bogus),
			wantErr: webhook.ErrInvalidSignature, wantMsg: "none of the 1"},
		{name: "valid HMAC labelled v1a", secrets: []string{vectorSecret, svixPublicKey},
			header: header(id, ts, "v1a,"+strings.TrimPrefix(hmacSig, "v1,")), wantErr: webhook.ErrInvalidSignature},
		{name: "signature without version", header: header(id, ts, strings.TrimPrefix(hmacSig, "v1,")),
			wantErr: webhook.ErrInvalidSignature},
		{name: "signature in upper case version", header: header(id, ts, "V1,"+strings.TrimPrefix(hmacSig, "v1,")),
			wantErr: webhook.ErrInvalidSignature},
		{name: "too many signatures", header: header(id, ts, strings.Repeat(bogus+" ", 32)+hmacSig),
			wantErr: webhook.ErrInvalidSignature, wantMsg: "33 signatures"},
		{name: "32 signatures are read", header: header(id, ts, strings.Repeat(bogus+" ", 31)+hmacSig)},

		{name: "svix alias headers", header: renameToSvix(header(id, ts, hmacSig))},
		{name: "svix alias headers, tampered body", body: []byte("{}"), header: renameToSvix(header(id, ts, hmacSig)),
			wantErr: webhook.ErrInvalidSignature},
		{name: "partial svix set names the svix header",
			header:  without(renameToSvix(header(id, ts, hmacSig)), webhook.SvixHeaderSignature),
			wantErr: webhook.ErrMissingHeaders, wantMsg: "svix-signature not set"},
		{name: "webhook headers take precedence over svix ones", header: func() http.Header {
			h := header(id, ts, bogus)
			for k, v := range renameToSvix(header(id, ts, hmacSig)) {
				h[k] = v
			}
			return h
		}(), wantErr: webhook.ErrInvalidSignature},
		{name: "a partial webhook set does not fall back to svix", header: func() http.Header {
			h := without(header(id, ts, hmacSig), webhook.HeaderSignature)
			for k, v := range renameToSvix(header(id, ts, hmacSig)) {
				h[k] = v
			}
			return h
		}(), wantErr: webhook.ErrMissingHeaders},

		{name: "secret without prefix", secrets: []string{unprefixed}, header: header(id, ts, hmacSig)},
		{name: "rotation: verifier holds old and new", secrets: []string{otherSecret, vectorSecret}, header: header(id, ts, hmacSig)},
		{name: "rotation: sender signs with both", secrets: []string{otherSecret}, header: header(id, ts, hmacSig+" "+otherSig)},

		{name: "ed25519 valid", secrets: []string{svixPublicKey}, header: header(id, ts, edSig)},
		{name: "ed25519 verifier from private key", secrets: []string{svixPrivateKey}, header: header(id, ts, edSig)},
		{name: "ed25519 tampered body", secrets: []string{svixPublicKey}, body: []byte("{}"),
			header: header(id, ts, edSig), wantErr: webhook.ErrInvalidSignature},
		{name: "ed25519 wrong key", secrets: []string{mustPublicKey(t, seedPrivateKey)},
			header: header(id, ts, edSig), wantErr: webhook.ErrInvalidSignature},
		{name: "ed25519 truncated signature", secrets: []string{svixPublicKey},
			header: header(id, ts, edSig[:len(edSig)-4]), wantErr: webhook.ErrInvalidSignature},
		{name: "ed25519 signature that is not base64", secrets: []string{svixPublicKey},
			header: header(id, ts, "v1a,"+strings.Repeat("!", 88)), wantErr: webhook.ErrInvalidSignature},
		{name: "ed25519 signature, HMAC verifier", header: header(id, ts, edSig), wantErr: webhook.ErrInvalidSignature},
		{name: "HMAC signature, ed25519 verifier", secrets: []string{svixPublicKey},
			header: header(id, ts, hmacSig), wantErr: webhook.ErrInvalidSignature},
		{name: "mixed header, ed25519 entry valid", secrets: []string{svixPublicKey},
			header: header(id, ts, bogus+" "+edSig)},
		{name: "mixed verifier, HMAC entry valid", secrets: []string{svixPublicKey, vectorSecret},
			header: header(id, ts, hmacSig)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			secrets := tc.secrets
			if secrets == nil {
				secrets = []string{vectorSecret}
			}
			got := body
			if tc.body != nil {
				got = tc.body
			}
			at := now
			if !tc.now.IsZero() {
				at = tc.now
			}
			err := mustVerifier(t, secrets...).VerifyAt(at, got, tc.header)
			checkErr(t, err, tc.wantErr, tc.wantMsg)
		})
	}
}

func TestVerifyUsesTheClock(t *testing.T) {
	t.Parallel()
	body := []byte(`{}`)
	s := mustSigner(t, vectorSecret)
	v := mustVerifier(t, vectorSecret)

	h := http.Header{}
	s.SetHeaders(h, "msg_1", time.Now(), body)
	if err := v.Verify(body, h); err != nil {
		t.Errorf("Verify(signed now) = %v, want nil", err)
	}
	// The vector was signed in 2021: by any real clock it is a replay.
	err := v.Verify([]byte(vectorPayload), header(vectorID, vectorTimestamp, vectorSignature))
	checkErr(t, err, webhook.ErrMessageTooOld, "")
}

func TestWithTolerance(t *testing.T) {
	t.Parallel()
	v := mustVerifier(t, vectorSecret)
	h := header(vectorID, vectorTimestamp, vectorSignature)
	body := []byte(vectorPayload)
	tests := []struct {
		name      string
		verifier  *webhook.Verifier
		offset    time.Duration // of the clock from the message time
		wantError error
	}{
		{"default refuses 6 minutes late", v, 6 * time.Minute, webhook.ErrMessageTooOld},
		{"10 minutes accepts 6 minutes late", v.WithTolerance(10 * time.Minute), 6 * time.Minute, nil},
		{"10 minutes accepts 6 minutes early", v.WithTolerance(10 * time.Minute), -6 * time.Minute, nil},
		{"10 minutes refuses 11 minutes early", v.WithTolerance(10 * time.Minute), -11 * time.Minute, webhook.ErrMessageTooNew},
		{"1 second refuses 2 seconds late", v.WithTolerance(time.Second), 2 * time.Second, webhook.ErrMessageTooOld},
		{"zero means the default", v.WithTolerance(0), 4 * time.Minute, nil},
		{"zero means the default, upper bound", v.WithTolerance(0), 6 * time.Minute, webhook.ErrMessageTooOld},
		{"negative means the default", v.WithTolerance(-time.Hour), 4 * time.Minute, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.verifier.VerifyAt(vectorTime.Add(tc.offset), body, h)
			checkErr(t, err, tc.wantError, "")
		})
	}
	// WithTolerance returns a copy; the original keeps its tolerance.
	checkErr(t, v.VerifyAt(vectorTime.Add(6*time.Minute), body, h), webhook.ErrMessageTooOld, "")
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n))) }
	// The Svix server's own "bad SK" test key: a 64-byte whsk_ whose public
	// half does not belong to its seed (server/svix-server/src/core/types/mod.rs).
	mismatched := "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlaaaaaaaaaaAJ6p9lMicMFs6Kvg=="

	tests := []struct {
		name       string
		secret     string
		signerOK   bool
		verifierOK bool
		wantMsg    string
	}{
		{"spec vector secret", vectorSecret, true, true, ""},
		{"without prefix", strings.TrimPrefix(vectorSecret, "whsec_"), true, true, ""},
		{"trailing newline", vectorSecret + "\n", true, true, ""},
		{"24 bytes", "whsec_" + b64(24), true, true, ""},
		{"64 bytes (Svix's long secret)", "whsec_TUdfVE5UMnZlci1TeWxOYXQtX1ZlTW1kLTRtMFdhYmEwanIxdHJvenRCbmlTQ2hFdzBnbHhFbWdFaTJLdzQwSA==", true, true, ""},
		{"23 bytes", "whsec_" + b64(23), false, false, "decodes to 23 bytes"},
		{"65 bytes", "whsec_" + b64(65), false, false, "decodes to 65 bytes"},
		{"empty", "", false, false, "empty"},
		{"prefix only", "whsec_", false, false, "empty"},
		{"not base64", "whsec_" + strings.Repeat("!", 32), false, false, "not standard base64"},
		{"url-safe base64", "whsec_" + strings.Repeat("_-", 16), false, false, "not standard base64"},
		{"public key", svixPublicKey, false, true, "cannot sign"},
		{"private key, 64 bytes", svixPrivateKey, true, true, ""},
		{"private key, 32-byte seed", seedPrivateKey, true, true, ""},
		{"private key, public half does not match", mismatched, false, false, "does not match"},
		{"private key of 33 bytes", "whsk_" + b64(33), false, false, "decodes to 33 bytes"},
		{"public key of 31 bytes", "whpk_" + b64(31), false, false, "decodes to 31 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, errS := webhook.NewSigner(tc.secret)
			_, errV := webhook.NewVerifier(tc.secret)
			for _, c := range []struct {
				what string
				err  error
				ok   bool
			}{{"NewSigner", errS, tc.signerOK}, {"NewVerifier", errV, tc.verifierOK}} {
				if c.ok {
					if c.err != nil {
						t.Errorf("%s: %v, want nil", c.what, c.err)
					}
					continue
				}
				if !errors.Is(c.err, webhook.ErrInvalidSecret) {
					t.Errorf("%s: %v, want ErrInvalidSecret", c.what, c.err)
					continue
				}
				// The message says what is wrong without quoting the secret.
				if body := strings.TrimSpace(tc.secret[strings.Index(tc.secret, "_")+1:]); len(body) > 8 && strings.Contains(c.err.Error(), body) {
					t.Errorf("%s: error %q repeats the secret", c.what, c.err)
				}
			}
			for _, err := range []error{errS, errV} {
				if err != nil && tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("error %q does not mention %q", err, tc.wantMsg)
				}
			}
		})
	}
}

func TestNoSecrets(t *testing.T) {
	t.Parallel()
	if _, err := webhook.NewSigner(); !errors.Is(err, webhook.ErrInvalidSecret) {
		t.Errorf("NewSigner() = %v, want ErrInvalidSecret", err)
	}
	if _, err := webhook.NewVerifier(); !errors.Is(err, webhook.ErrInvalidSecret) {
		t.Errorf("NewVerifier() = %v, want ErrInvalidSecret", err)
	}
	_, err := webhook.NewSigner(vectorSecret, "whsec_short")
	checkErr(t, err, webhook.ErrInvalidSecret, "secret 2 of 2")
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two NewSecret calls returned the same secret %q", a)
	}
	for _, s := range []string{a, b} {
		encoded, ok := strings.CutPrefix(s, webhook.SecretPrefix)
		if !ok || len(encoded) != 32 {
			t.Errorf("secret %q: want whsec_ and 32 base64 characters", s)
		}
		if raw, err := base64.StdEncoding.DecodeString(encoded); err != nil || len(raw) != 24 {
			t.Errorf("secret %q decodes to %d bytes (%v), want 24", s, len(raw), err)
		}
	}
	signed := header("msg_1", vectorTimestamp, mustSigner(t, a).Sign("msg_1", vectorTime, []byte("x")))
	if err := mustVerifier(t, a).VerifyAt(vectorTime, []byte("x"), signed); err != nil {
		t.Errorf("round trip with a new secret: %v", err)
	}
	checkErr(t, mustVerifier(t, b).VerifyAt(vectorTime, []byte("x"), signed), webhook.ErrInvalidSignature, "")
}

func TestNewKeyPair(t *testing.T) {
	t.Parallel()
	public, private, err := webhook.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(public, webhook.PublicKeyPrefix) || !strings.HasPrefix(private, webhook.PrivateKeyPrefix) {
		t.Fatalf("NewKeyPair = %q, %q: want whpk_ and whsk_ prefixes", public, private)
	}
	if raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(private, webhook.PrivateKeyPrefix)); len(raw) != 64 {
		t.Errorf("private key decodes to %d bytes, want 64 (seed and public key)", len(raw))
	}
	if got, err := webhook.PublicKey(private); err != nil || got != public {
		t.Errorf("PublicKey(private) = %q, %v; want %q", got, err, public)
	}
	if _, err := webhook.PublicKey(public); !errors.Is(err, webhook.ErrInvalidSecret) {
		t.Errorf("PublicKey(public) = %v, want ErrInvalidSecret", err)
	}
	if _, err := webhook.PublicKey(vectorSecret); !errors.Is(err, webhook.ErrInvalidSecret) {
		t.Errorf("PublicKey(whsec_) = %v, want ErrInvalidSecret", err)
	}

	body := []byte(`{"type":"order.ready"}`)
	sig := mustSigner(t, private).Sign("msg_1", vectorTime, body)
	if !strings.HasPrefix(sig, "v1a,") {
		t.Errorf("signature %q: want a v1a entry", sig)
	}
	if err := mustVerifier(t, public).VerifyAt(vectorTime, body, header("msg_1", vectorTimestamp, sig)); err != nil {
		t.Errorf("round trip: %v", err)
	}
}

func TestSignerSeveralKeys(t *testing.T) {
	t.Parallel()
	body := []byte(vectorPayload)
	s := mustSigner(t, vectorSecret, svixPrivateKey, otherSecret)
	got := s.Sign(vectorID, vectorTime, body)
	want := strings.Join([]string{
		vectorSignature,
		svixSignature,
		mustSigner(t, otherSecret).Sign(vectorID, vectorTime, body),
	}, " ")
	if got != want {
		t.Errorf("Sign = %q\nwant  %q", got, want)
	}
	if s.SignatureLen() != len(got) {
		t.Errorf("SignatureLen = %d, want %d", s.SignatureLen(), len(got))
	}
	for _, secret := range []string{vectorSecret, svixPublicKey, otherSecret} {
		if err := mustVerifier(t, secret).VerifyAt(vectorTime, body, header(vectorID, vectorTimestamp, got)); err != nil {
			t.Errorf("verifier with %.12s: %v", secret, err)
		}
	}
}

func TestSetHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set(webhook.HeaderSignature, "v1,stale")
	h.Set("Content-Type", "application/json")
	mustSigner(t, vectorSecret).SetHeaders(h, vectorID, vectorTime.Add(999*time.Millisecond), []byte(vectorPayload))

	want := map[string]string{
		webhook.HeaderID:        vectorID,
		webhook.HeaderTimestamp: strconv.Itoa(vectorTimestamp),
		webhook.HeaderSignature: vectorSignature,
		"Content-Type":          "application/json",
	}
	for name, value := range want {
		if got := h.Values(name); len(got) != 1 || got[0] != value {
			t.Errorf("header %s = %q, want [%q]", name, got, value)
		}
	}
	// The value slices share one array; appending to one must not change
	// another.
	h.Add(webhook.HeaderID, "second")
	if got := h.Get(webhook.HeaderTimestamp); got != strconv.Itoa(vectorTimestamp) {
		t.Errorf("after Add to %s, %s = %q", webhook.HeaderID, webhook.HeaderTimestamp, got)
	}
}

// The package indexes http.Header with precomputed canonical names; they
// must be what http.Header.Get and Set use.
func TestHeaderNamesAreCanonical(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	mustSigner(t, vectorSecret).SetHeaders(h, vectorID, vectorTime, nil)
	for _, name := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
		if _, ok := h[textproto.CanonicalMIMEHeaderKey(name)]; !ok {
			t.Errorf("SetHeaders did not set %s under its canonical name", name)
		}
	}
	svix := http.Header{}
	svix.Set(webhook.SvixHeaderID, vectorID)
	svix.Set(webhook.SvixHeaderTimestamp, strconv.Itoa(vectorTimestamp))
	svix.Set(webhook.SvixHeaderSignature, vectorSignature)
	if err := mustVerifier(t, vectorSecret).VerifyAt(vectorTime, []byte(vectorPayload), svix); err != nil {
		t.Errorf("svix headers set with Set: %v", err)
	}
}

// Signers and verifiers are shared by every goroutine of a dispatcher or a
// receiver; pooled state must never leak between calls. Run with -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, vectorSecret, svixPrivateKey)
	v := mustVerifier(t, vectorSecret)
	const workers, rounds = 8, 200
	message := func(w, i int) (string, []byte) {
		return fmt.Sprintf("msg_%d_%d", w, i), []byte(strings.Repeat("x", (w*rounds+i)%300))
	}
	// The expected signatures, made sequentially by a signer of its own.
	ref := mustSigner(t, vectorSecret, svixPrivateKey)
	var want [workers][rounds]string
	for w := range workers {
		for i := range rounds {
			id, body := message(w, i)
			want[w][i] = ref.Sign(id, vectorTime, body)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			var buf []byte
			for i := range rounds {
				id, body := message(w, i)
				buf = s.AppendSignature(buf[:0], id, vectorTimestamp, body)
				if string(buf) != want[w][i] {
					errs <- fmt.Errorf("%s: concurrent signature %q, want %q", id, buf, want[w][i])
					return
				}
				if err := v.VerifyAt(vectorTime, body, header(id, vectorTimestamp, string(buf))); err != nil {
					errs <- fmt.Errorf("%s: %w", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop entries at random")
	}
	body := []byte(strings.Repeat("x", 512))
	s := mustSigner(t, vectorSecret, otherSecret)
	v := mustVerifier(t, vectorSecret)
	dst := make([]byte, 0, s.SignatureLen())
	h := header(vectorID, vectorTimestamp, s.Sign(vectorID, vectorTime, body))

	if n := testing.AllocsPerRun(100, func() {
		dst = s.AppendSignature(dst[:0], vectorID, vectorTimestamp, body)
	}); n != 0 {
		t.Errorf("AppendSignature: %v allocations per call, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := v.VerifyAt(vectorTime, body, h); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("VerifyAt: %v allocations per call, want 0", n)
	}
}

// FuzzVerify feeds arbitrary header values and bodies to VerifyAt. It must
// not panic, must fail only with the documented errors, and must accept only
// headers that carry the signature the key really makes.
func FuzzVerify(f *testing.F) {
	f.Add(vectorID, strconv.Itoa(vectorTimestamp), vectorSignature, []byte(vectorPayload), false)
	f.Add(vectorID, strconv.Itoa(vectorTimestamp), vectorSignature, []byte(vectorPayload), true)
	f.Add(vectorID, strconv.Itoa(vectorTimestamp), "v1,x v1a,"+strings.Repeat("A", 88)+" "+vectorSignature, []byte(vectorPayload), false)
	f.Add(vectorID, strconv.Itoa(vectorTimestamp), svixSignature, []byte(vectorPayload), false)
	f.Add("", "", "", []byte(nil), false)
	f.Add("msg", "0", ",,, v1, v1a, ,", []byte("{}"), false)
	f.Add("msg", "1614265330", "v1a,====", []byte("{}"), false)
	f.Add("msg.1614265330", "-1", strings.Repeat("v1,a ", 40), []byte("."), true)

	s := mustSigner(f, vectorSecret, svixPrivateKey)
	v := mustVerifier(f, vectorSecret, svixPublicKey)
	known := []error{webhook.ErrMissingHeaders, webhook.ErrInvalidTimestamp, webhook.ErrMessageTooOld,
		webhook.ErrMessageTooNew, webhook.ErrInvalidSignature}

	f.Fuzz(func(t *testing.T, id, timestamp, signature string, body []byte, svixNames bool) {
		h := http.Header{}
		names := [3]string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature}
		if svixNames {
			names = [3]string{webhook.SvixHeaderID, webhook.SvixHeaderTimestamp, webhook.SvixHeaderSignature}
		}
		h.Set(names[0], id)
		h.Set(names[1], timestamp)
		h.Set(names[2], signature)

		err := v.VerifyAt(vectorTime, body, h)
		if err != nil {
			for _, k := range known {
				if errors.Is(err, k) {
					return
				}
			}
			t.Fatalf("VerifyAt: undocumented error %v", err)
		}
		ts, perr := strconv.ParseInt(timestamp, 10, 64)
		if perr != nil {
			t.Fatalf("accepted unparsable timestamp %q", timestamp)
		}
		want := strings.Split(s.Sign(id, time.Unix(ts, 0), body), " ")
		for _, entry := range strings.Split(signature, " ") {
			if entry == want[0] || entry == want[1] {
				return
			}
		}
		t.Fatalf("accepted id %q ts %q signature %q body %q: none of its entries is %q", id, timestamp, signature, body, want)
	})
}

// FuzzSecret feeds arbitrary strings to the key parsers: they must not
// panic, and must fail only with ErrInvalidSecret.
func FuzzSecret(f *testing.F) {
	for _, s := range []string{vectorSecret, svixPrivateKey, svixPublicKey, seedPrivateKey, "", "whsk_", "whpk_====", "whsec_\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, secret string) {
		if _, err := webhook.NewVerifier(secret); err != nil && !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Fatalf("NewVerifier: %v", err)
		}
		if _, err := webhook.NewSigner(secret); err != nil && !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Fatalf("NewSigner: %v", err)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	body := []byte(strings.Repeat("x", 1024)) // a thin payment event is well under 1 KiB
	for _, bc := range []struct {
		name    string
		secrets []string
	}{
		{"hmac", []string{vectorSecret}},
		{"hmac-rotation", []string{vectorSecret, otherSecret}},
		{"ed25519", []string{svixPrivateKey}},
	} {
		s := mustSigner(b, bc.secrets...)
		b.Run(bc.name+"/append", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			dst := make([]byte, 0, s.SignatureLen())
			for b.Loop() {
				dst = s.AppendSignature(dst[:0], vectorID, vectorTimestamp, body)
			}
		})
		b.Run(bc.name+"/string", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				_ = s.Sign(vectorID, vectorTime, body)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	body := []byte(strings.Repeat("x", 1024))
	for _, bc := range []struct {
		name     string
		signer   []string
		verifier []string
	}{
		{"hmac", []string{vectorSecret}, []string{vectorSecret}},
		// During a rotation the matching key may be the verifier's second.
		{"hmac-rotation", []string{otherSecret}, []string{vectorSecret, otherSecret}},
		{"ed25519", []string{svixPrivateKey}, []string{svixPublicKey}},
	} {
		h := header(vectorID, vectorTimestamp, mustSigner(b, bc.signer...).Sign(vectorID, vectorTime, body))
		v := mustVerifier(b, bc.verifier...)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := v.VerifyAt(vectorTime, body, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// header returns the three webhook-* headers. An optional timestamp string
// replaces the formatted ts, for malformed values.
func header(id string, ts int64, signature string, timestamp ...string) http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderID, id)
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	if len(timestamp) > 0 {
		h.Set(webhook.HeaderTimestamp, timestamp[0])
	}
	h.Set(webhook.HeaderSignature, signature)
	return h
}

func mustSigner(tb testing.TB, secrets ...string) *webhook.Signer {
	tb.Helper()
	s, err := webhook.NewSigner(secrets...)
	if err != nil {
		tb.Fatalf("NewSigner: %v", err)
	}
	return s
}

func mustVerifier(tb testing.TB, secrets ...string) *webhook.Verifier {
	tb.Helper()
	v, err := webhook.NewVerifier(secrets...)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func mustPublicKey(tb testing.TB, private string) string {
	tb.Helper()
	public, err := webhook.PublicKey(private)
	if err != nil {
		tb.Fatalf("PublicKey: %v", err)
	}
	return public
}

// checkErr fails unless err is nil when want is nil, or wraps want and
// mentions msg.
func checkErr(t *testing.T, err, want error, msg string) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("err = %v, want nil", err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("err = %v, want %v", err, want)
	case want != nil && !strings.Contains(err.Error(), msg):
		t.Errorf("err = %q, want it to mention %q", err, msg)
	}
}
