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
	all, err := trash(w.log)
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
func trash(l *Log) ([]Removed, error) {
	live := map[string]bool{}
	if err := walkLog(l, func(_ string, v Version) { live[v.Manifest.ID] = true }); err != nil {
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
			var kept map[string]bool // cur's children, made when needed
			for _, c := range prev.Manifest.Children {
				if live[c.ID] {
					continue
				}
				if kept == nil {
					kept = make(map[string]bool, len(cur.Manifest.Children))
					for _, k := range cur.Manifest.Children {
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
				dir, ok := l.pathAt(id, cur.Position-1)
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

// pathAt returns the path of id in the tree as it was after entry pos,
// climbing its parents: each must list it under one name, with the same
// kind, and be listed in turn (SECURITY.md A11's rule, upward).
func (l *Log) pathAt(id string, pos uint64) (string, bool) {
	root := RootID(l.VaultID)
	var names []string
	for depth := 0; id != root; depth++ {
		v, ok := l.atPosition(id, pos)
		if !ok || depth > 4096 {
			return "", false
		}
		parent, ok := l.atPosition(v.Manifest.Parent, pos)
		if !ok || !parent.Manifest.Folder {
			return "", false
		}
		i := slices.IndexFunc(parent.Manifest.Children, func(c ChildEntry) bool { return c.ID == id })
		if i < 0 || parent.Manifest.Children[i].Folder != v.Manifest.Folder {
			return "", false
		}
		names = append(names, parent.Manifest.Children[i].Name)
		id = v.Manifest.Parent
	}
	slices.Reverse(names)
	return "/" + strings.Join(names, "/"), true
}

// walkLog calls fn for every file and folder in the newest tree of l.
func walkLog(l *Log, fn func(p string, v Version)) error {
	w := &Vault{log: l}
	return w.Walk(func(p string, v Version) error { fn(p, v); return nil })
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
		all, err := trash(l)
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
		parent, err := folderFor(l, names[:len(names)-1])
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
		live := map[string]bool{}
		if err := walkLog(l, func(_ string, v Version) { live[v.Manifest.ID] = true }); err != nil {
			return nil, err
		}
		m := *top.Manifest
		m.Parent = parent.ID
		out := []*Manifest{parent, &m}
		if m.Folder {
			out = append(out, l.subtree(&m, bound, live)...)
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
// its folder said then, is dropped from m's listing (m is a copy).
func (l *Log) subtree(m *Manifest, bound uint64, live map[string]bool) []*Manifest {
	var out []*Manifest
	kept := m.Children[:0:0]
	for _, c := range m.Children {
		v, ok := l.atPosition(c.ID, bound)
		if live[c.ID] || !ok || v.Manifest.Parent != m.ID || v.Manifest.Folder != c.Folder {
			continue
		}
		kept = append(kept, c)
		child := *v.Manifest
		latest, _ := l.Latest(c.ID)
		write := latest.Version != v.Version
		var sub []*Manifest
		if child.Folder {
			sub = l.subtree(&child, bound, live)
			write = write || len(child.Children) != len(v.Manifest.Children) // its listing lost a child
		}
		if write {
			out = append(out, &child)
		}
		out = append(out, sub...)
	}
	m.Children = kept
	return out
}
