//go:build !linux

package blockdir

// writeLinked: unnamed files are Linux's (O_TMPFILE); elsewhere a
// temporary name is linked (writeTemp).
func writeLinked(dir, path string, data []byte, gate func() error) error {
	return errNoTmpfile
}
