//go:build !linux

package workspace

import (
	"io"
	"os"
)

// directFile is the O_DIRECT writer of Linux; elsewhere downloads are
// written buffered (writeBehind).
type directFile struct{ io.Writer }

func newDirectFile(*os.File) *directFile { return nil }

func (*directFile) Close() error { return nil }
