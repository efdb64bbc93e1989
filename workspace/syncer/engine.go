package syncer

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/workspace"
)

// Opener opens the vault for one cycle (fetching and verifying what the
// server has) and returns a function that releases it.
type Opener func(ctx context.Context) (*workspace.Vault, func(), error)

// Engine syncs one local folder with one vault.
type Engine struct {
	Dir     string
	Journal *Journal
	Open    Opener
	// Device names conflict copies ("report (conflict Alice Martin
	// 2026-11-22 101500).pdf"): who made the local version. Characters a
	// file name can't hold are replaced.
	Device string
	// Settle is how long a file must stay unmodified before it is
	// uploaded: a file still being written is not sent half-written.
	Settle time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logf, if set, is told what each cycle does.
	Logf func(format string, args ...any)

	// root is Dir during a cycle: every local read and write goes through
	// it, so that none leaves the folder through a link.
	root *os.Root
	// rootDir is the folder opened during a cycle, for the uploads' opens
	// below it (openRegular).
	rootDir *os.File
}

// Result is what one cycle did.
type Result struct {
	Uploaded, Downloaded, DeletedLocal, DeletedRemote, Conflicts int
	// Moved counts the files moved on both sides that were put where the
	// vault has them, rather than kept twice (Engine.followMoves).
	Moved              int
	BytesUp, BytesDown int64
	// Pending counts the local changes left for a later cycle (files still
	// being written, or that failed); PendingBytes their size.
	Pending      int
	PendingBytes int64
	// Skipped counts the paths left alone on both sides: links and special
	// files, and names other systems can't hold (SPEC.md §12).
	Skipped int
	Errors  []string
	// Changes names each path moved, in the order it was done.
	Changes []Change
	// LocalOnly lists the local files and folders the vault can't take
	// because this user may only read it (or it is archived): they stay
	// in the folder, and are tried again each cycle.
	LocalOnly []string
}

// Busy reports whether the cycle did anything.
func (r Result) Busy() bool {
	return r.Uploaded+r.Downloaded+r.DeletedLocal+r.DeletedRemote+r.Conflicts+r.Moved > 0
}

// local is a path as found on disk.
type local struct {
	folder  bool
	size    int64
	mtimeNs int64
	content map[uint32]string // by vault key index (chunking secret), computed when needed
}

// remote is a path as found in the vault.
type remote struct {
	version workspace.Version
}

