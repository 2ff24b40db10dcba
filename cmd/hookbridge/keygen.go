package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hookbridge/hookbridge/sealed"
)

func runKeygen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keygen", "Print a new random key for --secret-key (HOOKBRIDGE_SECRET_KEY): base64 of 32 bytes.\n\nKeep it apart from the database (without it the stored secrets cannot be\nread), and start serve with it:\n\n    (umask 077; hookbridge keygen > hookbridge.key)\n    HOOKBRIDGE_SECRET_KEY=$(cat hookbridge.key) hookbridge serve\n\nTo rotate keys, list the new key first and the old one after\n(README: Secrets at rest).", stderr)
	if err := fs.parse(args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, sealed.NewKey())
	return nil
}
