//go:build !unix

package sqlite

import "os"

// lockFile opens path without locking it: on systems without flock, running
// one instance per database file is left to the operator.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(filePerm); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
