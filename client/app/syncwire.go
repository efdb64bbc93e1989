package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/workspace/syncer"
)

// appSync is the SyncFolders the API drives: the app's own sealed folder
// list (folders.go), which the app's sync service runs, and the statuses
// those syncs write.
type appSync struct {
	a *App

	mu     sync.Mutex
	copies map[string]copiesSeen // by folder
}

// copiesSeen is a folder's conflict copies as last found, and when: the
// interface asks every few seconds, and walking a large folder each time
// would cost more than the sync itself.
type copiesSeen struct {
	at        time.Time
	conflicts int // the sync's count of conflicts then
	copies    []string
}

// copiesFresh is how long a folder's conflict copies are not looked for
// again, unless its sync made a conflict since.
const copiesFresh = 30 * time.Second

// conflictCopiesOf returns the conflict copies of the folder of st.
func (s *appSync) conflictCopiesOf(st syncer.Status) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen, ok := s.copies[st.Dir]
	if ok && time.Since(seen.at) < copiesFresh && seen.conflicts == st.Conflicts {
		return seen.copies
	}
	if s.copies == nil {
		s.copies = map[string]copiesSeen{}
	}
	seen = copiesSeen{at: time.Now(), conflicts: st.Conflicts, copies: conflictCopies(st.Dir)}
	s.copies[st.Dir] = seen
	return seen.copies
}

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

func (s *appSync) Folders() []SyncFolderState {
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
			Status: st, ConflictCopies: s.conflictCopiesOf(st)})
	}
	return out
}

func (s *appSync) AddFolder(ctx context.Context, vaultID, dir string) (SyncFolderState, error) {
	f, err := s.a.AddSyncFolder(ctx, vaultID, dir)
	if err != nil {
		return SyncFolderState{}, err
	}
	return SyncFolderState{ID: folderID(f.Dir), VaultID: f.VaultID, Dir: f.Dir, Status: syncer.Status{State: "stopped", Dir: f.Dir}}, nil
}

func (s *appSync) SetPaused(id string, paused bool) error {
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
