package workspace

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// view resolves paths against one point of the history: the newest
// versions, or those as of a time.
type view struct {
	log *Log
	at  time.Time // zero: newest
}

func (v view) get(id string) (Version, bool) {
	if v.at.IsZero() {
		return v.log.Latest(id)
	}
	return v.log.AsOf(id, v.at)
}

// SplitPath cleans a vault path into its names ("/" is the root).
func SplitPath(p string) ([]string, error) {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil, nil
	}
	names := strings.Split(p[1:], "/")
	for _, n := range names {
		if err := ValidName(n); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// resolve walks from the root to the manifest at names. Each child must
// name its folder as its parent: the server can't graft a subtree
// elsewhere (SECURITY.md A11).
func (v view) resolve(names []string) (Version, error) {
	cur, ok := v.get(RootID(v.log.VaultID))
	if !ok {
		if len(names) == 0 {
			// An empty vault's root exists implicitly.
			return Version{Manifest: &Manifest{ID: RootID(v.log.VaultID), Folder: true}}, nil
		}
		return Version{}, fmt.Errorf("/%s: %w", names[0], ErrNotFound)
	}
	for i, name := range names {
		if !cur.Manifest.Folder {
			return Version{}, fmt.Errorf("/%s: %w", strings.Join(names[:i], "/"), ErrNotFolder)
		}
		child, ok := cur.Manifest.Child(name)
		if !ok {
			return Version{}, fmt.Errorf("/%s: %w", strings.Join(names[:i+1], "/"), ErrNotFound)
		}
		next, ok := v.get(child.ID)
		if !ok || next.Manifest.Parent != cur.Manifest.ID || next.Manifest.Folder != child.Folder {
			return Version{}, fmt.Errorf("%w: /%s is not where its folder says", ErrBadManifest, strings.Join(names[:i+1], "/"))
		}
		cur = next
	}
	return cur, nil
}

// Stat returns the manifest at a path, newest or as of at (zero: newest).
func (w *Vault) Stat(p string, at time.Time) (Version, error) {
	names, err := SplitPath(p)
	if err != nil {
		return Version{}, err
	}
	return view{w.log, at}.resolve(names)
}

// Item is one entry of a listing.
type Item struct {
	Name    string
	ID      string
	Folder  bool
	Size    uint64
	Version uint64
	Updated time.Time
	Author  string // user id
}

// List lists a folder (or describes one file), newest or as of at.
func (w *Vault) List(p string, at time.Time) ([]Item, error) {
	v := view{w.log, at}
	cur, err := w.Stat(p, at)
	if err != nil {
		return nil, err
	}
	item := func(name string, ver Version) Item {
		return Item{Name: name, ID: ver.Manifest.ID, Folder: ver.Manifest.Folder, Size: ver.Manifest.Size,
			Version: ver.Version, Updated: ver.Time, Author: ver.User}
	}
	if !cur.Manifest.Folder {
		return []Item{item(path.Base(path.Clean("/"+p)), cur)}, nil
	}
	var out []Item
	for _, c := range cur.Manifest.Children {
		ver, ok := v.get(c.ID)
		if !ok || ver.Manifest.Parent != cur.Manifest.ID {
			return nil, fmt.Errorf("%w: %s is not where its folder says", ErrBadManifest, c.Name)
		}
		out = append(out, item(c.Name, ver))
	}
	return out, nil
}

// History lists every version of the file or folder at a path; for one
// removed from there, ErrRemoved.
func (w *Vault) History(p string) ([]Version, error) {
	cur, err := w.Stat(p, time.Time{})
	if errors.Is(err, ErrNotFound) {
		clean := path.Clean("/" + p)
		removed, _ := w.Trash(p)
		if slices.ContainsFunc(removed, func(r Removed) bool { return r.Path == clean }) {
			return nil, fmt.Errorf("%s: %w: %w", clean, ErrNotFound, ErrRemoved)
		}
	}
	if err != nil {
		return nil, err
	}
	return w.log.History(cur.Manifest.ID), nil
}

// folderFor returns the newest version of the folder at names (the root
// implicitly exists) as a copy to modify.
func folderFor(l *Log, names []string) (*Manifest, error) {
	cur, err := view{log: l}.resolve(names)
	if err != nil {
		return nil, err
	}
	if !cur.Manifest.Folder {
		return nil, fmt.Errorf("/%s: %w", strings.Join(names, "/"), ErrNotFolder)
	}
	m := *cur.Manifest
	m.Children = append([]ChildEntry(nil), cur.Manifest.Children...)
	return &m, nil
}
