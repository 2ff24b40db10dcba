package api

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/hookbridge/hookbridge"
)

// IdempotencyKeyHeader names the header that makes a POST idempotent, as in
// Svix's API.
const IdempotencyKeyHeader = "Idempotency-Key"

// maxIdempotencyKey bounds the header's length.
const maxIdempotencyKey = 256

// idempotencyStale is how long a request with a key may run before a retry
// with the same key takes it over, as one whose process died.
const idempotencyStale = time.Minute

// idempotent serves a POST that carries an Idempotency-Key so that a retry
// with the same key is answered as the first request was, instead of doing
// its work again (creating a second application, sending a message twice):
//
//   - the first request with a key runs, and its answer is kept for
//     hookbridge.IdempotencyTTL if it succeeded (2xx); a failure is not
//     kept, so that a corrected retry runs;
//   - a retry gets the kept status and body;
//   - a request with a key whose first request is still running gets 409,
//     and so does one with a key first used for another method or path.
//
// Keys belong to the credential that sent them: the admin key's are one
// set, and each application key (portal token) has its own, so that one
// caller's kept answer is never given to another that happens to reuse
// its key.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(IdempotencyKeyHeader)
		if key == "" {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > maxIdempotencyKey || !printableASCII(key) {
			s.writeError(w, r, hookbridge.Errorf(hookbridge.EBADREQUEST,
				"the %s header must be at most %d printable ASCII characters", IdempotencyKeyHeader, maxIdempotencyKey))
			return
		}
		if access := appAccess(r); access != nil {
			// A token's nonce names it alone; what it holds is not secret
			// from the store, which keeps the token's claims anyway.
			key = "token:" + access.Nonce + ":" + key
		} else if k := requestAPIKey(r); k != nil {
			// An API key's answers are its own: another key, whatever
			// its scope, is not given them.
			key = "apikey:" + k.ID + ":" + key
		}
		now := s.timeNow()
		fingerprint := r.Method + " " + r.URL.Path
		rec, started, err := s.store.BeginIdempotent(r.Context(), key, fingerprint, now,
			now.Add(-idempotencyStale), now.Add(-hookbridge.IdempotencyTTL))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !started {
			switch {
			case rec.Fingerprint != fingerprint:
				s.writeError(w, r, hookbridge.Errorf(hookbridge.ECONFLICT,
					"this %s was used for another request (%s)", IdempotencyKeyHeader, rec.Fingerprint))
			case !rec.Done:
				s.writeError(w, r, hookbridge.Errorf(hookbridge.ECONFLICT,
					"a request with this %s is still being processed; retry later", IdempotencyKeyHeader))
			default:
				if len(rec.Body) > 0 {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(rec.Status)
				_, _ = w.Write(rec.Body)
			}
			return
		}

		kept := &keptResponse{statusRecorder: statusRecorder{ResponseWriter: w}}
		next.ServeHTTP(kept, r)
		// The answer is given; what is kept of it must not depend on the
		// caller staying.
		ctx := context.WithoutCancel(r.Context())
		if kept.status >= 200 && kept.status < 300 {
			err = s.store.FinishIdempotent(ctx, key, kept.status, kept.body.Bytes())
		} else {
			err = s.store.ForgetIdempotent(ctx, key)
		}
		if err != nil {
			// The key stays recorded as running: a retry gets 409 until
			// it is stale, then runs again.
			s.log.Error("idempotency key", "key", key, "err", err)
		}
	})
}

// keptResponse passes a response through and keeps a copy of it.
type keptResponse struct {
	statusRecorder
	body bytes.Buffer
}

func (w *keptResponse) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.statusRecorder.Write(b)
}

func printableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
