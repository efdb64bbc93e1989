// Package transfer copies files and folders, recursively, between this
// device's disk and a vault. It prints nothing: it tells a Progress what
// it does.
package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre/coffre/workspace"
)

// ErrNoVaultFolder is returned by Put when a folder on the vault path does
// not exist; the message names the first one missing, so that the person
// knows it is the vault side, not the local file, that lacks something.
var ErrNoVaultFolder = errors.New("no such folder in the vault")

// ErrNotRegular is what Progress.Skipped is told for a local entry that is
// neither a file nor a folder (a link, a device, a socket): Put leaves it.
var ErrNotRegular = errors.New("not a regular file")

// Progress is told what a transfer does; any method may be a no-op.
type Progress interface {
	// Started: one file of size bytes (0 when unknown) starts to move on
	// its own; Bytes follows as its bytes go.
	Started(remote string, size int64)
	// Bytes: done bytes of the file last Started have moved. It may be
	// called from several goroutines at once, and done may arrive out of
	// order.
	Bytes(done int64)
	// Done: the file from was copied to to (one of them local, the other
	// in the vault); v is its version in the vault.
	Done(from, to string, v workspace.Version)
	// Skipped: the local entry was left out, for reason.
	Skipped(local string, reason error)
}

// Batches bound one commit of a folder's put: a folder receiving many
// files is rewritten once per batch, not once per file.
const (
	batchFiles = 256
	batchBytes = 256 << 20
)

// Put uploads the local file or folder to remote in v (see Target for
// where it lands): a folder's files and subfolders are created under
// remote (existing folders are kept), in batches.
func Put(ctx context.Context, v *workspace.Vault, local, remote string, p Progress) error {
	info, err := os.Stat(local)
	if err != nil {
		return err
	}
	if remote, err = Target(v, remote, filepath.Base(local), info.IsDir()); err != nil {
		return err
	}
	if !info.IsDir() {
		return putFile(ctx, v, local, remote, info.Size(), p)
	}
	var batch []workspace.PutItem
	var locals []string
	var bytes int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		vs, err := v.PutFiles(ctx, batch)
		if err != nil {
			return err
		}
		for i, ver := range vs {
			p.Done(locals[i], batch[i].Path, ver)
		}
		batch, locals, bytes = nil, nil, 0
		return nil
	}
	err = filepath.WalkDir(local, func(lp string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(local, lp)
		target := path.Join(remote, filepath.ToSlash(rel))
		if d.IsDir() {
			if err := flush(); err != nil {
				return err
			}
			if err := v.Mkdir(ctx, target); err != nil && !errors.Is(err, workspace.ErrExists) {
				return err
			}
			return nil
		}
		if !d.Type().IsRegular() {
			p.Skipped(lp, ErrNotRegular)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		batch = append(batch, workspace.PutItem{Path: target, Open: func() (io.ReadCloser, error) { return os.Open(lp) }})
		locals = append(locals, lp)
		if bytes += info.Size(); len(batch) >= batchFiles || bytes >= batchBytes {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func putFile(ctx context.Context, v *workspace.Vault, local, remote string, size int64, p Progress) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	p.Started(remote, size)
	ver, err := v.Put(ctx, remote, f, p.Bytes)
	if err != nil {
		return fmt.Errorf("%s: %w", remote, err)
	}
	p.Done(local, remote, ver)
	return nil
}

// Target returns the vault path that a local entry called name lands on
// when put to remote, as cp does: inside remote when remote ends with "/"
// or is an existing folder (a local folder put onto an existing folder
// without the "/" merges into it instead), remote itself otherwise. The
// folder it goes into must exist (ErrNoVaultFolder names the first one
// missing). An empty name (standard input) can't go inside a folder.
func Target(v *workspace.Vault, remote, name string, folder bool) (string, error) {
	clean := path.Clean("/" + remote)
	inside := strings.HasSuffix(remote, "/") && clean != "/"
	cur, err := v.Stat(clean, time.Time{})
	switch {
	case err == nil && cur.Manifest.Folder:
		if (inside || !folder) && name != "" {
			return path.Join(clean, name), nil
		}
		if !folder {
			return "", fmt.Errorf("%s: %w", clean, workspace.ErrIsFolder)
		}
		return clean, nil
	case err == nil && inside:
		return "", fmt.Errorf("%s: %w", clean, workspace.ErrNotFolder)
	case err == nil:
		return clean, nil
	case !errors.Is(err, workspace.ErrNotFound):
		return "", err
	}
	parent := path.Dir(clean)
	if inside {
		parent = clean
	}
	if missing := firstMissing(v, parent); missing != "" {
		return "", fmt.Errorf("%s: %w", missing, ErrNoVaultFolder)
	}
	return clean, nil
}

// firstMissing returns the first folder on the way to p that does not
// exist, or "".
func firstMissing(v *workspace.Vault, p string) string {
	at := "/"
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		if name == "" {
			break
		}
		at = path.Join(at, name)
		if _, err := v.Stat(at, time.Time{}); errors.Is(err, workspace.ErrNotFound) {
			return at
		}
	}
	return ""
}

// GetOptions say what a Get reads and what it may replace.
type GetOptions struct {
	// At reads the vault as it was then (zero: now).
	At time.Time
	// Replace lets a local file that is in the way be replaced, each
	// atomically (a rename: never half-written). Without it, any file in
	// the way is workspace.ErrLocalExists and nothing is written. Local
	// files the vault doesn't have are never touched.
	Replace bool
}

// Get downloads remote from v to local: a file into local (or into the
// folder local, under its own name), a folder recursively into local,
// merged with what is there, its folders created private (0700). Every
// local path it would write is checked first: a file in the way (unless
// o.Replace) or a file where a folder goes is refused before anything is
// downloaded.
func Get(ctx context.Context, v *workspace.Vault, remote, local string, o GetOptions, p Progress) error {
	ver, err := v.Stat(remote, o.At)
	if err != nil {
		return err
	}
	if !ver.Manifest.Folder {
		if st, err := os.Stat(local); err == nil && st.IsDir() {
			local = filepath.Join(local, path.Base(path.Clean("/"+remote)))
		}
	}
	plan, err := planGet(v, remote, local, ver, o.At)
	if err != nil {
		return err
	}
	if err := plan.check(o.Replace); err != nil {
		return err
	}
	for _, d := range plan.dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	for _, f := range plan.files {
		p.Started(f.remote, int64(f.size))
		get := v.Get
		if o.Replace {
			get = v.GetReplace
		}
		got, err := get(ctx, f.remote, o.At, f.local, p.Bytes)
		if err != nil {
			return err
		}
		p.Done(f.remote, f.local, got)
	}
	return nil
}
