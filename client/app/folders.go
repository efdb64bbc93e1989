package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/syncservice"
	"github.com/coffre/coffre/workspace/syncer"
)

// The folders the app keeps in sync (SPEC.md §14) are a list in the data
// directory, sealed with the device's sync key like the sync journals
// (SECURITY.md A37: no folder path or vault in clear on the disk). The
// sync API (api_sync.go) changes it through the hooks below; each change
// restarts the syncs with the new list.

// Errors of the folder hooks.
var (
	// ErrFolderSynced is returned by AddSyncFolder for a folder that is
	// already synced, or inside or around one.
	ErrFolderSynced = errors.New("this folder, or one inside or around it, is already synced")
	// ErrNoSuchFolder is returned for a folder the app does not sync.
	ErrNoSuchFolder = errors.New("the app does not sync this folder")
)

// SyncFolder is one folder the app keeps in sync with a vault.
type SyncFolder struct {
	syncservice.Folder
	// Paused: kept in the list, not synced until resumed.
	Paused bool
}

// foldersAAD binds the sealed list to what it is.
const foldersAAD = "coffre app folders v1"

func foldersPath(home string) string { return filepath.Join(home, "app", "folders.sealed") }

// folderSet guards the list's file and tells the syncs it changed.
type folderSet struct {
	mu      sync.Mutex
	changed chan struct{}
}

func (f *folderSet) poke() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// SyncFolders is the list of folders the app syncs (client.ErrLocked while
// locked: the list is sealed).
func (a *App) SyncFolders() ([]SyncFolder, error) {
	a.folders.mu.Lock()
	defer a.folders.mu.Unlock()
	return a.readFolders()
}

func (a *App) readFolders() ([]SyncFolder, error) {
	key, err := a.Keys.SyncKey()
	if err != nil {
		return nil, err
	}
	sealed, err := os.ReadFile(foldersPath(a.Home))
	if errors.Is(err, os.ErrNotExist) {
		return []SyncFolder{}, nil
	}
	if err != nil {
		return nil, err
	}
	plain, err := key.Decrypt([]byte(foldersAAD), sealed)
	if err != nil {
		return nil, fmt.Errorf("the app's folder list %s does not open: %w", foldersPath(a.Home), client.ErrCorruptState)
	}
	var out []SyncFolder
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("the app's folder list %s: %w", foldersPath(a.Home), client.ErrCorruptState)
	}
	return out, nil
}

// writeFolders replaces the list atomically, then restarts the syncs.
func (a *App) writeFolders(list []SyncFolder) error {
	key, err := a.Keys.SyncKey()
	if err != nil {
		return err
	}
	plain, err := json.Marshal(list)
	if err != nil {
		return err
	}
	path := foldersPath(a.Home)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, key.Encrypt([]byte(foldersAAD), plain), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	a.folders.poke()
	return nil
}

// AddSyncFolder syncs the local folder dir (made absolute) with the vault
// ref (a name or an id) from now on, and returns it.
func (a *App) AddSyncFolder(ctx context.Context, ref, dir string) (SyncFolder, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return SyncFolder{}, err
	}
	var f SyncFolder
	err = a.withSession(ctx, func(s *client.Session) error {
		v, info, err := s.FindVault(ref)
		if err != nil {
			return err
		}
		f = SyncFolder{Folder: syncservice.Folder{VaultID: v.ID, Name: info.Name, Dir: abs}}
		return nil
	})
	if err != nil {
		return SyncFolder{}, err
	}
	a.folders.mu.Lock()
	defer a.folders.mu.Unlock()
	list, err := a.readFolders()
	if err != nil {
		return SyncFolder{}, err
	}
	for _, g := range list {
		if within(g.Dir, abs) || within(abs, g.Dir) {
			return SyncFolder{}, fmt.Errorf("%s: %w (with %s)", abs, ErrFolderSynced, g.Dir)
		}
	}
	return f, a.writeFolders(append(list, f))
}

// within reports whether dir is root or under it.
func within(root, dir string) bool {
	rel, err := filepath.Rel(root, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// RemoveSyncFolder stops syncing dir (its files stay where they are).
func (a *App) RemoveSyncFolder(dir string) error {
	return a.changeFolder(dir, func(list []SyncFolder, i int) []SyncFolder {
		return slices.Delete(list, i, i+1)
	})
}

// PauseSyncFolder pauses (or resumes) the sync of dir.
func (a *App) PauseSyncFolder(dir string, paused bool) error {
	return a.changeFolder(dir, func(list []SyncFolder, i int) []SyncFolder {
		list[i].Paused = paused
		return list
	})
}

func (a *App) changeFolder(dir string, change func([]SyncFolder, int) []SyncFolder) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	a.folders.mu.Lock()
	defer a.folders.mu.Unlock()
	list, err := a.readFolders()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(f SyncFolder) bool { return f.Dir == abs })
	if i < 0 {
		return fmt.Errorf("%s: %w", abs, ErrNoSuchFolder)
	}
	return a.writeFolders(change(list, i))
}

// SyncStatuses is each synced folder's state, as its sync last wrote it
// (client.ErrLocked while locked: the statuses are sealed).
func (a *App) SyncStatuses() ([]syncer.Status, error) {
	key, err := a.Keys.SyncKey()
	if err != nil {
		return nil, err
	}
	return syncservice.Statuses(a.Home, key), nil
}

// syncOptions are the app's sync timings (those of 'coffre sync').
var syncOptions = syncservice.Options{Scan: 30 * time.Second, Settle: 2 * time.Second, Debounce: 300 * time.Millisecond}
