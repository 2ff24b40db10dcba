package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the binary that hookbridgeBinary built, if any, once
// every test of the package has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
