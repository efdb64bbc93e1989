package syncer

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"sort"
	"time"

	"github.com/coffre/coffre/workspace"
)

// followMoves settles the files both sides moved, each to its own place.
// Sync carries a move as a deletion and a creation (SPEC.md §12), so when
// this device and another moved the same file (or a folder holding it)
// to different places, the file would otherwise end up in both: uploaded
// from here at the local place, downloaded at the vault's.
//
// A file moved on both sides is a base gone from the folder and gone or
// changed in the vault, whose bytes are both in a local file new to the
// journal and in a vault file new to it. The vault's place wins, as the
// vault's version takes the name in a conflict: the local file is renamed
// there and recorded as agreed. Nothing is lost (the bytes are the base's, now at
// the vault's place), and nothing is sent. A file edited during its move
// is not the base's bytes: it syncs as before, both kept.
//
// The maps are updated so that the rest of the cycle sees the file at its
// new place only. A file that can't be read or moved is left to the rest
// of the cycle, which reports it or syncs it as before.
func (e *Engine) followMoves(ctx context.Context, v *workspace.Vault, bases map[string]Base, locals map[string]*local, remotes map[string]*remote, blocked map[string]error, res *Result) {
	free := func(p string) bool { _, ok := blockedBy(blocked, p); return !ok }
	// Bases gone here and gone or changed there, by size: the only
	// candidates, and rare. (Changed: the other device's move left an
	// edit made meanwhile at the old place, which this cycle downloads.)
	gone := map[int64][]string{}
	for p, b := range bases {
		if !b.Folder && locals[p] == nil && remoteChanged(&b, remotes[p]) && free(p) {
			gone[b.Size] = append(gone[b.Size], p)
		}
	}
	if len(gone) == 0 {
		return
	}
	var arrived []string            // vault files new to the journal, absent here
	created := map[int64][]string{} // local files new to the journal, absent there
	for p, r := range remotes {
		if _, ok := bases[p]; !ok && !r.folder() && locals[p] == nil && free(p) && gone[int64(r.version.Manifest.Size)] != nil {
			arrived = append(arrived, p)
		}
	}
	for p, l := range locals {
		if _, ok := bases[p]; !ok && !l.folder && remotes[p] == nil && free(p) && gone[l.size] != nil {
			created[l.size] = append(created[l.size], p)
		}
	}
	if len(arrived) == 0 || len(created) == 0 {
		return
	}
	sort.Strings(arrived)
	for _, list := range gone {
		sort.Strings(list)
	}
	for _, list := range created {
		sort.Strings(list)
	}
	used := map[string]bool{}
	for _, to := range arrived {
		r := remotes[to]
		size := int64(r.version.Manifest.Size)
		from, was := e.sameMove(v, to, r, gone[size], created[size], bases, locals, used)
		if from == "" {
			continue
		}
		used[from], used[was] = true, true
		to, r = e.keepRename(ctx, v, from, was, to, r, locals, remotes, blocked)
		if err := e.moveTo(from, to, r, locals, bases, res); err != nil {
			// Left as it was: the cycle uploads it, both kept.
			e.logf("%s moved on both sides, not moved to %s: %v", from, to, err)
		}
	}
}

// keepRename carries this device's rename of a file whose folder another
// device moved: the vault's place wins, but if only this device changed
// the file's name (base was, local from, vault to), the vault's file takes
// that name in its folder, and that is where the local file goes. It
// returns the place and its version: to and r if the name is not this
// device's, or can't be given (taken, or not portable).
func (e *Engine) keepRename(ctx context.Context, v *workspace.Vault, from, was, to string, r *remote, locals map[string]*local, remotes map[string]*remote, blocked map[string]error) (string, *remote) {
	name := path.Base(from)
	if name == path.Base(was) || path.Base(to) != path.Base(was) {
		return to, r
	}
	dest := path.Join(path.Dir(to), name)
	if _, ok := blockedBy(blocked, dest); ok || remotes[dest] != nil || !nameFree(dest, from, locals, remotes) {
		return to, r
	}
	if err := v.Move(ctx, "/"+to, "/"+dest); err != nil {
		e.logf("%s was moved on both sides, not renamed to %s in the vault: %v", from, dest, err)
		return to, r
	}
	ver, err := v.Stat("/"+dest, time.Time{})
	if err != nil {
		return to, r // the next cycle finds the vault's file at its new name
	}
	moved := &remote{version: ver}
	delete(remotes, to)
	remotes[dest] = moved
	e.logf("%s was moved on both sides: renamed %s to %s in the vault, as here", from, to, name)
	return dest, moved
}

// nameFree reports whether p is a portable name that folds onto no path
// either side has but self (names.go).
func nameFree(p, self string, locals map[string]*local, remotes map[string]*remote) bool {
	if portable(path.Base(p)) != nil {
		return false
	}
	f := foldPath(p)
	for q := range locals {
		if q != self && foldPath(q) == f {
			return false
		}
	}
	for q := range remotes {
		if foldPath(q) == f {
			return false
		}
	}
	return true
}

