package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/workspace/syncer"
)

// Sync folders: the API shows and changes the configuration of the sync
// service that the app's process runs (SyncFolders, set by it), and says
// each folder's state in the words the interface shows.

// SyncFolders is the app's sync service as the API drives it. The
// process that runs the service sets App.Sync; nil: the sync calls
// answer sync_unavailable.
type SyncFolders interface {
	// Folders lists the configured folders, each with its state.
	Folders() []SyncFolderState
	// AddFolder syncs a vault (by id) with the local folder dir (an
	// absolute path) from now on, and keeps it in the configuration. A
	// folder already synced with another vault is refused.
	AddFolder(ctx context.Context, vaultID, dir string) (SyncFolderState, error)
	// SetPaused pauses or resumes the folder with that id; a paused
	// folder is left as it is, on both sides, until resumed, and stays
	// paused across restarts.
	SetPaused(id string, paused bool) error
}

// Errors a SyncFolders returns for the API to answer with their codes.
var (
	// ErrNoSyncFolder: no configured folder has that id.
	ErrNoSyncFolder = errors.New("no such sync folder")
)

// SyncFolderState is a configured folder and its state.
type SyncFolderState struct {
	// ID names the folder in the API; stable across restarts.
	ID      string
	VaultID string
	Dir     string
	Paused  bool
	// Status is what the folder's sync said last (syncer.Status.State:
	// syncing, idle, offline, error, locked; "stopped" or empty when it
	// does not run).
	Status syncer.Status
	// ConflictCopies are the conflict copies the syncs made that are
	// still in the folder (paths from the folder, with slashes): the
	// local version kept under a new name when both sides changed a file.
	ConflictCopies []string
}

// The states the API says, from the first that applies.
const (
	syncPaused   = "paused"
	syncLocked   = "locked"
	syncOffline  = "offline"
	syncError    = "error"
	syncSyncing  = "syncing"
	syncUpToDate = "up_to_date"
	syncStopped  = "stopped"
)

// syncJSON is a folder as the interface shows it.
type syncJSON struct {
	ID        string     `json:"id"`
	VaultID   string     `json:"vaultId"`
	Vault     string     `json:"vault"` // its name ("" when this user is no longer a member)
	Dir       string     `json:"dir"`
	State     string     `json:"state"`
	Pending   int        `json:"pending"` // files left to sync: "syncing N files"
	Bytes     int64      `json:"pendingBytes"`
	LastSync  *time.Time `json:"lastSync,omitempty"`
	LastError string     `json:"lastError,omitempty"`
	// Conflicts are the conflict copies, to open or remove.
	Conflicts []conflictJSON `json:"conflicts"`
	// LocalOnly are files of the folder the vault can't take, and why.
	LocalOnly []localOnlyJSON `json:"localOnly"`
}

type conflictJSON struct {
	Copy string `json:"copy"` // path from the folder
	Path string `json:"path"` // absolute, on this computer
}

type localOnlyJSON struct {
	Path string `json:"path"`
	Why  string `json:"why"`
}

func (h *api) syncFolders() (SyncFolders, error) {
	h.app.mu.Lock()
	defer h.app.mu.Unlock()
	if h.app.Sync == nil {
		return nil, errNoSync
	}
	return h.app.Sync, nil
}

// listSync lists the sync folders with their state.
func (h *api) listSync(r *http.Request) (any, error) {
	sf, err := h.syncFolders()
	if err != nil {
		return nil, err
	}
	folders := sf.Folders()
	out := []syncJSON{}
	err = h.app.withSession(r.Context(), func(s *client.Session) error {
		for _, f := range folders {
			out = append(out, syncOut(s, f))
		}
		return nil
	})
	return out, err
}

// syncOut says a folder's state; the vault's name and why files stay
// local come from the verified log.
func syncOut(s *client.Session, f SyncFolderState) syncJSON {
	st := f.Status
	out := syncJSON{ID: f.ID, VaultID: f.VaultID, Dir: f.Dir, Pending: st.Pending, Bytes: st.PendingBytes,
		LastSync: timeOrNil(st.LastSync), LastError: st.LastError, Conflicts: []conflictJSON{}, LocalOnly: []localOnlyJSON{}}
	switch {
	case f.Paused:
		out.State = syncPaused
	case st.State == "locked":
		out.State = syncLocked
	case st.State == "offline":
		out.State = syncOffline
	case st.State == "error":
		out.State = syncError
	case st.State == "syncing" || (st.State == "idle" && st.Pending > 0):
		out.State = syncSyncing
	case st.State == "idle":
		out.State = syncUpToDate
	default:
		out.State = syncStopped
	}
	why := "the vault does not take it"
	if _, v, err := s.FindVault(f.VaultID); err == nil {
		out.Vault = v.Name
		switch {
		case v.Archived:
			why = "the vault is archived: nothing can be added to it"
		case !v.Role.CanWrite():
			why = fmt.Sprintf("your role in this vault (%s) does not allow adding files", v.Role)
		}
	}
	for _, c := range f.ConflictCopies {
		out.Conflicts = append(out.Conflicts, conflictJSON{Copy: c, Path: filepath.Join(f.Dir, filepath.FromSlash(c))})
	}
	for _, p := range st.LocalOnly {
		out.LocalOnly = append(out.LocalOnly, localOnlyJSON{Path: p, Why: why})
	}
	return out
}

// addSync syncs a vault with a local folder from now on.
func (h *api) addSync(r *http.Request) (any, error) {
	var req struct {
		Vault string `json:"vault"`
		Dir   string `json:"dir"`
	}
	if err := readJSON(r, &req); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(req.Dir) {
		return nil, badRequest("dir: give the folder's full path (%q is not)", req.Dir)
	}
	sf, err := h.syncFolders()
	if err != nil {
		return nil, err
	}
	var vaultID string
	err = h.app.withSession(r.Context(), func(s *client.Session) error {
		v, _, err := s.FindVault(req.Vault)
		if err == nil {
			vaultID = v.ID
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	// Outside the session: the app's AddFolder opens it itself.
	f, err := sf.AddFolder(r.Context(), vaultID, filepath.Clean(req.Dir))
	if err != nil {
		return nil, err
	}
	var out syncJSON
	err = h.app.withSession(r.Context(), func(s *client.Session) error {
		out = syncOut(s, f)
		return nil
	})
	return out, err
}

func (h *api) pauseSync(r *http.Request) (any, error)  { return h.setPaused(r, true) }
func (h *api) resumeSync(r *http.Request) (any, error) { return h.setPaused(r, false) }

func (h *api) setPaused(r *http.Request, paused bool) (any, error) {
	sf, err := h.syncFolders()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if err := sf.SetPaused(id, paused); err != nil {
		return nil, err
	}
	for _, f := range sf.Folders() {
		if f.ID == id {
			var out syncJSON
			err := h.app.withSession(r.Context(), func(s *client.Session) error {
				out = syncOut(s, f)
				return nil
			})
			return out, err
		}
	}
	return nil, fmt.Errorf("sync folder %s: %w", id, ErrNoSyncFolder)
}
