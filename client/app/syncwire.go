package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/coffre/coffre/workspace/syncer"
)

// appSync is the SyncFolders the API drives: the app's own sealed folder
// list (folders.go), which the app's sync service runs, and the statuses
// those syncs write.
type appSync struct{ a *App }

// folderID names a synced folder in the API: stable across restarts, and
// telling nothing of the path to whoever sees only the id.
func folderID(dir string) string {
	sum := sha256.Sum256([]byte("coffre/app folder id\x00" + dir))
	return hex.EncodeToString(sum[:8])
}

// maxConflictCopies bounds the walk that finds a folder's conflict copies.
const maxConflictCopies = 100

// conflictCopies lists the conflict copies in dir (the local version a
// sync kept under a new name when both sides changed a file: "name
// (conflict WHO WHEN)"), as paths from dir with slashes.
func conflictCopies(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || len(out) >= maxConflictCopies {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.Contains(d.Name(), " (conflict ") {
			if rel, err := filepath.Rel(dir, p); err == nil {
				out = append(out, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	return out
}

func (s appSync) Folders() []SyncFolderState {
	list, err := s.a.SyncFolders()
	if err != nil {
		return nil
	}
	statuses, _ := s.a.SyncStatuses() // locked: no status, the folders are listed as they are
	out := make([]SyncFolderState, 0, len(list))
	for _, f := range list {
		st := syncer.Status{State: "stopped", Dir: f.Dir}
		for _, x := range statuses {
			if x.Dir == f.Dir {
				st = x
			}
		}
		out = append(out, SyncFolderState{ID: folderID(f.Dir), VaultID: f.VaultID, Dir: f.Dir, Paused: f.Paused,
			Status: st, ConflictCopies: conflictCopies(f.Dir)})
	}
	return out
}

func (s appSync) AddFolder(ctx context.Context, vaultID, dir string) (SyncFolderState, error) {
	f, err := s.a.AddSyncFolder(ctx, vaultID, dir)
	if err != nil {
		return SyncFolderState{}, err
	}
	return SyncFolderState{ID: folderID(f.Dir), VaultID: f.VaultID, Dir: f.Dir, Status: syncer.Status{State: "stopped", Dir: f.Dir}}, nil
}

func (s appSync) SetPaused(id string, paused bool) error {
	list, err := s.a.SyncFolders()
	if err != nil {
		return err
	}
	for _, f := range list {
		if folderID(f.Dir) == id {
			err := s.a.PauseSyncFolder(f.Dir, paused)
			if errors.Is(err, ErrNoSuchFolder) {
				return ErrNoSyncFolder
			}
			return err
		}
	}
	return ErrNoSyncFolder
}
