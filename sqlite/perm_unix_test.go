//go:build unix

package sqlite

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hookbridge/hookbridge"
)

// TestFilesOwnerOnly: every file of a database — the database, its -wal,
// -shm and -lock files, and a backup — is readable and writable by its
// owner only, even with a umask that lets everyone read (0), and a
// database left readable by an older version is made so on open. Not
// parallel: the umask is the process's.
func TestFilesOwnerOnly(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "hookbridge.db")
	modes := func(names ...string) {
		t.Helper()
		for _, name := range names {
			info, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if m := info.Mode().Perm(); m != 0o600 {
				t.Errorf("%s has mode %o, want 600", filepath.Base(name), m)
			}
		}
	}
	s := openAt(t, path)
	if err := s.CreateApplication(ctx, &hookbridge.Application{Name: "Shop"}); err != nil {
		t.Fatal(err)
	}
	modes(path, path+"-wal", path+"-shm", path+"-lock")
	backup := filepath.Join(dir, "copy.db")
	if err := Backup(ctx, path, backup); err != nil {
		t.Fatal(err)
	}
	modes(backup)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// As an older version left them.
	for _, name := range []string{path, path + "-lock", backup} {
		if err := os.Chmod(name, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.WriteFile(path+suffix, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path+suffix, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s = openAt(t, path)
	defer s.Close()
	modes(path, path+"-wal", path+"-shm", path+"-lock")
}