func (r *remote) folder() bool { return r.version.Manifest.Folder }
func (r *remote) content() string {
	id := workspace.ContentID(r.version.Manifest.Blocks)
	return hex.EncodeToString(id[:])
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

// Cycle runs one full reconciliation.
func (e *Engine) Cycle(ctx context.Context) (Result, error) {
	var res Result
	v, release, err := e.Open(ctx)
	if err != nil {
		return res, err
	}
	defer release()
	root, err := os.OpenRoot(e.Dir)
	if err != nil {
		return res, err
	}
	defer root.Close()
	e.root = root
	rootDir, err := root.Open(".")
	if err != nil {
		return res, err
	}
	defer rootDir.Close()
	e.rootDir = rootDir
	ignore := LoadIgnore(e.Dir)

	remotes := map[string]*remote{}
	err = v.Walk(func(p string, ver workspace.Version) error {
		rel := strings.TrimPrefix(p, "/")
		if !ignore.Match(rel) {
			remotes[rel] = &remote{version: ver}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	locals, blocked, err := e.scan(ignore)
	if err != nil {
		return res, err
	}
	bases, err := e.Journal.All()
	if err != nil {
		return res, err
	}

	paths := map[string]bool{}
	for p := range remotes {
		paths[p] = true
	}
	for p := range locals {
		paths[p] = true
	}
	for p := range bases {
		paths[p] = true
	}
	for p, err := range unsyncable(paths) {
		blocked[p] = err
	}
	e.followMoves(ctx, v, bases, locals, remotes, blocked, &res)
	// Parents before children for creations; deletions run afterwards,
	// children before parents.
	ordered := make([]string, 0, len(paths))
	for p := range paths {
		ordered = append(ordered, p)
	}
	sort.Strings(ordered)

	var uploads []string
	var deletions []string
	becoming := becomingFiles{}
	for _, p := range ordered {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		// Left alone, and so never taken as deleted on either side.
		if why, ok := blockedBy(blocked, p); ok {
			if why == errMovedAside {
				res.Pending++
				continue
			}
			if _, own := blocked[p]; own {
				res.Skipped++
				e.logf("%s: not synced: %v", p, why)
			}
			continue
		}
		b, hasBase := bases[p]
		var bp *Base
		if hasBase {
			bp = &b
		}
		l, r := locals[p], remotes[p]
		act, err := e.decide(v, p, bp, l, r)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		if becoming.waits(p, act) {
			res.Pending++
			continue
		}
		switch act {
		case actUpload:
			if e.settling(l) {
				res.Pending++
				res.PendingBytes += l.size
				continue
			}
			uploads = append(uploads, p)
		case actDeleteLocal, actDeleteRemote:
			deletions = append(deletions, p)
		case actToFileLocal, actToFileRemote:
			becoming[p] = act // once the deletions emptied the folder
		default:
			if err := e.apply(ctx, v, act, p, bp, l, r, &res); err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", p, err))
			} else if act == actConflict && l.folder {
				// What the scan found under it moved with it, into the
				// conflict copy, which the next cycle syncs.
				blocked[p] = errMovedAside
			}
		}
	}
	if err := e.upload(ctx, v, uploads, bases, locals, remotes, &res); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	deletions, held := e.holdBackMoves(v, deletions, bases, locals, remotes, blocked, &res)
	// Deletions, deepest first, so that folders are empty when their turn comes.
	sort.Slice(deletions, func(i, j int) bool { return deletions[i] > deletions[j] })
	for _, p := range deletions {
		b := bases[p]
		if err := e.delete(ctx, v, p, &b, locals[p], remotes[p], &res); err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", p, err))
		}
	}
	e.replaceFolders(ctx, v, becoming, held, locals, remotes, &res)
	if len(res.Errors) > 0 {
		return res, fmt.Errorf("%d paths not synced: %s", len(res.Errors), res.Errors[0])
	}
	return res, nil
}

// errMovedAside marks a local folder renamed to a conflict copy during
// the cycle: the paths the scan found under it are no longer there.
var errMovedAside = errors.New("moved aside as a conflict copy")

type action int

const (
	actNone action = iota
	actAgree
	actUpload
	actDownload
	actMkdirLocal
	actMkdirRemote
	actDeleteLocal
	actDeleteRemote
	actConflict
	actForget
	// One side replaced a file with a folder, or a folder with a file,
	// and the other did not touch it: the other side follows (kinds.go).
	actToFolderLocal
	actToFolderRemote
	actToFileLocal
	actToFileRemote
)

// decide compares the three states of a path.
func (e *Engine) decide(v *workspace.Vault, p string, b *Base, l *local, r *remote) (action, error) {
	lChanged, err := e.localChanged(v, p, b, l)
	if err != nil {
		return actNone, err
	}
	rChanged := remoteChanged(b, r)
	switch {
	case !lChanged && !rChanged:
		if b != nil && l == nil && r == nil {
			return actForget, nil
		}
		return actNone, nil
	case lChanged && !rChanged:
		switch {
		case l == nil:
			return actDeleteRemote, nil
		case l.folder && r == nil:
			return actMkdirRemote, nil
		case l.folder && r.folder():
			return actAgree, nil
		case l.folder:
			return actToFolderRemote, nil
		case r != nil && r.folder():
			return actToFileRemote, nil
		}
		return actUpload, nil
	case !lChanged && rChanged:
		switch {
		case r == nil:
			return actDeleteLocal, nil
		case r.folder() && l == nil:
			return actMkdirLocal, nil
		case r.folder() && !l.folder:
			return actToFolderLocal, nil
		case r.folder():
			return actAgree, nil
		case l != nil && l.folder:
			return actToFileLocal, nil
		}
		return actDownload, nil
	}
	// Both sides moved.
	switch {
	case l == nil && r == nil:
		return actForget, nil
	case l == nil: // a local deletion never removes a remote edit
		if r.folder() {
			return actMkdirLocal, nil
		}
		return actDownload, nil
	case r == nil: // nor a remote deletion a local edit
		if l.folder {
			return actMkdirRemote, nil
		}
		return actUpload, nil
	case l.folder && r.folder():
		return actAgree, nil
	case l.folder != r.folder():
		return actConflict, nil
	}
	content, err := e.content(v, p, r.version.KeyIndex, l)
	if err != nil {
		return actNone, err
	}
	if content == r.content() {
		return actAgree, nil // the same bytes on both sides (e.g. after a crash)
	}
	// The local bytes are an older version of this very file, newer than
	// the base (a crash between a transfer and its journal write, or a
	// lost answer to a commit): nothing local is new, take the newest.
	if b != nil && b.ID == r.version.Manifest.ID {
		hist, err := v.History("/" + p)
		if err == nil {
			for _, h := range hist {
				if h.Version <= b.Version {
					continue
				}
				id := workspace.ContentID(h.Manifest.Blocks)
				local, err := e.content(v, p, h.KeyIndex, l)
				if err != nil {
					return actNone, err
				}
				if hex.EncodeToString(id[:]) == local {
					return actDownload, nil
				}
			}
		}
	}
	return actConflict, nil
}

// localChanged reports whether the local path differs from the base. A
// file whose size and modification time are the base's is taken as
// unchanged; otherwise its content is compared.
func (e *Engine) localChanged(v *workspace.Vault, p string, b *Base, l *local) (bool, error) {
	switch {
	case b == nil || l == nil:
		return (b == nil) != (l == nil), nil
	case b.Folder || l.folder:
		return b.Folder != l.folder, nil
	case l.size == b.Size && l.mtimeNs == b.MtimeNs:
		return false, nil
	}
	index, ok := baseKeyIndex(v, b)
	if !ok {
		return true, nil
	}
	c, err := e.content(v, p, index, l)
	return c != b.Content, err
}

// baseKeyIndex is the vault key the base version was written under: its
// content id was cut with that key's chunking secret (SPEC.md §11.3).
func baseKeyIndex(v *workspace.Vault, b *Base) (uint32, bool) {
	hist := v.Log().History(b.ID)
	if b.Version == 0 || b.Version > uint64(len(hist)) {
		return 0, false
	}
	return hist[b.Version-1].KeyIndex, true
}

func remoteChanged(b *Base, r *remote) bool {
	switch {
	case b == nil || r == nil:
		return (b == nil) != (r == nil)
	case b.Folder || r.folder():
		return b.Folder != r.folder() || b.ID != r.version.Manifest.ID
	}
	return b.ID != r.version.Manifest.ID || b.Version != r.version.Version
}

// content returns the local file's content id as cut under vault key
// index, reading the file if needed.
func (e *Engine) content(v *workspace.Vault, p string, index uint32, l *local) (string, error) {
	if c, ok := l.content[index]; ok {
		return c, nil
	}
	f, err := e.root.Open(rel(p))
	if err != nil {
		return "", err
	}
	defer f.Close()
	id, _, err := v.LocalContentID(f, index)
	if err != nil {
		return "", err
	}
	if l.content == nil {
		l.content = map[uint32]string{}
	}
	l.content[index] = hex.EncodeToString(id[:])
	return l.content[index], nil
}

// settling reports whether a file was modified too recently to upload.
func (e *Engine) settling(l *local) bool {
	return e.now().Sub(time.Unix(0, l.mtimeNs)) < e.Settle
}

// rel is a vault path (slashes, from the folder) as a path in the root.
func rel(p string) string { return filepath.FromSlash(p) }

// scan lists the local folder, and what in it can't be synced: links
// (never followed), special files, and folders it can't read. Those are
// left alone on both sides, never taken as deleted (SPEC.md §12). What an
// interrupted download left behind is removed on the way: one walk of the
// folder, not two.
func (e *Engine) scan(ignore *Ignore) (map[string]*local, map[string]error, error) {
	out := map[string]*local{}
	blocked := map[string]error{}
	err := fs.WalkDir(e.root.FS(), ".", func(r string, d fs.DirEntry, err error) error {
		if r == "." {
			return err
		}
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // else gone meanwhile
				blocked[r] = ErrLink
			}
			return fs.SkipDir
		}
		if !d.IsDir() && temporary(d.Name()) {
			e.root.Remove(r)
			return nil
		}
		if ignore.Match(r) || workspace.ValidName(d.Name()) != nil {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			blocked[r] = ErrLink
			return nil
		}
		info, err := d.Info()
		if err != nil {
			blocked[r] = ErrLink
			return nil
		}
		out[r] = &local{folder: d.IsDir(), size: info.Size(), mtimeNs: info.ModTime().UnixNano()}
		return nil
	})
	return out, blocked, err
}

