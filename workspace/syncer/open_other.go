//go:build !linux

package syncer

import "io"

// openRegular opens the regular file p for an upload (openByRoot).
func (e *Engine) openRegular(p string) (io.ReadCloser, *local, error) { return e.openByRoot(p) }
