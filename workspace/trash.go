package workspace

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"
)

// Removed is one entry of a vault's trash: a file or folder removed and
// not brought back, derived from verified versions only (SPEC.md §11.6
// "Trash"): the signed version of its folder that no longer lists it
// says who removed it and when.
type Removed struct {
	Path   string // where it was when it was removed
	ID     string
	Folder bool
	// Version is its newest version before the entry that removed it: a
	// file's content, a folder's listing.
	Version Version
	// By and Device are the user and device that signed the folder
	// version without it; At is that entry's time, Position its place.
	By, Device string
	At         time.Time
	Position   uint64
}

// ErrNotInTrash is returned by Undelete for a path that no removed file
// or folder had.
var ErrNotInTrash = errors.New("nothing removed at that path")

// ErrRemoved is returned by History, with ErrNotFound, for a path whose
// file or folder was removed and is in the trash.
var ErrRemoved = errors.New("it was removed")

// Trash lists what was removed under folder ("/" for the whole vault) and
// is not in the tree now, by path, the newest removal last.
func (w *Vault) Trash(folder string) ([]Removed, error) {
	names, err := SplitPath(folder)
	if err != nil {
		return nil, err
	}
	all, err := w.view(context.Background(), w.log, time.Time{}).trash()
	if err != nil {
		return nil, err
	}
	prefix := "/" + strings.Join(names, "/")
	var out []Removed
	for _, r := range all {
		if len(names) == 0 || r.Path == prefix || strings.HasPrefix(r.Path, prefix+"/") {
			out = append(out, r)
		}
	}
	return out, nil
}

// trash derives the trash from the verified versions: for every folder,
// each child that a version lists and the next one doesn't, where the
// child was not written under another folder in that same entry (a move),
// is a removal; those whose manifest is in the tree now were brought back
// or moved since and are left out, and an item removed by the same entry
// as a folder above it is part of that folder's removal.
func (v view) trash() ([]Removed, error) {
	l := v.log
	live, err := v.live()
	if err != nil {
		return nil, err
	}
	newest := map[string]Removed{} // by manifest id: its latest removal
	for _, id := range slices.Sorted(maps.Keys(l.versions)) {
		vs := l.versions[id]
		if len(vs) == 0 || !vs[0].Manifest.Folder {
			continue
		}
		for i := 1; i < len(vs); i++ {
			prev, cur := vs[i-1], vs[i]
			gone, now, err := v.changedChildren(prev.Manifest, cur.Manifest)
			if err != nil {
				return nil, err
			}
			var kept map[string]bool // cur's children, made when needed
			for _, c := range gone {
				if live[c.ID] {
					continue
				}
				if kept == nil {
					kept = make(map[string]bool, len(now))
					for _, k := range now {
						kept[k.ID] = true
					}
				}
				if kept[c.ID] {
					continue
				}
				child, ok := l.atPosition(c.ID, cur.Position)
				if !ok || child.Manifest.Parent != id || child.Manifest.Folder != c.Folder {
					continue // moved elsewhere in that entry, or never shown here
				}
				dir, ok, err := v.pathAt(id, cur.Position-1)
				if err != nil {
					return nil, err
				}
				before, had := l.atPosition(c.ID, cur.Position-1)
				if !ok || !had {
					continue // its folder was not in the tree then
				}
				r := Removed{Path: path.Join(dir, c.Name), ID: c.ID, Folder: c.Folder, Version: before,
					By: cur.User, Device: cur.Author, At: cur.Time, Position: cur.Position}
				if old, seen := newest[c.ID]; !seen || old.Position < r.Position {
					newest[c.ID] = r
				}
			}
		}
	}
	// Folders removed by each entry, to fold what was under them into
	// their removal.
	folders := map[uint64][]string{}
	for _, r := range newest {
		if r.Folder {
			folders[r.Position] = append(folders[r.Position], r.Path+"/")
		}
	}
	var out []Removed
	for _, r := range newest {
		if !slices.ContainsFunc(folders[r.Position], func(dir string) bool { return strings.HasPrefix(r.Path, dir) }) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Position < out[j].Position
	})
	return out, nil
}

// atPosition returns the newest version of id written at or before
// position pos.
func (l *Log) atPosition(id string, pos uint64) (Version, bool) {
	vs := l.versions[id]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Position <= pos {
			return vs[i], true
		}
	}
	return Version{}, false
}

// changedChildren returns the children of prev and of cur that may
// differ: all of them, or, for two versions in pages, those of the pages
// one has and the other doesn't (a page is immutable under its id and
// digest), so that a folder's history reads each page once.
func (v view) changedChildren(prev, cur *Manifest) (gone, now []ChildEntry, err error) {
	if prev.Pages == nil || cur.Pages == nil {
		if gone, err = v.children(prev); err != nil {
			return nil, nil, err
		}
		now, err = v.children(cur)
		return gone, now, err
	}
	type pageID struct {
		id     string
		digest [32]byte
	}
	side := func(m, other *Manifest) ([]ChildEntry, error) {
		in := map[pageID]bool{}
		for _, p := range other.Pages {
			in[pageID{p.ID, p.Digest}] = true
		}
		var out []ChildEntry
		for i, p := range m.Pages {
			if in[pageID{p.ID, p.Digest}] {
				continue
			}
			page, err := v.pages.page(v.ctx, m.ID, m.Pages, i)
			if err != nil {
				return nil, err
			}
			out = append(out, page...)
		}
		return out, nil
	}
	if gone, err = side(prev, cur); err != nil {
		return nil, nil, err
	}
	now, err = side(cur, prev)
	return gone, now, err
}