// temporary reports whether a file is what an interrupted download left
// behind (download's ".NAME.coffre-…").
func temporary(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".coffre-")
}

func baseOf(r *remote, l *local, content string) *Base {
	b := &Base{Folder: r.folder(), ID: r.version.Manifest.ID, Version: r.version.Version}
	if !b.Folder {
		b.Content = content
		if l != nil {
			b.Size, b.MtimeNs = l.size, l.mtimeNs
		}
	}
	return b
}

// stat describes the local path p now; a link is never followed.
func (e *Engine) stat(p string) (*local, error) {
	info, err := e.root.Lstat(rel(p))
	if err != nil {
		return nil, err
	}
	if !info.IsDir() && !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", p, ErrLink)
	}
	return localOf(info), nil
}

func localOf(info fs.FileInfo) *local {
	return &local{folder: info.IsDir(), size: info.Size(), mtimeNs: info.ModTime().UnixNano()}
}

// mkdirAll creates folder p and its parents, mode 0700, refusing to go
// through a link on the way: os.Root already keeps every step inside the
// folder, and a link inside it is not followed either.
func (e *Engine) mkdirAll(p string) error {
	if err := e.noLinkAbove(p + "/x"); err != nil {
		return err
	}
	return e.root.MkdirAll(rel(p), 0o700)
}