// sameMove finds, for the vault file r at to, a base gone on both sides
// (among gone) and a new local file (among created) that both hold r's
// bytes. Empty files must also have one name: all empty files hold the
// same bytes, so that alone is no sign of a move.
func (e *Engine) sameMove(v *workspace.Vault, to string, r *remote, gone, created []string, bases map[string]Base, locals map[string]*local, used map[string]bool) (from, was string) {
	empty := r.version.Manifest.Size == 0
	name := path.Base(to)
	for _, p := range created {
		if used[p] || empty && path.Base(p) != name {
			continue
		}
		l := locals[p]
		if c, err := e.content(v, p, r.version.KeyIndex, l); err != nil || c != r.content() {
			continue
		}
		for _, g := range gone {
			if used[g] || empty && path.Base(g) != name {
				continue
			}
			b := bases[g]
			index, ok := baseKeyIndex(v, &b)
			if !ok {
				continue
			}
			if c, err := e.content(v, p, index, l); err == nil && c == b.Content {
				return p, g
			}
		}
	}
	return "", ""
}

// moveTo renames the local file from to the vault's place to, if it did
// not change since the scan and nothing is at to, and records it as agreed.
func (e *Engine) moveTo(from, to string, r *remote, locals map[string]*local, bases map[string]Base, res *Result) error {
	l := locals[from]
	if err := e.noLinkAbove(from); err != nil {
		return err
	}
	now, err := e.stat(from)
	if err != nil {
		return err
	}
	if now.folder || now.size != l.size || now.mtimeNs != l.mtimeNs {
		return errors.New("changed since the scan")
	}
	if from != to { // else where the vault has it already (keepRename)
		if _, err := e.root.Lstat(rel(to)); !errors.Is(err, fs.ErrNotExist) {
			return errors.New("the place is taken")
		}
		if dir := path.Dir(to); dir != "." {
			if err := e.mkdirAll(dir); err != nil {
				return err
			}
		} else if err := e.noLinkAbove(to); err != nil {
			return err
		}
		if err := e.root.Rename(rel(from), rel(to)); err != nil {
			return err
		}
	}
	got, err := e.stat(to)
	if err != nil {
		return err
	}
	got.content = l.content
	b := baseOf(r, got, r.content())
	if err := e.Journal.Set(to, b); err != nil {
		return err
	}
	delete(locals, from)
	locals[to] = got
	bases[to] = *b
	res.Moved++
	res.Changes = append(res.Changes, Change{Op: Moved, Path: to, From: from})
	e.logf("%s was moved on both sides: moved to %s, where the vault has it", from, to)
	return nil
}

// holdBackMoves keeps out of this cycle's deletions each vault file
// deleted here whose bytes are in a local file new to the journal that the
// cycle did not upload (the upload failed, or the file is settling): a
// move whose creation did not land. Carried alone, the deletion would
// leave the bytes in no place the vault knows, and a device that moved the
// same file elsewhere meanwhile could not recognise the move
// (followMoves): it would upload a second copy. A later cycle carries both
// halves. Empty files are not held (every one has the same bytes), nor
// moves to a name that is never synced. It returns the deletions left, and
// those held.
func (e *Engine) holdBackMoves(v *workspace.Vault, deletions []string, bases map[string]Base, locals map[string]*local, remotes map[string]*remote, blocked map[string]error, res *Result) ([]string, map[string]bool) {
	var deleted []string
	for _, p := range deletions {
		if b := bases[p]; locals[p] == nil && remotes[p] != nil && !b.Folder && b.Size > 0 {
			deleted = append(deleted, p)
		}
	}
	if len(deleted) == 0 {
		return deletions, nil
	}
	uploaded := map[string]bool{}
	for _, c := range res.Changes {
		if c.Op == Uploaded {
			uploaded[c.Path] = true
		}
	}
	waiting := map[int64][]string{} // new local files not uploaded, by size
	for p, l := range locals {
		if _, ok := bases[p]; !ok && !l.folder && remotes[p] == nil && !uploaded[p] {
			if _, ok := blockedBy(blocked, p); !ok {
				waiting[l.size] = append(waiting[l.size], p)
			}
		}
	}
	held := map[string]bool{}
	for _, p := range deleted {
		b := bases[p]
		if len(waiting[b.Size]) == 0 {
			continue
		}
		index, ok := baseKeyIndex(v, &b)
		if !ok {
			continue
		}
		for _, w := range waiting[b.Size] {
			if c, err := e.content(v, w, index, locals[w]); err == nil && c == b.Content {
				held[p] = true
				res.Pending++
				e.logf("%s was moved to %s, not uploaded yet: kept in the vault until it is", p, w)
				break
			}
		}
	}
	if len(held) == 0 {
		return deletions, nil
	}
	kept := deletions[:0]
	for _, p := range deletions {
		if !held[p] {
			kept = append(kept, p)
		}
	}
	return kept, held
}
