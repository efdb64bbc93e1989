package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/syncservice"
	"github.com/coffre/coffre/tests/hostile"
)

// TestRevokedAppWipes: the app runs on the admin's laptop and syncs a
// folder; the admin revokes the laptop from their desktop. The running app
// learns it from the server (its syncs, its event stream), verifies the
// revocation in its own log, stops its syncs and erases: the synced file
// unchanged since the last sync is deleted, the one changed here is kept
// aside, the key file and the state are gone; the app keeps answering,
// every call with device_revoked, and its state shows what it erased
// (SPEC.md §15.3).
func TestRevokedAppWipes(t *testing.T) {
	settle := syncOptions.Settle
	syncOptions.Settle = time.Hour // an edit here stays "changed since the last sync"
	t.Cleanup(func() { syncOptions.Settle = settle })

	ctx := testCtx(t)
	srv := hostile.Start(t)
	desktop := hostile.Bootstrap(t, srv, filepath.Join(t.TempDir(), "desktop"))
	defer desktop.Close()
	home := filepath.Join(t.TempDir(), "laptop")
	hostile.Enrol(t, desktop, home, "device", "", 0).Close()
	laptopID := hostile.ReadDevice(t, home).DeviceID
	if _, err := desktop.CreateVault(ctx, "cardiology"); err != nil {
		t.Fatal(err)
	}
	v, _, err := desktop.PrepareVault(ctx, "cardiology")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/note.txt", "/other.txt"} {
		if _, err := v.Put(ctx, name, strings.NewReader("from the vault\n"), nil); err != nil {
			t.Fatal(err)
		}
	}

	a := New(home, 0)
	if err := a.Listen(""); err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(sctx) }()
	t.Cleanup(func() { stop(); <-served })
	if err := a.Unlock(ctx, hostile.Passphrase); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "Cardiology")
	if _, err := a.AddSyncFolder(ctx, "cardiology", dir); err != nil {
		t.Fatal(err)
	}
	key, err := a.Keys.SyncKey()
	if err != nil {
		t.Fatal(err)
	}
	hostile.WaitUntil(t, "the folder is synced", func() bool {
		st := syncservice.Statuses(home, key)
		b1, _ := os.ReadFile(filepath.Join(dir, "note.txt"))
		b2, _ := os.ReadFile(filepath.Join(dir, "other.txt"))
		return len(st) == 1 && st[0].State == "idle" && string(b1) == "from the vault\n" && string(b2) == "from the vault\n"
	})
	if err := os.WriteFile(filepath.Join(dir, "other.txt"), []byte("changed on the laptop\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := desktop.RevokeDevice(ctx, laptopID); err != nil {
		t.Fatal(err)
	}
	call := hostile.UnixHTTP(t, SocketPath(home))
	hostile.WaitUntil(t, "the app erases", func() bool { return a.revoked() != nil })

	if _, err := os.Stat(filepath.Join(dir, "note.txt")); !os.IsNotExist(err) {
		t.Errorf("the unchanged synced file survived: %v", err)
	}
	kept, _ := filepath.Glob(dir + ".kept-*/other.txt")
	if len(kept) != 1 {
		t.Fatalf("the changed file was not kept aside: %v", kept)
	}
	if b, _ := os.ReadFile(kept[0]); string(b) != "changed on the laptop\n" {
		t.Errorf("the kept file holds %q", b)
	}
	for _, f := range []string{"device.age", "state.db", "sync", "cache", "app/folders.sealed"} {
		if _, err := os.Stat(filepath.Join(home, f)); !os.IsNotExist(err) {
			t.Errorf("%s survived the wipe: %v", f, err)
		}
	}
	if !a.Keys.Locked() {
		t.Error("the app still holds its keys")
	}

	// Every call answers device_revoked, with what was erased and kept.
	for _, c := range [][2]string{{"GET", "/api/vaults"}, {"GET", "/api/identity"}, {"POST", "/api/unlock"}, {"GET", "/api/sync"}} {
		status, b := call(c[0], c[1], `{"passphrase": "x"}`)
		var e apiError
		if err := json.Unmarshal(b, &e); err != nil || status != http.StatusGone || e.Code != "device_revoked" {
			t.Fatalf("%s %s: %d %s, want 410 device_revoked", c[0], c[1], status, b)
		}
		if !strings.Contains(e.Message, "has been revoked by") || !strings.Contains(e.Message, "kept aside in "+dir+".kept-") {
			t.Errorf("%s %s: message %q", c[0], c[1], e.Message)
		}
		if e.Revoked == nil || len(e.Revoked.Kept) != 1 || e.Revoked.Kept[0] != kept[0] || len(e.Revoked.Folders) != 1 || e.Revoked.Removed < 1 {
			t.Errorf("%s %s: revoked %+v", c[0], c[1], e.Revoked)
		}
	}
	status, b := call("GET", "/api/state", "")
	var st State
	if err := json.Unmarshal(b, &st); err != nil || status != http.StatusOK || st.Revoked == nil || st.Device || !st.Locked {
		t.Fatalf("state: %d %s", status, b)
	}
	select {
	case err := <-served:
		t.Fatalf("the app stopped: %v", err)
	default:
	}
	if client.HasDevice(home) {
		t.Error("the data directory still holds a device")
	}
}

// TestRevokedAppWipesOnTransfer: with no sync and no event stream running,
// a download the server refuses as revoked is enough: the transfer runs
// the check, and its answer is already device_revoked (SPEC.md §15.3).
func TestRevokedAppWipesOnTransfer(t *testing.T) {
	ctx := testCtx(t)
	srv := hostile.Start(t)
	desktop := hostile.Bootstrap(t, srv, filepath.Join(t.TempDir(), "desktop"))
	defer desktop.Close()
	home := filepath.Join(t.TempDir(), "laptop")
	hostile.Enrol(t, desktop, home, "device", "", 0).Close()
	info, err := desktop.CreateVault(ctx, "cardiology")
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := desktop.PrepareVault(ctx, "cardiology")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(ctx, "/note.txt", strings.NewReader("from the vault\n"), nil); err != nil {
		t.Fatal(err)
	}
	a := New(home, 0)
	keys, err := client.Unlock(home, hostile.Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	a.Keys = keys
	hs := httptest.NewServer(a.apiHandler())
	defer hs.Close()
	get := func(path string) (int, []byte) {
		res, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	content := "/api/vaults/" + info.ID + "/content?path=/note.txt"
	if status, b := get(content); status != http.StatusOK || string(b) != "from the vault\n" {
		t.Fatalf("download before the revocation: %d %s", status, b)
	}
	if _, err := desktop.RevokeDevice(ctx, hostile.ReadDevice(t, home).DeviceID); err != nil {
		t.Fatal(err)
	}
	status, b := get(content)
	var e apiError
	if json.Unmarshal(b, &e) != nil || status != http.StatusGone || e.Code != "device_revoked" || e.Revoked == nil {
		t.Fatalf("download after the revocation: %d %s, want 410 device_revoked", status, b)
	}
	if client.HasDevice(home) {
		t.Error("the data directory still holds a device")
	}
	if status, b := get("/api/state"); status != http.StatusOK || !strings.Contains(string(b), `"revoked":{`) {
		t.Errorf("state: %d %s", status, b)
	}
}