// noLinkAbove refuses p when one of its existing parents is not a folder
// (a link, made since the scan).
func (e *Engine) noLinkAbove(p string) error {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		info, err := e.root.Lstat(rel(p[:i]))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !info.IsDir() {
			return fmt.Errorf("%s: %w", p[:i], ErrLink)
		}
	}
	return nil
}

// apply carries out one action other than uploads and deletions.
func (e *Engine) apply(ctx context.Context, v *workspace.Vault, act action, p string, b *Base, l *local, r *remote, res *Result) error {
	switch act {
	case actNone:
		return nil
	case actForget:
		return e.Journal.Set(p, nil)
	case actAgree:
		if r.folder() {
			return e.Journal.Set(p, baseOf(r, nil, ""))
		}
		return e.Journal.Set(p, baseOf(r, l, r.content()))
	case actMkdirLocal:
		if err := e.mkdirAll(p); err != nil {
			return err
		}
		return e.Journal.Set(p, baseOf(r, nil, ""))
	case actMkdirRemote:
		if err := v.Mkdir(ctx, "/"+p); cannotWrite(err) {
			res.LocalOnly = append(res.LocalOnly, p)
			return nil
		} else if err != nil && !errors.Is(err, workspace.ErrExists) {
			return err
		}
		ver, err := v.Stat("/"+p, time.Time{})
		if err != nil {
			return err
		}
		return e.Journal.Set(p, baseOf(&remote{ver}, nil, ""))
	case actDownload:
		return e.download(ctx, v, p, l, r, res)
	case actConflict:
		return e.conflict(ctx, v, p, l, r, res)
	case actToFolderLocal:
		return e.toFolderLocal(p, l, r, res)
	case actToFolderRemote:
		return e.toFolderRemote(ctx, v, p, r, res)
	}
	return fmt.Errorf("syncer: internal error: action %d", act)
}

