package app

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/tests/hostile"
)

// enrolDevice enrols another device of the app's user in a data directory
// of its own (through the library, as enrolUser does) and returns it.
func (ta *testApp) enrolDevice() string {
	ta.t.Helper()
	me := hostile.Open(ta.t, ta.home)
	defer me.Close()
	home := filepath.Join(ta.t.TempDir(), "home")
	hostile.Enrol(ta.t, me, home, "device", "", certificate.ProfileStandard).Close()
	ta.app.closeSession()
	return home
}

// The devices page's calls: the list from the verified log with the last
// connections, another user's for an administrator only, and a revocation
// that says what it rotated (SPEC.md §15.1, §15.2).
func TestDevicesListAndRevoke(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	id := admin.createVault("Cardiologie")
	phoneHome := admin.enrolDevice()
	bob := serveApp(t, admin.enrolUser("bob@example.org"))

	// The unlock says hello to the server, which records the connection.
	if err := admin.app.withSession(testCtx(t), func(s *client.Session) error { _, _, err := s.Hello(testCtx(t)); return err }); err != nil {
		t.Fatal(err)
	}
	var list devicesJSON
	admin.ok("GET", "/api/devices", nil, &list)
	if !list.Me || list.User != "admin@example.org" || list.Offline || len(list.Devices) != 2 {
		t.Fatalf("admin's devices: %+v", list)
	}
	this, other := list.Devices[0], list.Devices[1]
	if !this.This || other.This || this.Revoked || other.Revoked || this.NoSealKey || other.NoSealKey {
		t.Fatalf("devices: %+v", list.Devices)
	}
	if this.LastConnection == nil || this.LastAddress == "" || other.LastConnection != nil {
		t.Errorf("last connections: this %+v, other %+v", this, other)
	}
	if other.CreatedBy != "admin@example.org" {
		t.Errorf("the second device was enrolled by %q", other.CreatedBy)
	}

	// Another user's devices: an administrator's business only.
	bob.fails("GET", "/api/devices"+q("user", "admin@example.org"), nil, http.StatusForbidden, "not_admin")
	bob.fails("POST", "/api/devices/"+other.ID+"/revoke", nil, http.StatusForbidden, "not_admin")
	var bobs devicesJSON
	admin.ok("GET", "/api/devices"+q("user", "bob@example.org"), nil, &bobs)
	if bobs.Me || bobs.User != "bob@example.org" || len(bobs.Devices) != 1 || bobs.Devices[0].This {
		t.Fatalf("bob's devices as the admin sees them: %+v", bobs)
	}
	admin.fails("GET", "/api/devices"+q("user", "nobody@example.org"), nil, http.StatusNotFound, "unknown_user")

	admin.fails("POST", "/api/devices/"+this.ID+"/revoke", nil, http.StatusForbidden, "this_device")
	admin.fails("POST", "/api/devices/nosuchdevice/revoke", nil, http.StatusNotFound, "unknown_device")

	var rev revocationJSON
	admin.ok("POST", "/api/devices/"+other.ID+"/revoke", nil, &rev)
	if !rev.Device.Revoked || rev.Device.ID != other.ID || !rev.UserKeysRotated || rev.UserKeysError != "" || rev.Error != nil {
		t.Fatalf("revocation: %+v", rev)
	}
	if len(rev.Rotated) != 1 || rev.Rotated[0].ID != id || rev.Rotated[0].Name != "Cardiologie" || len(rev.Pending) != 0 || len(rev.Stranded) != 0 {
		t.Fatalf("what was rotated: %+v", rev)
	}
	admin.fails("POST", "/api/devices/"+other.ID+"/revoke", nil, http.StatusConflict, "device_already_revoked")

	list = devicesJSON{}
	admin.ok("GET", "/api/devices", nil, &list)
	if got := list.Devices[1]; !got.Revoked || got.RevokedOn == nil || got.RevokedBy != "admin@example.org" || got.NoSealKey {
		t.Fatalf("the revoked device is listed as %+v", got)
	}

	// The revoked device, back, is refused and erases its copies.
	phone := serveApp(t, phoneHome)
	if msg := phone.fails("GET", "/api/vaults", nil, http.StatusGone, "device_revoked"); !strings.Contains(msg, "revoked") {
		t.Errorf("the revoked device says %q", msg)
	}
}

