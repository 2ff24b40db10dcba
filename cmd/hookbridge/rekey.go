package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/api"
	"github.com/hookbridge/hookbridge/sealed"
	"github.com/hookbridge/hookbridge/sqlite"
	"github.com/hookbridge/hookbridge/ui"
)

// rekeyPoll is how often rekey looks whether a running server has
// resealed under the new key.
const rekeyPoll = 250 * time.Millisecond

const rekeySynopsis = `Seal every secret stored in the database again under a new key, with no downtime.

On SQLite with the key in its key file (the default: the database's path
followed by ` + keyFileSuffix + `), rekey makes a new key and writes the key file as
"new,old", so that both open. A running serve follows the file: it seals
every secret again with the new key and scrubs the old values from the
database file (without a running serve, rekey does it). Once nothing is left
under the old key, rekey leaves only the new key in the key file. Copy the
new key file to your secret manager then.

With --secret-key, or on PostgreSQL (where every instance is given the key),
give the list "new,old": rekey seals every secret again with the first key,
and says whether any is left under another, that is whether the old key may
be dropped. With several instances: give every instance "old,new" first
(restart, or change their key file), then "new,old", then run rekey, then
give them "new" alone (README: Secrets at rest).

The dashboard's session key and the portal token key are sealed again like
every secret, and kept: sessions and portal links live on. With
--rotate-signing-keys rekey replaces them with new random keys, so that a
copy of the old ones (taken with the old key) signs nothing any more: every
dashboard session and portal link ends, and users sign in again. Use it
when the old key may have leaked. A running server reads these keys at
start only: on SQLite stop serve first (rekey refuses while it runs); on
PostgreSQL restart every instance after rekey.`

func runRekey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		db, secretKey, keyFile string
		wait                   time.Duration
		rotate                 bool
	)
	fs := newFlagSet("rekey", rekeySynopsis, stderr)
	fs.String(&db, "db", defaultDB, "database: a SQLite file path, or a postgres:// URL")
	fs.Secret(&secretKey, "secret-key", "the key `list` \"new,old\" to seal under the first of (as serve's --secret-key); prefer the environment variable, which ps does not show")
	fs.String(&keyFile, "secret-key-file", "", "the key `file` (as serve's --secret-key-file); default on SQLite: the database's path followed by "+keyFileSuffix)
	fs.Duration(&wait, "wait", time.Minute, "how long to wait for a running serve to seal the secrets under the new key")
	fs.Bool(&rotate, "rotate-signing-keys", false, "also replace the dashboard session key and the portal token key: every session and portal link ends (on SQLite, stop serve first; on PostgreSQL, restart every instance after)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if !isPostgres(db) {
		if _, err := os.Stat(db); err != nil {
			return fmt.Errorf("--db: %w", err)
		}
	}
	src, err := resolveKeys(db, secretKey, keyFile, false)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if rotate && !isPostgres(db) {
		if err := signingKeysReplaceable(ctx, db, src, logger); err != nil {
			return err
		}
	}
	if src.file == "" || isPostgres(db) {
		return rekeyList(ctx, db, src, rotate, stdout, logger)
	}
	return rekeyFile(ctx, db, src, wait, rotate, stdout, logger)
}

// signingKeysReplaceable checks, before anything changes, that no serve
// runs on the SQLite database at db: it would go on signing and accepting
// with the keys it read at start, so that replacing them under it would
// end nothing until it restarts, and then end the sessions it had made
// since.
func signingKeysReplaceable(ctx context.Context, db string, src keySetup, logger *slog.Logger) error {
	keys, err := sealed.ParseKeys(src.list)
	if err != nil || keys == nil {
		return usageError("--secret-key: no key list in %q", src.list)
	}
	st, err := openUnlocked(ctx, db, keys, logger, "--rotate-signing-keys: serve is running on "+db+
		", and holds the signing keys it read at start: stop it, run rekey --rotate-signing-keys, then start it again (nothing was changed)")
	if err != nil {
		return err
	}
	return st.Close()
}

// openUnlocked opens db for rekey; a SQLite database a running serve
// holds is an error that goes on with locked, which says what to do.
func openUnlocked(ctx context.Context, db string, keys *sealed.Keyring, logger *slog.Logger, locked string) (hookbridge.Store, error) {
	st, err := openStore(ctx, db, false, keys, logger)
	if errors.Is(err, sqlite.ErrLocked) {
		return nil, fmt.Errorf("%w: %s", err, locked)
	}
	return st, err
}

// rotateSigningKeys replaces the dashboard's session key and the portal
// token key with new random ones, sealed with st's current key.
func rotateSigningKeys(ctx context.Context, st hookbridge.SettingStore) error {
	if err := ui.RotateSessionKey(ctx, st); err != nil {
		return err
	}
	return api.RotatePortalTokenKey(ctx, st)
}

// signingKeysRotated is what rekey says after rotateSigningKeys.
const signingKeysRotated = "Replaced the dashboard session key and the portal token key: every dashboard session and portal link " +
	"made before ends once the servers read the new keys, at their next start (users sign in again, portal links are issued again).\n"