// download fetches the remote file into a temporary file, then puts it in
// place only if the local file did not change meanwhile (else both are
// kept).
func (e *Engine) download(ctx context.Context, v *workspace.Vault, p string, l *local, r *remote, res *Result) error {
	if dir := path.Dir(p); dir != "." {
		if err := e.mkdirAll(dir); err != nil {
			return err
		}
	} else if err := e.noLinkAbove(p); err != nil {
		return err
	}
	tmp := rel(path.Join(path.Dir(p), "."+path.Base(p)+".coffre-download"))
	e.root.Remove(tmp)
	f, err := e.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = v.WriteTo(ctx, "/"+p, time.Time{}, f, nil)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		e.root.Remove(tmp)
		return err
	}
	now, err := e.stat(p)
	if err == nil && (l == nil || now.size != l.size || now.mtimeNs != l.mtimeNs) {
		// Written locally since the scan: keep it as a conflict copy.
		cp := e.conflictName(p)
		if err := e.root.Rename(rel(p), cp); err != nil {
			e.root.Remove(tmp)
			return err
		}
		res.kept(p, cp)
	}
	if err := e.root.Rename(tmp, rel(p)); err != nil {
		e.root.Remove(tmp)
		return err
	}
	got, err := e.stat(p)
	if err != nil {
		return err
	}
	res.Downloaded++
	res.BytesDown += got.size
	res.did(Downloaded, p)
	e.logf("downloaded %s (v%d)", p, r.version.Version)
	return e.Journal.Set(p, baseOf(r, got, r.content()))
}

// conflict keeps both: the local version moves to a conflict copy (which
// a later cycle uploads as a new file) and the remote one takes the name.
func (e *Engine) conflict(ctx context.Context, v *workspace.Vault, p string, l *local, r *remote, res *Result) error {
	cp := e.conflictName(p)
	if err := e.root.Rename(rel(p), cp); err != nil {
		return err
	}
	res.kept(p, cp)
	e.logf("conflict on %s: kept the local version as a copy", p)
	if r.folder() {
		if err := e.mkdirAll(p); err != nil {
			return err
		}
		return e.Journal.Set(p, baseOf(r, nil, ""))
	}
	return e.download(ctx, v, p, nil, r, res)
}

// conflictName names a conflict copy of p after the device and the time
// (a path in the root).
func (e *Engine) conflictName(p string) string {
	ext := path.Ext(p)
	stem := strings.TrimSuffix(p, ext)
	if info, err := e.root.Lstat(rel(p)); err == nil && info.IsDir() {
		stem, ext = p, ""
	}
	who := copyLabel(e.Device)
	name := fmt.Sprintf("%s (conflict %s %s)%s", stem, who, e.now().Format("2006-01-02 150405"), ext)
	for i := 2; ; i++ {
		if _, err := e.root.Lstat(rel(name)); errors.Is(err, fs.ErrNotExist) {
			return rel(name)
		}
		name = fmt.Sprintf("%s (conflict %s %s %d)%s", stem, who, e.now().Format("2006-01-02 150405"), i, ext)
	}
}

// uploadBatch bounds one commit: a folder receiving many files is
// rewritten once per batch.
const (
	uploadBatchFiles = 512
	uploadBatchBytes = 256 << 20
)