// An administrator revokes another user's device: the vaults it manages
// are rotated; the user's keys are left to that user's next session.
func TestAdminRevokesAnotherUsersDevice(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	bobHome := admin.enrolUser("bob@example.org")
	bob := serveApp(t, bobHome)
	id := admin.createVault("Partage")
	admin.ok("PUT", "/api/vaults/"+id+"/members/bob@example.org", map[string]any{"role": "reader"}, nil)
	var bobs devicesJSON
	admin.ok("GET", "/api/devices"+q("user", "bob@example.org"), nil, &bobs)
	var rev revocationJSON
	admin.ok("POST", "/api/devices/"+bobs.Devices[0].ID+"/revoke", nil, &rev)
	if !rev.Device.Revoked || rev.UserKeysRotated || len(rev.Rotated) != 1 || rev.Rotated[0].Name != "Partage" {
		t.Fatalf("revocation: %+v", rev)
	}
	bob.app.closeSession()
	bob.fails("GET", "/api/vaults", nil, http.StatusGone, "device_revoked")

	// A revoked user's devices went with them: listed so, not revocable.
	admin.enrolUser("carol@example.org")
	admin.ok("POST", "/api/users/carol@example.org/revoke", nil, nil)
	var carols devicesJSON
	admin.ok("GET", "/api/devices"+q("user", "carol@example.org"), nil, &carols)
	if !carols.UserRevoked || carols.UserRevokedOn == nil || len(carols.Devices) != 1 {
		t.Fatalf("a revoked user's devices: %+v", carols)
	}
	admin.fails("POST", "/api/devices/"+carols.Devices[0].ID+"/revoke", nil, http.StatusConflict, "user_revoked")
}

// A recovery file exported through the API opens with its secret and
// enrols a new device of the user (SPEC.md §15.5); the app keeps neither.
func TestRecoveryExportThroughTheAPI(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	id := admin.createVault("Dossiers")
	admin.put(id, "/a.txt", []byte("recovered"))
	var rec recoveryJSON
	admin.ok("POST", "/api/devices/recovery", nil, &rec)
	if len(rec.File) == 0 || len(rec.Secret) != 35 || !strings.HasPrefix(rec.Device.Label, "recovery ") || !strings.HasSuffix(rec.FileName, ".age") {
		t.Fatalf("export: device %+v, file %d bytes, secret %d characters, name %q", rec.Device, len(rec.File), len(rec.Secret), rec.FileName)
	}
	left, err := filepath.Glob(filepath.Join(admin.home, "recovery-*"))
	if err != nil || len(left) != 0 {
		t.Fatalf("the app left %v behind", left)
	}
	var list devicesJSON
	admin.ok("GET", "/api/devices", nil, &list)
	if len(list.Devices) != 2 || list.Devices[1].ID != rec.Device.ID {
		t.Fatalf("the recovery device is not listed: %+v", list.Devices)
	}

	file := filepath.Join(t.TempDir(), rec.FileName)
	if err := os.WriteFile(file, rec.File, 0o600); err != nil {
		t.Fatal(err)
	}
	newHome := filepath.Join(t.TempDir(), "home")
	s, err := client.ImportRecovery(testCtx(t), file, rec.Secret, newHome, "new-laptop", hostile.Passphrase)
	if err != nil {
		t.Fatalf("importing the exported file: %v", err)
	}
	s.Close()
	restored := serveApp(t, newHome)
	if _, got, _ := restored.get("content", id, "/a.txt"); string(got) != "recovered" {
		t.Fatalf("the recovered device reads %q", got)
	}
}