// rekeyList seals every secret of db under the first key of the list
// the operator gave, and says whether any is left under another.
func rekeyList(ctx context.Context, db string, src keySetup, rotate bool, stdout io.Writer, logger *slog.Logger) error {
	keys, err := sealed.ParseKeys(src.list)
	if err != nil {
		return usageError("--secret-key: %v", err)
	}
	if keys == nil {
		return usageError("--secret-key: no key in %q; give the list \"new,old\"", src.list)
	}
	if len(keys.IDs()) < 2 {
		logger.Warn("the key list has one key: secrets under any other key cannot be opened; give \"new,old\" to move them to the new key")
	}
	st, err := openUnlocked(ctx, db, keys, logger, "keys given with --secret-key cannot reach a running serve; restart it with the list \"new,old\" (it seals again at start), "+
		"or keep the keys in a key file (--secret-key-file), which serve follows, and run rekey with that")
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Reseal(ctx)
	if err != nil {
		return fmt.Errorf("%w; list the key that sealed it after the new one", err)
	}
	if rotate {
		if err := rotateSigningKeys(ctx, st); err != nil {
			return err
		}
	}
	if sc, ok := st.(scrubber); ok {
		if err := sc.Scrub(ctx); err != nil {
			return err
		}
	}
	stale, err := st.StaleSecrets(ctx)
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sealed %d %s of %s again with key %s.\n", n, plural(n, "row", "rows"), redactDSN(db), keys.CurrentID())
	if rotate {
		fmt.Fprint(stdout, signingKeysRotated)
	}
	if stale > 0 {
		return fmt.Errorf("%d %s still sealed with another key (by an instance whose current key is still the old one?): drop no key yet; "+
			"run rekey again once every instance lists key %s first", stale, plural(stale, "row is", "rows are"), keys.CurrentID())
	}
	fmt.Fprintf(stdout, "Every stored secret is sealed with key %s: the other keys of the list open nothing in the database any more, "+
		"and may be dropped once every instance lists it first.\n", keys.CurrentID())
	return nil
}

// rekeyFile rotates the key of a SQLite database whose key is in a key
// file: a new key, listed first in the file; every secret sealed again
// with it, by the running serve (which follows the file) or by rekey
// itself; then the new key alone in the file. At every step the file
// lists a key for every secret stored.
func rekeyFile(ctx context.Context, db string, src keySetup, wait time.Duration, rotate bool, stdout io.Writer, logger *slog.Logger) error {
	newKey := sealed.NewKey()
	only, _ := sealed.ParseKeys(newKey)
	both := newKey + "," + src.list
	bothKeys, err := sealed.ParseKeys(both)
	if err != nil {
		return err
	}
	if err := replaceKeyFile(src.file, both); err != nil {
		return err
	}
	file := absPath(src.file)

	skipped := false // the signing keys were to be replaced, and were not
	st, err := openStore(ctx, db, false, bothKeys, logger)
	switch {
	case err == nil:
		_, err = st.Reseal(ctx)
		if err == nil && rotate {
			err = rotateSigningKeys(ctx, st)
		}
		if err == nil {
			err = st.(scrubber).Scrub(ctx)
		}
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%w (the key file %s lists the new key and the old ones: nothing is lost)", err, file)
		}
	case errors.Is(err, sqlite.ErrLocked):
		skipped = rotate // serve started since signingKeysReplaceable
		rotate = false
		fmt.Fprintf(stdout, "serve is running on %s: waiting for it to seal the secrets with the new key %s (up to %v)\n", db, only.CurrentID(), wait)
		if err := waitResealed(ctx, db, only, wait); err != nil {
			return fmt.Errorf("%w; the key file %s lists the new key first and the old ones after, so nothing is lost: "+
				"see serve's log (a serve older than this command does not follow its key file: restart it), then run rekey again", err, file)
		}
	default:
		return fmt.Errorf("%w (the key file %s lists the new key and the old ones: nothing is lost)", err, file)
	}
	if n, _, err := sqlite.StaleSecrets(ctx, db, only); err != nil || n != 0 {
		return fmt.Errorf("%d secrets are not under the new key (%v); the key file %s keeps the old keys", n, err, file)
	}
	if err := replaceKeyFile(src.file, newKey); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Every stored secret of %s is sealed with the new key %s, and the old values are scrubbed from the database file.\n"+
		"The key file %s holds only the new key: copy it to your secret manager. The old key opens nothing in the database any more,\n"+
		"but still opens the backups made before: keep it as long as them.\n", db, only.CurrentID(), file)
	if rotate {
		fmt.Fprint(stdout, signingKeysRotated)
	}
	if skipped {
		return fmt.Errorf("serve started on %s during rekey: the signing keys were not replaced; stop it and run rekey --rotate-signing-keys again", db)
	}
	return nil
}

// waitResealed waits until no secret of the SQLite database at db is
// left under another key than keys', and the former values are scrubbed
// from the file (a running serve does both when its key file changes),
// for up to wait.
func waitResealed(ctx context.Context, db string, keys *sealed.Keyring, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(rekeyPoll)
	defer tick.Stop()
	for {
		n, scrubbing, err := sqlite.StaleSecrets(ctx, db, keys)
		if err == nil && n == 0 && !scrubbing {
			return nil
		}
		select {
		case <-ctx.Done():
			switch {
			case err != nil:
			case n > 0:
				err = fmt.Errorf("%d %s not sealed with the new key after %v", n, plural(n, "row is", "rows are"), wait)
			default:
				err = fmt.Errorf("the old values are not scrubbed from the database file after %v", wait)
			}
			return err
		case <-tick.C:
		}
	}
}
