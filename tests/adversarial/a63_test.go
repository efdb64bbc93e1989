package adversarial

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/workspace"
)

// putIn writes a file into a vault opened by PrepareVault.
func putIn(t *testing.T, s *client.Session, vault, p, content string) {
	t.Helper()
	v, _, err := s.PrepareVault(bg(), vault)
	if err != nil {
		t.Fatalf("opening %s: %v", vault, err)
	}
	if _, err := v.Put(bg(), p, strings.NewReader(content), nil); err != nil {
		t.Fatalf("put %s: %v", p, err)
	}
}

// reads checks that a device opens vault and reads each file's content.
func reads(t *testing.T, who string, s *client.Session, vault string, files map[string]string) {
	t.Helper()
	mustSync(t, s)
	v, _, err := s.PrepareVault(bg(), vault)
	if err != nil {
		t.Fatalf("%s opening %s: %v", who, vault, err)
	}
	for p, want := range files {
		if got := string(get(t, v, p)); got != want {
			t.Errorf("%s reads %s as %q, want %q", who, p, got, want)
		}
	}
}

// rotatedKey opens the user key a rotation sealed to a device, with that
// device's own seal key, as the device does.
func rotatedKey(t *testing.T, org *certificate.Organisation, u *certificate.User, i int, d hostile.Device) *crypto.SealKey {
	t.Helper()
	r := u.Rotations[i]
	for _, e := range r.Sealed {
		if e.DeviceID == d.DeviceID {
			raw, err := d.DeviceSealKey.Open(certificate.UserKeySealContext, certificate.UserKeyAAD(org.ID, u.ID, r.Position), e.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			k, err := crypto.ParseSealKey(raw)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
	}
	return nil
}

// TestA63RevokedCopyOfUserKeys: after Bob revokes his laptop from his
// desktop, his user keys are rotated before the vault's key: the new user
// key is sealed to his remaining devices only, and the vault key rotated
// after it does not open with the laptop's copy of the old user key. What
// was sealed before the rotation still opens with it: that is the
// documented limit (SPEC.md §15.2, SECURITY.md A63).
func TestA63RevokedCopyOfUserKeys(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	id, err := w.bob.CreateVault(bg(), "cardio")
	if err != nil {
		t.Fatal(err)
	}
	putIn(t, w.bob, id.ID, "/before.txt", "before")
	before := w.s.LogState(t, w.bobKeys.OrganisationID)
	rev, err := w.bob.RevokeDevice(bg(), w.laptopKeys.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if rev.UserKeys == nil || len(rev.Rotated) != 1 {
		t.Fatalf("revoking the laptop rotated user keys %v and %d vaults; want both", rev.UserKeys != nil, len(rev.Rotated))
	}
	org := w.s.LogState(t, w.bobKeys.OrganisationID)
	u, _ := org.User(w.bobKeys.UserID)
	v, _ := org.Vault(id.ID)
	if len(u.Rotations) != 1 || u.KeysRotatedAt() > v.Keys[len(v.Keys)-1].Position || org.NeedsRotation(v, v.CreatedAt) {
		t.Fatalf("the vault key is not newer than the user key rotation")
	}
	for _, e := range u.Rotations[0].Sealed {
		if e.DeviceID == w.laptopKeys.DeviceID {
			t.Fatal("the new user key is sealed to the revoked laptop")
		}
	}
	// The laptop's copy of Bob's old key opens nothing of the new vault key.
	if _, err := workspace.OpenKeys(org, v, u.ID, w.laptopKeys.SealKey); !errors.Is(err, workspace.ErrNoKey) {
		t.Fatalf("the revoked laptop's old user key opens the vault key rotated after the user key rotation: %v", err)
	}
	// Bob's desktop opens it with the new user key, from the log.
	newKey := rotatedKey(t, org, u, 0, w.bobKeys)
	now, err := workspace.OpenKeys(org, v, u.ID, newKey)
	if err != nil {
		t.Fatalf("the new user key does not open the vault key: %v", err)
	}
	// The limit: the old key still opens the bundle sealed before the
	// rotation, so the vault key 1 (what was written before).
	vb, _ := before.Vault(id.ID)
	old, err := workspace.OpenKeys(before, vb, u.ID, w.laptopKeys.SealKey)
	if err != nil {
		t.Fatalf("control: the old key does not open the bundle sealed before the rotation: %v", err)
	}
	k1old, _ := old.Get(1)
	k1now, _ := now.Get(1)
	if k2, ok := old.Get(2); ok || !bytes.Equal(k1old.Bytes(), k1now.Bytes()) {
		t.Fatalf("the old key opens key 2 (%v %v) or another key 1", ok, k2)
	}
}

// TestUserKeyRotationKeepsDevicesReading: Bob on a desktop, a laptop and
// a phone; the desktop revokes the phone (user keys, then the vault, are
// rotated); the laptop reads what was written before and after; a tablet
// enrolled after the rotation too. Then an administrator revokes the
// laptop: Bob's next use of the desktop rotates his keys first, then the
// vault, and the tablet still reads everything.
func TestUserKeyRotationKeepsDevicesReading(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	d := dirs(t, "phone", "tablet")
	phone := hostile.Enrol(t, w.bob, d["phone"], "device", "", 0)
	phoneID := hostile.ReadDevice(t, d["phone"]).DeviceID
	phone.Close()
	mustSync(t, w.laptop)
	info, err := w.bob.CreateVault(bg(), "cardio")
	if err != nil {
		t.Fatal(err)
	}
	putIn(t, w.bob, info.ID, "/before.txt", "before")
	if _, err := w.bob.RevokeDevice(bg(), phoneID); err != nil {
		t.Fatal(err)
	}
	putIn(t, w.bob, info.ID, "/after.txt", "after")
	files := map[string]string{"/before.txt": "before", "/after.txt": "after"}
	reads(t, "the laptop", w.laptop, info.ID, files)

	tablet := hostile.Enrol(t, w.laptop, d["tablet"], "device", "", 0)
	reads(t, "the tablet enrolled after the rotation", tablet, info.ID, files)

	// An administrator revokes the laptop: nothing is rotated yet.
	if _, err := w.admin.RevokeDevice(bg(), w.laptopKeys.DeviceID); err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.bob)
	if !w.bob.UserKeysExposed() {
		t.Fatal("after an admin's revocation, Bob's keys are not seen as exposed")
	}
	_, done, err := w.bob.PrepareVault(bg(), info.ID)
	if err != nil || !done.Rotated || w.bob.UserKeysExposed() {
		t.Fatalf("Bob's next use: rotated the vault %v, keys still exposed %v (%v)", done.Rotated, w.bob.UserKeysExposed(), err)
	}
	u, _ := w.bob.Me()
	v, _ := w.bob.Organisation().Vault(info.ID)
	if len(u.Rotations) != 2 || u.KeysRotatedAt() > v.Keys[len(v.Keys)-1].Position {
		t.Fatalf("%d rotations; the vault key is not newer than the newest", len(u.Rotations))
	}
	putIn(t, w.bob, info.ID, "/later.txt", "later")
	files["/later.txt"] = "later"
	reads(t, "the tablet", tablet, info.ID, files)
}

// TestRecoveryAfterUserKeyRotation: a recovery file exported before Bob's
// keys are rotated holds a device the rotation reaches (it has its own seal
// key): imported after, the new device holds Bob's newest key and reads what
// was written before and after (SPEC.md §15.2, §15.5).
func TestRecoveryAfterUserKeyRotation(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	info, err := w.bob.CreateVault(bg(), "cardio")
	if err != nil {
		t.Fatal(err)
	}
	putIn(t, w.bob, info.ID, "/before.txt", "before")
	file := filepath.Join(t.TempDir(), "bob.recovery")
	secret, rec, err := w.bob.ExportRecovery(bg(), file)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.HasSealKey() {
		t.Fatal("the recovery device has no seal key")
	}
	if _, err := w.bob.RevokeDevice(bg(), w.laptopKeys.DeviceID); err != nil {
		t.Fatal(err)
	}
	putIn(t, w.bob, info.ID, "/after.txt", "after")
	u, _ := w.bob.Me()
	if len(u.Rotations) != 1 {
		t.Fatalf("%d user key rotations, want 1", len(u.Rotations))
	}
	restored, err := client.ImportRecovery(bg(), file, secret, filepath.Join(t.TempDir(), "new"), "new", hostile.Passphrase)
	if err != nil {
		t.Fatalf("importing the recovery file after the rotation: %v", err)
	}
	t.Cleanup(func() { restored.Close() })
	reads(t, "the device imported from the recovery file", restored, info.ID, map[string]string{"/before.txt": "before", "/after.txt": "after"})
}
