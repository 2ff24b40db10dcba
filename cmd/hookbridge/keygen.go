package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hookbridge/hookbridge/sealed"
)

func runKeygen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keygen", "Print a new random key for --secret-key (HOOKBRIDGE_SECRET_KEY) or a key file\n"+
		"(--secret-key-file): base64 of 32 bytes.\n\n"+
		"On SQLite, serve makes its key file by itself on first start. On PostgreSQL, give\n"+
		"every instance the same key:\n\n"+
		"    (umask 077; hookbridge keygen > hookbridge.key)\n"+
		"    hookbridge serve --db postgres://… --secret-key-file hookbridge.key\n\n"+
		"Keep it apart from the database and its backups, in a secret manager: without it\n"+
		"the stored secrets cannot be read. To rotate keys: hookbridge rekey\n"+
		"(README: Secrets at rest).", stderr)
	if err := fs.parse(args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, sealed.NewKey())
	return nil
}
