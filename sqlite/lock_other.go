//go:build !unix

package sqlite

import "os"

// lockFile opens path without locking it: on systems without flock, running
// one instance per database file is left to the operator.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