// pathAt returns the path of id in the tree as it was after entry pos,
// climbing its parents: each must list it under one name, with the same
// kind, and be listed in turn (SECURITY.md A11's rule, upward).
func (v view) pathAt(id string, pos uint64) (string, bool, error) {
	l := v.log
	root := RootID(l.VaultID)
	var names []string
	for depth := 0; id != root; depth++ {
		ver, ok := l.atPosition(id, pos)
		if !ok || depth > 4096 {
			return "", false, nil
		}
		parent, ok := l.atPosition(ver.Manifest.Parent, pos)
		if !ok || !parent.Manifest.Folder {
			return "", false, nil
		}
		children, err := v.children(parent.Manifest)
		if err != nil {
			return "", false, err
		}
		i := slices.IndexFunc(children, func(c ChildEntry) bool { return c.ID == id })
		if i < 0 || children[i].Folder != ver.Manifest.Folder {
			return "", false, nil
		}
		names = append(names, children[i].Name)
		id = ver.Manifest.Parent
	}
	slices.Reverse(names)
	return "/" + strings.Join(names, "/"), true, nil
}

// live returns the ids of every file and folder in the view's tree.
func (v view) live() (map[string]bool, error) {
	live := map[string]bool{}
	err := v.walk(func(_ string, ver Version) error { live[ver.Manifest.ID] = true; return nil })
	return live, err
}

// Undelete brings back what was removed at p (its newest removal) as new
// signed versions: its folder lists it again and it gets a new version,
// version (0: the one it had when removed). A folder comes back with what
// it held then, recursively, leaving out what is in the tree elsewhere
// now; with version N, with what it held while version N was its newest.
// The folder it was in must exist and the name be free (ErrExists). It
// returns the new version. History is never rewritten (SPEC.md §11.6).
func (w *Vault) Undelete(ctx context.Context, p string, version uint64) (Version, error) {
	names, err := SplitPath(p)
	if err != nil {
		return Version{}, err
	}
	if len(names) == 0 {
		return Version{}, fmt.Errorf("/: %w", ErrNotInTrash)
	}
	want := "/" + strings.Join(names, "/")
	var id string
	err = w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		v := w.view(ctx, l, time.Time{})
		all, err := v.trash()
		if err != nil {
			return nil, err
		}
		var r *Removed
		for i := range all {
			if all[i].Path == want && (r == nil || all[i].Position > r.Position) {
				r = &all[i]
			}
		}
		if r == nil {
			return nil, fmt.Errorf("%s: %w", want, ErrNotInTrash)
		}
		parent, err := v.folderFor(names[:len(names)-1])
		if err != nil {
			return nil, fmt.Errorf("%s: the folder it was in is gone: %w", want, err)
		}
		name := names[len(names)-1]
		if _, taken := parent.Child(name); taken {
			return nil, fmt.Errorf("%s: %w (move it away first)", want, ErrExists)
		}
		top, bound, err := undeleteVersion(l, r, version)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", want, err)
		}
		live, err := v.live()
		if err != nil {
			return nil, err
		}
		m := *top.Manifest
		m.Parent = parent.ID
		out := []*Manifest{parent, &m}
		if m.Folder {
			sub, err := v.subtree(&m, bound, live)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
		parent.Children = append(parent.Children, ChildEntry{Name: name, ID: m.ID, Folder: m.Folder})
		sortChildren(parent.Children)
		id = m.ID
		return out, nil
	})
	if err != nil {
		return Version{}, err
	}
	v, _ := w.log.Latest(id)
	return v, nil
}

// undeleteVersion picks the version of r to bring back and, for a folder,
// the position up to which its children are read: before the removal, or
// before the version that followed version.
func undeleteVersion(l *Log, r *Removed, version uint64) (Version, uint64, error) {
	bound := r.Position - 1
	if version == 0 || version == r.Version.Version {
		return r.Version, bound, nil
	}
	hist := l.History(r.ID)
	i := slices.IndexFunc(hist, func(v Version) bool { return v.Version == version })
	if i < 0 || hist[i].Position >= r.Position {
		return Version{}, 0, fmt.Errorf("no version %d: it had versions 1 to %d", version, r.Version.Version)
	}
	if i+1 < len(hist) {
		bound = min(bound, hist[i+1].Position-1)
	}
	return hist[i], bound, nil
}

// subtree lists what folder m's children need written to be in the tree
// again as they were at position bound: a new version where their newest
// differs from that one. A child in the tree elsewhere now, or not where
// its folder said then, is dropped from m's listing (m is a copy, its
// children read: commit writes it in pages again if it is big).
func (v view) subtree(m *Manifest, bound uint64, live map[string]bool) ([]*Manifest, error) {
	l := v.log
	children, err := v.children(m)
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	kept := make([]ChildEntry, 0, len(children))
	for _, c := range children {
		ver, ok := l.atPosition(c.ID, bound)
		if live[c.ID] || !ok || ver.Manifest.Parent != m.ID || ver.Manifest.Folder != c.Folder {
			continue
		}
		kept = append(kept, c)
		child := *ver.Manifest
		latest, _ := l.Latest(c.ID)
		write := latest.Version != ver.Version
		var sub []*Manifest
		if child.Folder {
			if sub, err = v.subtree(&child, bound, live); err != nil {
				return nil, err
			}
			write = write || len(child.Children) != ver.Manifest.entryCount() // its listing lost a child
		}
		if write {
			out = append(out, &child)
		}
		out = append(out, sub...)
	}
	m.Children, m.Pages = kept, nil
	return out, nil
}
