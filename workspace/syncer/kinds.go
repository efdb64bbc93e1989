package syncer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/coffre/coffre/workspace"
)

// A path whose kind changed on one side only (a file replaced with a
// folder of the same name, or a folder with a file) takes the new kind on
// the other side too (SPEC.md §12). What the other side holds there is
// the base, unchanged: replacing it loses nothing, and keeping it as a
// conflict copy would leave a duplicate of bytes that were deleted, or
// moved elsewhere. A file becomes a folder at once, so that what the
// folder holds syncs in the same cycle; a folder becomes a file after the
// deletions have emptied it (replaceFolders).

// toFolderLocal replaces the local file p, unchanged since the base, with
// the vault's folder.
func (e *Engine) toFolderLocal(p string, l *local, r *remote, res *Result) error {
	if err := e.noLinkAbove(p); err != nil {
		return err
	}
	now, err := e.stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case now.folder:
	case now.size != l.size || now.mtimeNs != l.mtimeNs:
		return nil // edited since the scan: the next cycle keeps it as a conflict copy
	default:
		if err := e.root.Remove(rel(p)); err != nil {
			return err
		}
		res.DeletedLocal++
		res.did(DeletedLocal, p)
		e.logf("%s is a folder in the vault now: deleted the file locally", p)
	}
	if err := e.mkdirAll(p); err != nil {
		return err
	}
	return e.Journal.Set(p, baseOf(r, nil, ""))
}

// toFolderRemote replaces the vault's file p, unchanged since the base,
// with the local folder. Two commits: if the second fails, the next cycle
// finds the file gone from the vault and creates the folder.
func (e *Engine) toFolderRemote(ctx context.Context, v *workspace.Vault, p string, r *remote, res *Result) error {
	err := v.RemoveIf(ctx, "/"+p, &r.version)
	switch {
	case cannotWrite(err):
		res.LocalOnly = append(res.LocalOnly, p)
		return nil
	case errors.Is(err, workspace.ErrWriteConflict):
		res.Pending++ // edited meanwhile: the next cycle keeps the folder as a conflict copy
		return nil
	case err == nil:
		e.deletedInVault(res, p, "%s is a folder here now: deleted the file in the vault")
	case !errors.Is(err, workspace.ErrNotFound):
		return err
	}
	if err := v.Mkdir(ctx, "/"+p); err != nil && !errors.Is(err, workspace.ErrExists) {
		return err
	}
	ver, err := v.Stat("/"+p, time.Time{})
	if err != nil {
		return err
	}
	if !ver.Manifest.Folder {
		return nil // someone put a file there meanwhile: the next cycle compares it
	}
	return e.Journal.Set(p, baseOf(&remote{ver}, nil, ""))
}

// becomingFiles are the folders a cycle replaces with a file, on one side
// or the other (actToFileLocal, actToFileRemote).
type becomingFiles map[string]action

// waits reports whether act on p waits for the next cycle because p is in
// a folder being replaced with a file: only deletions run there (they
// empty it); anything else would write into a folder about to go, or
// under a file. What waits is then either gone with the folder (it was
// new in the vault: the local file becomes a conflict copy and the folder
// comes back), or kept, with the local folder, as a conflict copy.
func (b becomingFiles) waits(p string, act action) bool {
	switch act {
	case actNone, actForget, actDeleteLocal, actDeleteRemote:
		return false
	}
	for i := strings.LastIndexByte(p, '/'); i > 0 && len(b) > 0; i = strings.LastIndexByte(p[:i], '/') {
		if _, ok := b[p[:i]]; ok {
			return true
		}
	}
	return false
}

// replaceFolders replaces each folder of b with the file the other side
// has there, deepest first, once the deletions have emptied it. A folder
// holding a deletion held back (holdBackMoves) waits with it: it is not
// empty, and not for someone else's files.
func (e *Engine) replaceFolders(ctx context.Context, v *workspace.Vault, b becomingFiles, held map[string]bool, locals map[string]*local, remotes map[string]*remote, res *Result) {
	paths := make([]string, 0, len(b))
	for p := range b {
		paths = append(paths, p)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for _, p := range paths {
		if holds(held, p) {
			res.Pending++
			continue
		}
		var err error
		if b[p] == actToFileLocal {
			err = e.toFileLocal(ctx, v, p, remotes[p], res)
		} else {
			err = e.toFileRemote(ctx, v, p, locals[p], remotes[p], res)
		}
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", p, err))
		}
	}
}

// holds reports whether a path of set is under folder p.
func holds(set map[string]bool, p string) bool {
	for q := range set {
		if strings.HasPrefix(q, p+"/") {
			return true
		}
	}
	return false
}

// toFileLocal replaces the local folder p, unchanged since the base, with
// the vault's file. If the folder is not empty (something in it was added
// or edited here), its base is forgotten: the next cycle finds a local
// folder against the vault's file, a conflict, and keeps it as a copy
// holding only what changed here.
func (e *Engine) toFileLocal(ctx context.Context, v *workspace.Vault, p string, r *remote, res *Result) error {
	if e.noLinkAbove(p) != nil {
		return nil // a link made since the scan: left alone
	}
	now, err := e.stat(p)
	switch {
	case errors.Is(err, ErrLink):
		return nil
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case !now.folder:
		return nil // a file made here since the scan: the next cycle compares it
	default:
		if err := e.root.Remove(rel(p)); err != nil {
			return e.Journal.Set(p, nil)
		}
		res.DeletedLocal++
		res.did(DeletedLocal, p)
		e.logf("%s is a file in the vault now: deleted the folder locally", p)
	}
	return e.download(ctx, v, p, nil, r, res)
}

// toFileRemote replaces the vault's folder p, unchanged since the base,
// with the local file: the folder is removed from the vault, and without
// a base the next cycle uploads the file as new. If the vault's folder is
// not empty (someone else put files in it), nothing of it is removed: the
// local file becomes a conflict copy and the folder comes back.
func (e *Engine) toFileRemote(ctx context.Context, v *workspace.Vault, p string, l *local, r *remote, res *Result) error {
	// The folder's version changed when the deletions emptied it; its id
	// says it is still the same folder.
	cur, err := v.Stat("/"+p, time.Time{})
	if errors.Is(err, workspace.ErrNotFound) {
		return e.Journal.Set(p, nil)
	}
	if err != nil {
		return err
	}
	if cur.Manifest.ID != r.version.Manifest.ID {
		return nil // replaced meanwhile: the next cycle compares it
	}
	err = v.RemoveIf(ctx, "/"+p, &cur)
	switch {
	case cannotWrite(err), errors.Is(err, workspace.ErrNotEmpty):
		return e.conflict(ctx, v, p, l, r, res)
	case errors.Is(err, workspace.ErrWriteConflict):
		res.Pending++
		return nil
	case err != nil && !errors.Is(err, workspace.ErrNotFound):
		return err
	}
	e.deletedInVault(res, p, "%s is a file here now: deleted the folder in the vault")
	return e.Journal.Set(p, nil)
}
