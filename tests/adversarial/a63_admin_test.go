package adversarial

import (
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// TestA63AdminRevocationWaitsForUserKeys: an administrator revokes Bob's
// laptop. Bob's keys can only be rotated by one of his own devices, so no
// manager seals a vault's new key to Bob's current key meanwhile (the
// laptop holds it): the administrator's revocation and its next use of the
// vault leave the key as it is, and writes wait. Bob's next session on his
// desktop rotates his keys; then the vault's rotation is sealed to his new
// key, which the laptop's copy does not open (SPEC.md §15.2, SECURITY.md
// A63).
func TestA63AdminRevocationWaitsForUserKeys(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	info, err := w.admin.CreateVault(bg(), "ward")
	if err != nil {
		t.Fatal(err)
	}
	putIn(t, w.admin, info.ID, "/chart.txt", "before")
	if _, err := w.admin.ShareVault(bg(), info.ID, "bob@example.org", certificate.RoleReader, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.admin.ShareVault(bg(), info.ID, "carol@example.org", certificate.RoleReader, time.Time{}); err != nil {
		t.Fatal(err)
	}
	rev, err := w.admin.RevokeDevice(bg(), w.laptopKeys.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.Rotated) != 0 || len(rev.Pending) != 1 {
		t.Fatalf("the administrator's revocation rotated %d vaults and left %d, want 0 and 1", len(rev.Rotated), len(rev.Pending))
	}
	// The administrator's next use: nothing sealed, writes wait.
	v, done, err := w.admin.PrepareVault(bg(), info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Rotated || !errors.Is(done.Awaiting, client.ErrAwaitingUserKeys) {
		t.Fatalf("the administrator's next use: rotated %v, awaiting %v", done.Rotated, done.Awaiting)
	}
	if _, err := v.Put(bg(), "/during.txt", nil, nil); !errors.Is(err, vaultlog.ErrRotationPending) {
		t.Fatalf("a write while Bob's keys are replaced: %v, want %v", err, vaultlog.ErrRotationPending)
	}
	if _, err := w.admin.RotateVault(bg(), info.ID); !errors.Is(err, client.ErrAwaitingUserKeys) {
		t.Fatalf("an explicit rotation while Bob's keys are replaced: %v, want %v", err, client.ErrAwaitingUserKeys)
	}
	// A removal goes on meanwhile, its rotation waiting like the rest; a
	// new member waits for the new key.
	if err := w.admin.UnshareVault(bg(), info.ID, "carol@example.org"); err != nil {
		t.Fatalf("unsharing while Bob's keys are replaced: %v", err)
	}
	if _, err := w.admin.ShareVault(bg(), info.ID, "carol@example.org", certificate.RoleReader, time.Time{}); !errors.Is(err, client.ErrAwaitingUserKeys) {
		t.Fatalf("sharing while Bob's keys are replaced: %v, want %v", err, client.ErrAwaitingUserKeys)
	}
	mid := w.s.LogState(t, w.bobKeys.OrganisationID)
	if mv, _ := mid.Vault(info.ID); mid.RoleOf(mv, w.carolK.UserID, time.Now()) != certificate.RoleNone || !mid.NeedsRotation(mv, time.Now()) {
		t.Fatal("Carol's removal did not land, or the vault does not need a new key")
	}
	mv, _ := mid.Vault(info.ID)
	if keys, err := workspace.OpenKeys(mid, mv, w.bobKeys.UserID, w.laptopKeys.SealKey); err == nil {
		if _, ok := keys.Get(2); ok {
			t.Fatal("a vault key introduced after the revocation opens with the revoked laptop's copy of Bob's key")
		}
	}

	// Bob's next session rotates his keys; the administrator's next use
	// rotates the vault, sealed to the new key.
	mustSync(t, w.bob)
	if !w.bob.UserKeysExposed() {
		t.Fatal("Bob's desktop does not see its keys exposed")
	}
	if _, _, err := w.bob.PrepareVault(bg(), info.ID); err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.admin)
	if _, done, err = w.admin.PrepareVault(bg(), info.ID); err != nil || !done.Rotated {
		t.Fatalf("after Bob's rotation, the administrator's next use: rotated %v (%v, awaiting %v)", done.Rotated, err, done.Awaiting)
	}
	putIn(t, w.admin, info.ID, "/after.txt", "after")
	org := w.s.LogState(t, w.bobKeys.OrganisationID)
	fv, _ := org.Vault(info.ID)
	if keys, err := workspace.OpenKeys(org, fv, w.carolK.UserID, w.carolK.SealKey); err == nil {
		if _, ok := keys.Get(fv.KeyIndex()); ok {
			t.Fatal("Carol, removed meanwhile, opens the vault's new key")
		}
	}
	if _, err := workspace.OpenKeys(org, fv, w.bobKeys.UserID, w.laptopKeys.SealKey); !errors.Is(err, workspace.ErrNoKey) {
		t.Fatalf("the laptop's copy of Bob's old key opens the vault's new key: %v", err)
	}
	reads(t, "Bob's desktop", w.bob, info.ID, map[string]string{"/chart.txt": "before", "/after.txt": "after"})
}

// TestA63WithheldRotationSealsNothing: Bob revokes his laptop from his
// desktop, which rotates his keys; the server then withholds that
// rotation (and all after it) from everyone, serving the log up to the
// revocation. The administrator, manager of a vault Bob is in, sees the
// revocation and no rotation: its client seals no new vault key to Bob's
// current key, which the laptop holds, and the vault's writes wait
// (SPEC.md §15.2, SECURITY.md A63). Withholding costs availability only.
func TestA63WithheldRotationSealsNothing(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	info, err := w.admin.CreateVault(bg(), "ward")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.admin.ShareVault(bg(), info.ID, "bob@example.org", certificate.RoleReader, time.Time{}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.bob)
	rev, err := w.bob.RevokeDevice(bg(), w.laptopKeys.DeviceID)
	if err != nil || rev.UserKeys == nil {
		t.Fatalf("Bob's revocation of his laptop: user keys rotated %v (%v)", rev.UserKeys != nil, err)
	}
	org := w.bobKeys.OrganisationID
	revokedAt := w.s.LogState(t, org).KeysExposedAt(w.bobKeys.UserID)
	// Withheld: the log ends at the revocation.
	w.s.TruncateLog(t, org, revokedAt)
	admin := hostile.Reopen(t, w.admin, w.d["admin"])
	mustSync(t, admin)
	if !admin.Organisation().AwaitsUserKeys(w.bobKeys.UserID) {
		t.Fatal("the administrator does not see Bob's keys as awaiting a rotation")
	}
	v, done, err := admin.PrepareVault(bg(), info.ID)
	if err != nil || done.Rotated || !errors.Is(done.Awaiting, client.ErrAwaitingUserKeys) {
		t.Fatalf("the administrator's use of the vault: rotated %v, awaiting %v (%v)", done.Rotated, done.Awaiting, err)
	}
	if _, err := v.Put(bg(), "/during.txt", nil, nil); !errors.Is(err, vaultlog.ErrRotationPending) {
		t.Fatalf("a write: %v, want %v", err, vaultlog.ErrRotationPending)
	}
	after := w.s.LogState(t, org)
	if after.Head.Position != revokedAt {
		t.Fatalf("the administrator appended to the withheld log: head %d, revocation at %d", after.Head.Position, revokedAt)
	}
	av, _ := after.Vault(info.ID)
	if keys, err := workspace.OpenKeys(after, av, w.bobKeys.UserID, w.laptopKeys.SealKey); err == nil {
		if _, ok := keys.Get(2); ok {
			t.Fatal("a vault key introduced after the revocation opens with the revoked laptop's copy of Bob's key")
		}
	}
}
