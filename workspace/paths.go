package workspace

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// view resolves paths against one point of the history: the newest
// versions, or those as of a time. It reads the pages of folders in pages
// (SPEC.md §11.3.1) as it needs them, under ctx.
type view struct {
	log   *Log
	at    time.Time // zero: newest
	ctx   context.Context
	pages *pageReader
}

// view returns a view of l as of at (zero: newest).
func (w *Vault) view(ctx context.Context, l *Log, at time.Time) view {
	return view{log: l, at: at, ctx: ctx, pages: w.pages}
}

// children returns a folder's children, sorted by name, reading all its
// pages if it is in pages; the caller must not modify them.
func (v view) children(m *Manifest) ([]ChildEntry, error) {
	if m.Pages == nil {
		return m.Children, nil
	}
	if v.pages == nil {
		panic("workspace: internal error: a view without a page reader")
	}
	return v.pages.all(v.ctx, m)
}

// child returns the child of a folder with that name, reading only the
// page the name belongs in if the folder is in pages.
func (v view) child(m *Manifest, name string) (ChildEntry, bool, error) {
	if m.Pages == nil {
		c, ok := m.Child(name)
		return c, ok, nil
	}
	if v.pages == nil {
		panic("workspace: internal error: a view without a page reader")
	}
	page, err := v.pages.page(v.ctx, m.ID, m.Pages, pageOf(name, m.Pages))
	if err != nil {
		return ChildEntry{}, false, err
	}
	for _, c := range page {
		if c.Name == name {
			return c, true, nil
		}
	}
	return ChildEntry{}, false, nil
}

// entryCount is the number of a folder's children.
func (m *Manifest) entryCount() int {
	if m.Pages == nil {
		return len(m.Children)
	}
	n := 0
	for _, p := range m.Pages {
		n += int(p.Entries)
	}
	return n
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
		child, ok, err := v.child(cur.Manifest, name)
		if err != nil {
			return Version{}, err
		}
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
// Its pages fetched, a folder in pages reads no more than the page of each
// name on the way.
func (w *Vault) Stat(p string, at time.Time) (Version, error) {
	names, err := SplitPath(p)
	if err != nil {
		return Version{}, err
	}
	return w.view(context.Background(), w.log, at).resolve(names)
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
	v := w.view(context.Background(), w.log, at)
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
	children, err := v.children(cur.Manifest)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, c := range children {
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

// folderFor returns the folder at names (the root implicitly exists) as a
// copy to modify, its children read: commit writes it in pages again if
// it has more than PageEntries (pageFolders).
func (v view) folderFor(names []string) (*Manifest, error) {
	cur, err := v.resolve(names)
	if err != nil {
		return nil, err
	}
	if !cur.Manifest.Folder {
		return nil, fmt.Errorf("/%s: %w", strings.Join(names, "/"), ErrNotFolder)
	}
	children, err := v.children(cur.Manifest)
	if err != nil {
		return nil, err
	}
	m := *cur.Manifest
	m.Children, m.Pages = slices.Clone(children), nil
	return &m, nil
}
