package workspace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/certificate"
)

// Mkdir creates a folder; parents must exist.
func (w *Vault) Mkdir(ctx context.Context, p string) error {
	names, err := SplitPath(p)
	if err != nil || len(names) == 0 {
		return fmt.Errorf("mkdir %q: %w", p, errors.Join(err, ErrExists))
	}
	return w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		parent, err := w.view(ctx, l, time.Time{}).folderFor(names[:len(names)-1])
		if err != nil {
			return nil, err
		}
		name := names[len(names)-1]
		if _, taken := parent.Child(name); taken {
			return nil, fmt.Errorf("%s: %w", p, ErrExists)
		}
		dir := &Manifest{ID: certificate.NewID(), Parent: parent.ID, Folder: true}
		parent.Children = append(parent.Children, ChildEntry{Name: name, ID: dir.ID, Folder: true})
		sortChildren(parent.Children)
		return []*Manifest{parent, dir}, nil
	})
}

// MkdirAll creates a folder and the parents it lacks, in one commit; a
// folder that exists already is no error, a file in the way is
// (ErrNotFolder).
func (w *Vault) MkdirAll(ctx context.Context, p string) error {
	names, err := SplitPath(p)
	if err != nil {
		return err
	}
	if cur, err := w.Stat(p, time.Time{}); err == nil && cur.Manifest.Folder {
		return nil // nothing to write
	}
	return w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		parent, err := w.view(ctx, l, time.Time{}).folderFor(nil)
		if err != nil {
			return nil, err
		}
		var changed []*Manifest
		for i, name := range names {
			if c, ok := parent.Child(name); ok {
				if !c.Folder {
					return nil, fmt.Errorf("/%s: %w", strings.Join(names[:i+1], "/"), ErrNotFolder)
				}
				if parent, err = w.view(ctx, l, time.Time{}).folderFor(names[:i+1]); err != nil {
					return nil, err
				}
				continue
			}
			dir := &Manifest{ID: certificate.NewID(), Parent: parent.ID, Folder: true}
			parent.Children = append(parent.Children, ChildEntry{Name: name, ID: dir.ID, Folder: true})
			sortChildren(parent.Children)
			changed = append(changed, parent)
			parent = dir
		}
		if len(changed) > 0 {
			changed = append(changed, parent) // the last folder made
		}
		return changed, nil
	})
}

// Remove removes a file or an empty folder from its parent. Every version
// stays in the log: `get --at` a date before the removal reads it back.
func (w *Vault) Remove(ctx context.Context, p string) error { return w.remove(ctx, p, nil, false) }

// RemoveAll removes a file, or a folder with everything in it, in one
// commit: the folder leaves its parent, and what it holds goes with it
// (every version stays in the log, as with Remove).
func (w *Vault) RemoveAll(ctx context.Context, p string) error { return w.remove(ctx, p, nil, true) }

// RemoveIf removes p only if it is still the given version (sync uses it
// so that a remote edit made meanwhile is never deleted unseen); nil means
// whatever version is there.
func (w *Vault) RemoveIf(ctx context.Context, p string, expect *Version) error {
	return w.remove(ctx, p, expect, false)
}

func (w *Vault) remove(ctx context.Context, p string, expect *Version, recursive bool) error {
	names, err := SplitPath(p)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("the root folder can't be removed")
	}
	return w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		target, err := w.view(ctx, l, time.Time{}).resolve(names)
		if err != nil {
			return nil, err
		}
		if expect != nil && (target.Manifest.ID != expect.Manifest.ID || target.Version != expect.Version) {
			return nil, fmt.Errorf("%s: %w", p, ErrWriteConflict)
		}
		if !recursive && target.Manifest.Folder && target.Manifest.entryCount() > 0 {
			return nil, fmt.Errorf("%s: %w", p, ErrNotEmpty)
		}
		parent, err := w.view(ctx, l, time.Time{}).folderFor(names[:len(names)-1])
		if err != nil {
			return nil, err
		}
		name := names[len(names)-1]
		kept := parent.Children[:0]
		for _, c := range parent.Children {
			if c.Name != name {
				kept = append(kept, c)
			}
		}
		parent.Children = kept
		return []*Manifest{parent}, nil
	})
}

// Move renames or moves a file or folder.
func (w *Vault) Move(ctx context.Context, from, to string) error {
	src, err := SplitPath(from)
	if err != nil {
		return err
	}
	dst, err := SplitPath(to)
	if err != nil {
		return err
	}
	if len(src) == 0 || len(dst) == 0 {
		return errors.New("the root folder can't be moved")
	}
	if len(dst) > len(src) && strings.Join(dst[:len(src)], "/") == strings.Join(src, "/") {
		return errors.New("can't move a folder into itself")
	}
	return w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		target, err := w.view(ctx, l, time.Time{}).resolve(src)
		if err != nil {
			return nil, err
		}
		oldParent, err := w.view(ctx, l, time.Time{}).folderFor(src[:len(src)-1])
		if err != nil {
			return nil, err
		}
		newParent := oldParent
		if strings.Join(src[:len(src)-1], "/") != strings.Join(dst[:len(dst)-1], "/") {
			if newParent, err = w.view(ctx, l, time.Time{}).folderFor(dst[:len(dst)-1]); err != nil {
				return nil, err
			}
		}
		if _, taken := newParent.Child(dst[len(dst)-1]); taken {
			return nil, fmt.Errorf("%s: %w", to, ErrExists)
		}
		var entry ChildEntry
		kept := oldParent.Children[:0]
		for _, c := range oldParent.Children {
			if c.Name == src[len(src)-1] {
				entry = c
			} else {
				kept = append(kept, c)
			}
		}
		oldParent.Children = kept
		entry.Name = dst[len(dst)-1]
		newParent.Children = append(newParent.Children, entry)
		sortChildren(newParent.Children)
		out := []*Manifest{oldParent}
		if newParent != oldParent {
			moved := *target.Manifest
			moved.Parent = newParent.ID
			out = append(out, newParent, &moved)
		}
		return out, nil
	})
}

// Restore makes an old version of a file current again, as a new version.
func (w *Vault) Restore(ctx context.Context, p string, version uint64) error {
	return w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		names, err := SplitPath(p)
		if err != nil {
			return nil, err
		}
		cur, err := w.view(ctx, l, time.Time{}).resolve(names)
		if err != nil {
			return nil, err
		}
		// Quarantined versions (SPEC.md §11.5) leave gaps in the numbers.
		hist := l.History(cur.Manifest.ID)
		i := slices.IndexFunc(hist, func(v Version) bool { return v.Version == version })
		if i < 0 {
			return nil, fmt.Errorf("%s has versions 1 to %d, not v%d: %w", p, l.NextVersion(cur.Manifest.ID)-1, version, ErrNoVersion)
		}
		old := *hist[i].Manifest
		old.Parent = cur.Manifest.Parent // it stays where it is now
		if old.Folder {
			return nil, errors.New("only files are restored; restore a folder's files one by one")
		}
		return []*Manifest{&old}, nil
	})
}
