package adversarial

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/wire"
)

// TestA41RevokedDeviceSignsNothing: once a device is revoked, the server
// refuses its calls at once (PermissionDenied), except reading the log up
// to its revocation and no further; and a certificate it signs after its
// revocation, served by a server that lets it in, is refused by every
// client (SPEC.md §15, SECURITY.md A41).
func TestA41RevokedDeviceSignsNothing(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	// The laptop listens for events before it is revoked.
	wctx, cancel := context.WithTimeout(bg(), 20*time.Second)
	defer cancel()
	watch, err := w.s.Dial(t, w.laptopKeys.Signer()).Watch(wctx, &coffrev1.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil { // the current head, sent first
		t.Fatal(err)
	}
	rev, err := w.bob.RevokeDevice(bg(), w.laptopKeys.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	revokedAt := rev.Device.RevokedAt
	for {
		_, err := watch.Recv()
		if err == nil {
			continue // events before the revocation's
		}
		if !errors.Is(wire.FromStatus(err), wire.ErrDeviceRevoked) {
			t.Errorf("the revoked laptop's Watch ended with %v, want ErrDeviceRevoked", err)
		}
		break
	}
	// Something happens after the revocation: the laptop must not see it.
	if _, err := w.admin.CreateVault(bg(), "after"); err != nil {
		t.Fatal(err)
	}
	api := w.s.Dial(t, w.laptopKeys.Signer())
	if _, err := api.Hello(bg(), &coffrev1.HelloRequest{}); !errors.Is(wire.FromStatus(err), wire.ErrDeviceRevoked) {
		t.Errorf("Hello from the revoked laptop: %v, want ErrDeviceRevoked", err)
	}
	if _, err := api.ListConnections(bg(), &coffrev1.ListConnectionsRequest{DeviceId: w.laptopKeys.DeviceID}); !errors.Is(wire.FromStatus(err), wire.ErrDeviceRevoked) {
		t.Errorf("ListConnections from the revoked laptop: %v, want ErrDeviceRevoked", err)
	}
	resp, err := api.GetLog(bg(), &coffrev1.GetLogRequest{From: 1})
	if err != nil {
		t.Fatalf("GetLog from the revoked laptop: %v", err)
	}
	if resp.GetHeadPosition() != revokedAt || resp.GetEntries()[len(resp.GetEntries())-1].GetPosition() != revokedAt {
		t.Errorf("the revoked laptop reads the log to %d (head %d), want it cut at its revocation %d",
			resp.GetEntries()[len(resp.GetEntries())-1].GetPosition(), resp.GetHeadPosition(), revokedAt)
	}
	// The laptop's key signs a change; the server refuses it, and a
	// server that serves it anyway is refused by the clients.
	org := w.s.LogState(t, w.laptopKeys.OrganisationID)
	forged := signNext(t, org, w.laptopKeys.SigningKey, w.laptopKeys.DeviceID, certificate.DeviceRevoked{DeviceID: w.bobKeys.DeviceID})
	if _, err := api.AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: forged}); !errors.Is(wire.FromStatus(err), wire.ErrDeviceRevoked) {
		t.Errorf("append by the revoked laptop: %v, want ErrDeviceRevoked", err)
	}
	mustSync(t, w.carol)
	head := w.carol.Head()
	serveExtra(w.s, forged...)
	wantErr(t, w.carol.Sync(bg()), client.ErrBadLog)
	unchanged(t, w.carol, w.d["carol"], head)
}

// TestA41RevokedDeviceVaultEntry: a revoked device signs a vault entry
// claiming an organisation position from before its revocation (when its
// user could write, with the key then newest) but dated after it; a
// server colluding with it stores it. Readers refuse it (Device.
// RevokedBefore in vaultlog.Check), though its user is still a member.
func TestA41RevokedDeviceVaultEntry(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a41",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"dave", certificate.ProfileStandard, certificate.RoleContributor})
	dv := w.open(t, "dave")
	bv := w.open(t, "bob")
	laptopDir := filepath.Join(t.TempDir(), "laptop")
	hostile.Enrol(t, w.sess["dave"], laptopDir, "device", "", 0)
	laptop := hostile.ReadDevice(t, laptopDir)
	mustSync(t, w.sess["dave"])
	before := w.s.LogState(t, w.org)
	index, key := w.keys(t, "dave").Newest()
	if _, err := w.sess["dave"].RevokeDevice(bg(), laptop.DeviceID); err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.sess["bob"])
	mustSyncVault(t, bv)
	head := bv.Log().Head
	entry := w.forgeAddFile(t, dv.Log(), before, laptop.DeviceID, laptop.SigningKey, index, key, "from-the-thief.txt")
	_, err := bv.Log().Clone().Apply(w.sess["bob"].Organisation(), w.keys(t, "bob"), head.Position+1, entry)
	wantErr(t, err, vaultlog.ErrEntryRefused)
	// The same entry by dave's own desktop, still active, would pass: the
	// refusal is the device's revocation, not the user's role.
	ok := w.forgeAddFile(t, dv.Log(), before, w.dev["dave"].DeviceID, w.dev["dave"].SigningKey, index, key, "from-dave.txt")
	if _, err := bv.Log().Clone().Apply(w.sess["bob"].Organisation(), w.keys(t, "bob"), head.Position+1, ok); err != nil {
		t.Errorf("dave's own entry is refused too: %v", err)
	}
}
