package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

// TestREADMEDocumentsServeFlags: every flag of serve has its row in the
// README's configuration table, with its environment variable: a setting
// nobody can find does not exist.
func TestREADMEDocumentsServeFlags(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for line := range strings.SplitSeq(string(readme), "\n") {
		if strings.HasPrefix(line, "| `--") {
			rows = append(rows, line)
		}
	}
	var cfg serveConfig
	fs := newFlagSet("serve", "", &bytes.Buffer{})
	cfg.register(fs)
	fs.VisitAll(func(f *flag.Flag) {
		flagName, env := "`--"+f.Name+"`", "`"+envName(f.Name)+"`"
		for _, row := range rows {
			if strings.Contains(row, flagName) && strings.Contains(row, env) {
				return
			}
		}
		t.Errorf("README's configuration table has no row for %s with %s", flagName, env)
	})
}
