package adversarial

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/app"
	"github.com/coffre/coffre/client/cli"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/wire"
)

// TestA42RevokedAnswerAppWipesNothing: the running app gets "this device
// is revoked" from a server whose log holds no revocation of it. The app
// checks its own verified log, finds none, and erases nothing: the synced
// folder, the key file and the state stay, it keeps its keys and keeps
// running, and the call answers revocation_unverified, not device_revoked
// (SPEC.md §15.3, SECURITY.md A42).
func TestA42RevokedAnswerAppWipesNothing(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	ctx := bg()
	if _, err := w.bob.CreateVault(ctx, "cardio"); err != nil {
		t.Fatal(err)
	}
	v, _, err := w.bob.PrepareVault(ctx, "cardio")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(ctx, "/note.txt", strings.NewReader("patient note\n"), nil); err != nil {
		t.Fatal(err)
	}

	home := w.d["laptop"]
	a := app.New(home, 0)
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
	dir := filepath.Join(t.TempDir(), "cardio")
	if _, err := a.AddSyncFolder(ctx, "cardio", dir); err != nil {
		t.Fatal(err)
	}
	note := filepath.Join(dir, "note.txt")
	hostile.WaitUntil(t, "the folder is synced", func() bool { b, _ := os.ReadFile(note); return string(b) == "patient note\n" })

	// The server now refuses the laptop as revoked, as it would a revoked
	// device: everything but the log; the log holds no revocation.
	w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		switch method {
		case coffrev1.CoffreService_GetLog_FullMethodName, coffrev1.CoffreService_GetHead_FullMethodName, coffrev1.CoffreService_GetOrganisation_FullMethodName:
			return resp, err
		}
		return nil, wire.ErrDeviceRevoked
	})
	call := hostile.UnixHTTP(t, app.SocketPath(home))
	status, b := call("POST", "/api/vaults", `{"name": "other"}`)
	var e struct{ Code, Message string }
	json.Unmarshal(b, &e)
	if status != http.StatusForbidden || e.Code != "revocation_unverified" || !strings.Contains(e.Message, "nothing was erased") {
		t.Fatalf("a call refused as revoked: %d %s, want 403 revocation_unverified", status, b)
	}
	// Its syncs and its event stream see the same refusal meanwhile.
	status, b = call("GET", "/api/state", "")
	var st app.State
	if err := json.Unmarshal(b, &st); err != nil || status != http.StatusOK || st.Revoked != nil || !st.Device || st.Locked {
		t.Fatalf("state after the unsigned refusal: %d %s, want an unlocked device, not revoked", status, b)
	}
	wantIntact(t, home)
	if b, err := os.ReadFile(note); err != nil || string(b) != "patient note\n" {
		t.Errorf("the synced file was touched on the server's word: %q, %v", b, err)
	}
	if kept, _ := filepath.Glob(dir + ".kept-*"); len(kept) != 0 {
		t.Errorf("files were moved aside on the server's word: %v", kept)
	}

	// The server answers again: the app was only locked out meanwhile. (A
	// new name: this hostile server ran the refused call before rewriting
	// its answer, so "other" may well exist now, depending on whether the
	// app's create reached its append before a refused read.)
	w.s.ClearHooks()
	if status, b := call("POST", "/api/vaults", `{"name": "after the refusal"}`); status != http.StatusOK {
		t.Fatalf("after the server answers again: %d %s", status, b)
	}
	select {
	case err := <-served:
		t.Fatalf("the app stopped: %v", err)
	default:
	}
}

// TestA42RevokedAnswerSyncWipesNothing: 'coffre sync' refused as revoked
// by a server whose log holds no revocation of the device stops with
// client.ErrRevocationNotInLog, and erases nothing: the synced folder, the
// key file and the state stay (SPEC.md §15.3, SECURITY.md A42).
func TestA42RevokedAnswerSyncWipesNothing(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	ctx := bg()
	if _, err := w.bob.CreateVault(ctx, "cardio"); err != nil {
		t.Fatal(err)
	}
	v, _, err := w.bob.PrepareVault(ctx, "cardio")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(ctx, "/note.txt", strings.NewReader("patient note\n"), nil); err != nil {
		t.Fatal(err)
	}
	home := w.d["laptop"]
	pass := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(pass, []byte(hostile.Passphrase), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cardio")
	sync := func() (string, error) {
		root := cli.NewRootCommand()
		var out strings.Builder
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs([]string{"--home", home, "--passphrase-file", pass, "sync", "--once", "cardio", dir})
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}
	if out, err := sync(); err != nil {
		t.Fatalf("the first sync: %v\n%s", err, out)
	}
	note := filepath.Join(dir, "note.txt")
	if b, err := os.ReadFile(note); err != nil || string(b) != "patient note\n" {
		t.Fatalf("the synced folder holds %q, %v", b, err)
	}

	w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		switch method {
		case coffrev1.CoffreService_GetLog_FullMethodName, coffrev1.CoffreService_GetHead_FullMethodName, coffrev1.CoffreService_GetOrganisation_FullMethodName:
			return resp, err
		}
		return nil, wire.ErrDeviceRevoked
	})
	out, err := sync()
	if !errors.Is(err, client.ErrRevocationNotInLog) {
		t.Fatalf("a sync refused as revoked, with no revocation in the log: %v, want ErrRevocationNotInLog\n%s", err, out)
	}
	if strings.Contains(out, "erased") && !strings.Contains(out, "nothing was erased") {
		t.Errorf("the sync says it erased:\n%s", out)
	}
	wantIntact(t, home)
	if b, err := os.ReadFile(note); err != nil || string(b) != "patient note\n" {
		t.Errorf("the synced file was touched on the server's word: %q, %v", b, err)
	}
	if kept, _ := filepath.Glob(dir + ".kept-*"); len(kept) != 0 {
		t.Errorf("files were moved aside on the server's word: %v", kept)
	}
}
