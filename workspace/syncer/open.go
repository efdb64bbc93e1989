package syncer

import (
	"fmt"
	"io"
	"os"
)

// openByRoot opens the regular file p (slashes, from the folder) for an
// upload through the root, and describes it as opened: no link above it
// or at it (an Lstat before, the same file after), so that what is read
// is what the scan listed, never a link's target.
func (e *Engine) openByRoot(p string) (io.ReadCloser, *local, error) {
	if err := e.noLinkAbove(p); err != nil {
		return nil, nil, err
	}
	before, err := e.root.Lstat(rel(p))
	if err != nil {
		return nil, nil, err
	}
	f, err := e.root.Open(rel(p))
	if err != nil {
		return nil, nil, err
	}
	info, err := f.Stat()
	if err == nil && !os.SameFile(before, info) {
		err = fmt.Errorf("%s: %w", p, ErrLink) // replaced by a link meanwhile
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, localOf(info), nil
}