// upload sends new and changed local files in batches, pipelined: the
// blocks of batch k+1 are sealed and sent while batch k commits
// (Vault.UploadFiles on a goroutine of its own, Vault.CommitFiles here),
// and the bases of committed batches are written to the journal on a
// third (recorder). A batch that fails on a conflict is retried file by
// file, so one conflict doesn't hold the others back.
//
// A crash between the stages loses nothing: blocks no entry names are
// orphans the server collects, and the journal records a batch only once
// its entry is appended.
func (e *Engine) upload(ctx context.Context, v *workspace.Vault, paths []string, bases map[string]Base, locals map[string]*local, remotes map[string]*remote, res *Result) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	uploaded := make(chan uploadedBatch, 1) // one batch ahead of the commits
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(uploaded)
		for start := 0; start < len(paths); {
			end, size := start, int64(0)
			for end < len(paths) && end-start < uploadBatchFiles && size < uploadBatchBytes {
				size += locals[paths[end]].size
				end++
			}
			b := uploadedBatch{paths: paths[start:end]}
			start = end
			var items []workspace.PutItem
			items, b.seen = e.putItems(b.paths)
			b.up, b.err = v.UploadFiles(ctx, items)
			select {
			case uploaded <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	rec := e.newRecorder()
	// Stopped and waited for before returning: the vault is released
	// after the cycle, and nothing may still be uploading through it; the
	// journal holds every base recorded.
	defer func() {
		cancel()
		<-done
		if rerr := rec.close(); err == nil {
			err = rerr
		}
	}()
	for b := range uploaded {
		err := b.err
		if err == nil {
			err = e.commitBatch(ctx, v, b, rec, res)
		}
		if err == nil {
			continue
		}
		if cannotWrite(err) {
			res.LocalOnly = append(res.LocalOnly, b.paths...)
			continue
		}
		if len(b.paths) == 1 {
			if errors.Is(err, workspace.ErrWriteConflict) {
				res.Pending++ // the remote moved: the next cycle merges it
				continue
			}
			return err
		}
		for _, p := range b.paths {
			if err := e.uploadBatch(ctx, v, []string{p}, rec, res); err != nil && !errors.Is(err, workspace.ErrWriteConflict) {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", p, err))
			}
		}
	}
	return ctx.Err()
}

// uploadedBatch is a batch of paths whose blocks are stored (or whose
// upload failed), waiting for its commit.
type uploadedBatch struct {
	paths []string
	seen  []*local // each file as it was when opened for the upload
	up    *workspace.Uploaded
	err   error
}

// uploadBatch uploads and commits one batch without the pipeline.
func (e *Engine) uploadBatch(ctx context.Context, v *workspace.Vault, batch []string, rec *recorder, res *Result) error {
	items, seen := e.putItems(batch)
	up, err := v.UploadFiles(ctx, items)
	if err != nil {
		return err
	}
	return e.commitBatch(ctx, v, uploadedBatch{paths: batch, seen: seen, up: up}, rec, res)
}

// commitBatch commits an uploaded batch and has its bases recorded.
func (e *Engine) commitBatch(ctx context.Context, v *workspace.Vault, b uploadedBatch, rec *recorder, res *Result) error {
	// A journal that can't be written stops the uploads: what is
	// committed and not recorded costs the next cycle a comparison each.
	if err := rec.failed(); err != nil {
		return err
	}
	vs, err := v.CommitFiles(ctx, b.up)
	if err != nil {
		return err
	}
	bases := map[string]*Base{}
	for i, p := range b.paths {
		id := workspace.ContentID(vs[i].Manifest.Blocks)
		bases[p] = baseOf(&remote{vs[i]}, b.seen[i], hex.EncodeToString(id[:]))
		res.Uploaded++
		res.BytesUp += int64(vs[i].Manifest.Size)
		res.did(Uploaded, p)
		e.logf("uploaded %s (v%d)", p, vs[i].Version)
	}
	rec.add(bases)
	return nil
}

// recorder writes bases to the journal on a goroutine of its own, all
// those that arrived while it wrote the previous ones in one transaction:
// the journal's writes leave the path from one commit to the next, and a
// folder of many batches costs fewer of them.
type recorder struct {
	j    *Journal
	wake chan struct{} // one pending signal at most
	done chan struct{}

	mu      sync.Mutex
	pending map[string]*Base
	err     error // the first write that failed
}

func (e *Engine) newRecorder() *recorder {
	r := &recorder{j: e.Journal, wake: make(chan struct{}, 1), done: make(chan struct{}), pending: map[string]*Base{}}
	go r.run()
	return r
}

// add queues bases to record.
func (r *recorder) add(bases map[string]*Base) {
	r.mu.Lock()
	maps.Copy(r.pending, bases)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) run() {
	defer close(r.done)
	for range r.wake {
		r.mu.Lock()
		bases := r.pending
		r.pending = map[string]*Base{}
		failed := r.err != nil
		r.mu.Unlock()
		if len(bases) == 0 || failed {
			continue
		}
		if err := r.j.SetMany(bases); err != nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
		}
	}
}

