package app

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/workspace/syncer"
)

// folders is a SyncFolders that keeps its configuration in memory, with
// statuses the test sets: the API's part is to pass the configuration on
// and to say each state in words (the sync service itself is the app
// process's, tested with it).
type folders struct {
	mu sync.Mutex
	fs []SyncFolderState
}

func (f *folders) Folders() []SyncFolderState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SyncFolderState(nil), f.fs...)
}

func (f *folders) AddFolder(_ context.Context, vaultID, dir string) (SyncFolderState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.fs {
		if x.Dir == dir {
			return SyncFolderState{}, ErrFolderSynced
		}
	}
	x := SyncFolderState{ID: vaultID[:8], VaultID: vaultID, Dir: dir, Status: syncer.Status{State: "syncing", Pending: 3}}
	f.fs = append(f.fs, x)
	return x, nil
}

func (f *folders) SetPaused(id string, paused bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.fs {
		if f.fs[i].ID == id {
			f.fs[i].Paused = paused
			return nil
		}
	}
	return ErrNoSyncFolder
}

func (f *folders) set(id string, fn func(*SyncFolderState)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.fs {
		if f.fs[i].ID == id {
			fn(&f.fs[i])
		}
	}
}

func TestSyncFolders(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	admin.app.Sync = nil // an app that runs no sync service
	admin.fails("GET", "/api/sync", nil, http.StatusNotImplemented, "sync_unavailable")
	fs := &folders{}
	admin.app.Sync = fs
	id := admin.createVault("Synchro")
	bob := serveApp(t, admin.enrolUser("bob@example.org"))
	bob.app.Sync = &folders{}
	admin.ok("PUT", "/api/vaults/"+id+"/members/bob@example.org", map[string]any{"role": "reader"}, nil)

	dir := filepath.Join(t.TempDir(), "Synchro")
	admin.fails("POST", "/api/sync", map[string]any{"vault": id, "dir": "relative/dir"}, http.StatusBadRequest, "bad_request")
	admin.fails("POST", "/api/sync", map[string]any{"vault": "nope", "dir": dir}, http.StatusNotFound, "unknown_vault")
	var f syncJSON
	admin.ok("POST", "/api/sync", map[string]any{"vault": "Synchro", "dir": dir + "/"}, &f)
	if f.VaultID != id || f.Vault != "Synchro" || f.Dir != dir || f.State != "syncing" || f.Pending != 3 {
		t.Fatalf("added: %+v", f)
	}
	admin.fails("POST", "/api/sync", map[string]any{"vault": id, "dir": dir}, http.StatusConflict, "folder_synced")

	list := func(ta *testApp) []syncJSON {
		var out []syncJSON
		ta.ok("GET", "/api/sync", nil, &out)
		return out
	}
	states := map[string]syncer.Status{
		"up_to_date": {State: "idle", LastSync: time.Now()},
		"syncing":    {State: "idle", Pending: 2},
		"offline":    {State: "offline"},
		"locked":     {State: "locked"},
		"error":      {State: "error", LastError: "disk full"},
		"stopped":    {State: "stopped"},
	}
	for want, st := range states {
		fs.set(f.ID, func(x *SyncFolderState) { x.Status = st })
		if got := list(admin); len(got) != 1 || got[0].State != want {
			t.Errorf("status %+v: state %+v, want %s", st, got, want)
		}
	}
	fs.set(f.ID, func(x *SyncFolderState) { x.ConflictCopies = []string{"cr (conflict Admin 2026-12-06).txt"} })
	got := list(admin)[0]
	if len(got.Conflicts) != 1 || got.Conflicts[0].Path != filepath.Join(dir, "cr (conflict Admin 2026-12-06).txt") {
		t.Fatalf("conflicts: %+v", got.Conflicts)
	}

	admin.ok("POST", "/api/sync/"+f.ID+"/pause", nil, &f)
	if f.State != "paused" {
		t.Fatalf("paused: %+v", f)
	}
	admin.ok("POST", "/api/sync/"+f.ID+"/resume", nil, &f)
	if f.State == "paused" {
		t.Fatalf("resumed: %+v", f)
	}
	admin.fails("POST", "/api/sync/nope/pause", nil, http.StatusNotFound, "no_sync_folder")

	// A reader's files that the vault can't take say why.
	bob.ok("POST", "/api/sync", map[string]any{"vault": id, "dir": dir}, &f)
	bob.app.Sync.(*folders).set(f.ID, func(x *SyncFolderState) {
		x.Status = syncer.Status{State: "idle", LocalOnly: []string{"mine.txt"}}
	})
	got = list(bob)[0]
	if got.State != "up_to_date" || len(got.LocalOnly) != 1 || got.LocalOnly[0].Path != "mine.txt" || !strings.Contains(got.LocalOnly[0].Why, "reader") {
		t.Fatalf("local only: %+v", got)
	}
}
