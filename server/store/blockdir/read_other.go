//go:build !linux

package blockdir

import "os"

// readFile reads the first size bytes of f into b.
func readFile(f *os.File, b []byte, size int) error {
	_, err := f.ReadAt(b[:size], 0)
	return err
}

// readLen is the buffer readFile needs for a file of size bytes.
func readLen(size int) int { return size }
