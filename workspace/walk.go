package workspace

import (
	"context"
	"fmt"
	"path"
	"time"
)

// Walk calls fn for every file and folder under the root, parents before
// children, with its vault path ("/a/b") and newest version.
func (w *Vault) Walk(fn func(p string, v Version) error) error {
	return w.view(context.Background(), w.log, time.Time{}).walk(fn)
}

// walk calls fn for every file and folder of the view's tree, parents
// before children.
func (v view) walk(fn func(p string, v Version) error) error {
	var walk func(p string, dir Version) error
	walk = func(p string, dir Version) error {
		children, err := v.children(dir.Manifest)
		if err != nil {
			return err
		}
		for _, c := range children {
			child, ok := v.get(c.ID)
			if !ok || child.Manifest.Parent != dir.Manifest.ID || child.Manifest.Folder != c.Folder {
				return fmt.Errorf("%w: %s is not where its folder says", ErrBadManifest, path.Join(p, c.Name))
			}
			cp := path.Join(p, c.Name)
			if err := fn(cp, child); err != nil {
				return err
			}
			if child.Manifest.Folder {
				if err := walk(cp, child); err != nil {
					return err
				}
			}
		}
		return nil
	}
	root, err := v.resolve(nil)
	if err != nil {
		return err
	}
	return walk("/", root)
}
