package adversarial

import (
	"errors"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
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
	rev, err := w.bob.RevokeDevice(bg(), w.laptopKeys.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	revokedAt := rev.Device.RevokedAt
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