// failed returns the error of a write that failed, if one did.
func (r *recorder) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// close waits until every base added is written and returns the first
// failure; nothing may be added after it.
func (r *recorder) close() error {
	close(r.wake)
	<-r.done
	return r.failed()
}

// putItems are the files of a batch to upload; seen[i] is filled with
// file i as it is when opened.
func (e *Engine) putItems(batch []string) (items []workspace.PutItem, seen []*local) {
	items = make([]workspace.PutItem, len(batch))
	seen = make([]*local, len(batch))
	for i, p := range batch {
		items[i] = workspace.PutItem{Path: "/" + p, Open: func() (io.ReadCloser, error) {
			// What was read is described by the state at opening: if the
			// file changes during the upload, the next cycle sends it again.
			r, l, err := e.openRegular(p)
			if err != nil {
				return nil, err
			}
			seen[i] = l
			return r, nil
		}}
	}
	return items, seen
}

// delete carries a deletion to the other side, if the path there is still
// what the base says: an edit made meanwhile is never deleted.
func (e *Engine) delete(ctx context.Context, v *workspace.Vault, p string, b *Base, l *local, r *remote, res *Result) error {
	if l == nil && r != nil { // deleted locally: remove in the vault
		err := v.RemoveIf(ctx, "/"+p, &r.version)
		switch {
		case cannotWrite(err):
			// This user can't remove it from the vault: it comes back
			// here rather than stay deleted on one side only.
			if r.folder() {
				return e.mkdirAll(p)
			}
			return e.download(ctx, v, p, nil, r, res)
		case errors.Is(err, workspace.ErrNotEmpty), errors.Is(err, workspace.ErrWriteConflict):
			return nil // new content arrived: the next cycle brings it back
		case err != nil && !errors.Is(err, workspace.ErrNotFound):
			return err
		}
		e.deletedInVault(res, p, "deleted %s in the vault")
		return e.Journal.Set(p, nil)
	}
	if r == nil && l != nil { // deleted in the vault (a signed folder version without it)
		now, err := e.stat(p)
		if errors.Is(err, ErrLink) || e.noLinkAbove(p) != nil {
			return nil // a link made since the scan: left alone
		}
		if err != nil {
			return e.Journal.Set(p, nil)
		}
		if now.folder {
			if err := e.root.Remove(rel(p)); err != nil {
				// Not empty: files were added locally. They stay, and
				// without a base the next cycle creates the folder again
				// in the vault and uploads them.
				return e.Journal.Set(p, nil)
			}
		} else {
			if now.size != l.size || now.mtimeNs != l.mtimeNs {
				return nil // edited since the scan: kept, uploaded next cycle
			}
			if err := e.root.Remove(rel(p)); err != nil {
				return err
			}
		}
		res.DeletedLocal++
		res.did(DeletedLocal, p)
		e.logf("deleted %s locally", p)
	}
	return e.Journal.Set(p, nil)
}

// deletedInVault counts, reports and logs (format, with the path) a
// deletion this cycle made in the vault.
func (e *Engine) deletedInVault(res *Result, p, format string) {
	res.DeletedRemote++
	res.did(DeletedRemote, p)
	e.logf(format, p)
}
