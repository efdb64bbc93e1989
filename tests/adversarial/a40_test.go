package adversarial

import (
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

// deviceWorld is an organisation with an admin, Bob on two devices
// (desktop, laptop) and Carol, a standard user.
type deviceWorld struct {
	s                           *hostile.Server
	d                           map[string]string
	admin, bob, laptop, carol   *client.Session
	bobKeys, laptopKeys, carolK hostile.Device
}

func newDeviceWorld(t *testing.T) *deviceWorld {
	t.Helper()
	w := &deviceWorld{s: hostile.Start(t), d: dirs(t, "admin", "bob", "laptop", "carol")}
	w.admin = hostile.Bootstrap(t, w.s, w.d["admin"])
	w.bob = hostile.Enrol(t, w.admin, w.d["bob"], "user", "bob@example.org", certificate.ProfileStandard)
	w.laptop = hostile.Enrol(t, w.bob, w.d["laptop"], "device", "", 0)
	w.carol = hostile.Enrol(t, w.admin, w.d["carol"], "user", "carol@example.org", certificate.ProfileStandard)
	w.bobKeys, w.laptopKeys, w.carolK = hostile.ReadDevice(t, w.d["bob"]), hostile.ReadDevice(t, w.d["laptop"]), hostile.ReadDevice(t, w.d["carol"])
	for _, s := range []*client.Session{w.admin, w.bob, w.laptop, w.carol} {
		mustSync(t, s)
	}
	return w
}

// TestA40DeviceRevocationForged: a DeviceRevoked certificate is accepted
// only well signed, by the device's user from another device or by an
// admin, dated no earlier than the entry before it, and once: a forged,
// unauthorised, back-dated, self-signed or replayed one is refused by the
// client (nothing stored) and by the server (SPEC.md §3.3, §15; SECURITY.md
// A40).
func TestA40DeviceRevocationForged(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	org := w.s.LogState(t, w.bobKeys.OrganisationID)
	revoke := certificate.DeviceRevoked{DeviceID: w.laptopKeys.DeviceID}
	honest := signNext(t, org, w.bobKeys.SigningKey, w.bobKeys.DeviceID, revoke)[0]

	back := org.Clone()
	backdated, err := certificate.Sign(w.bobKeys.SigningKey, certificate.Draft{
		OrganisationID: back.ID, Author: w.bobKeys.DeviceID, Time: time.Now().Add(-48 * time.Hour),
		Position: back.Head.Position + 1, PreviousHash: back.Head.Hash, Statement: revoke,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Replayed: the honest revocation, then the same statement again.
	replay := signNext(t, org, w.bobKeys.SigningKey, w.bobKeys.DeviceID, revoke, revoke)

	cases := map[string][][]byte{
		"bad signature":             {mutate(t, honest, nil, func(b *coffrev1.Certificate) { b.TimestampMs++ })},
		"signed by another user":    signNext(t, org, w.carolK.SigningKey, w.carolK.DeviceID, revoke),
		"signed by an attacker key": signNext(t, org, newSigningKey(t), w.bobKeys.DeviceID, revoke),
		"self-revocation":           signNext(t, org, w.laptopKeys.SigningKey, w.laptopKeys.DeviceID, revoke),
		"back-dated":                {backdated},
		"replayed":                  replay,
		"unknown device":            signNext(t, org, w.bobKeys.SigningKey, w.bobKeys.DeviceID, certificate.DeviceRevoked{DeviceID: certificate.NewID()}),
	}
	for name, certs := range cases {
		t.Run(name, func(t *testing.T) {
			head := w.admin.Head()
			w.s.ClearHooks()
			serveExtra(w.s, certs...)
			defer w.s.ClearHooks()
			err := w.admin.Sync(bg())
			wantErr(t, err, client.ErrBadLog)
			// The server's own checks refuse the same bytes.
			if _, aerr := w.s.Dial(t, w.carolK.Signer()).AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: certs}); aerr == nil {
				t.Errorf("the server accepted %s", name)
			}
			if got := w.admin.Head(); !sameHead(got, head) {
				t.Errorf("the admin's verified head moved to %d", got.Position)
			}
			if d, _ := w.admin.Organisation().Device(w.laptopKeys.DeviceID); d.Revoked() {
				t.Errorf("%s: the laptop is revoked in the admin's state", name)
			}
		})
	}
	w.s.ClearHooks()
	// The honest one goes through, once.
	if _, err := w.bob.RevokeDevice(bg(), w.laptopKeys.DeviceID); err != nil {
		t.Fatalf("honest revocation: %v", err)
	}
	if _, err := w.bob.RevokeDevice(bg(), w.laptopKeys.DeviceID); err == nil {
		t.Errorf("revoking the same device twice succeeded")
	}
	mustSync(t, w.admin)
	if d, _ := w.admin.Organisation().Device(w.laptopKeys.DeviceID); !d.Revoked() {
		t.Errorf("the admin does not see the honest revocation")
	}
	// Carol, standard, can't revoke Bob's desktop through the library either.
	if _, err := w.carol.RevokeDevice(bg(), w.bobKeys.DeviceID); err == nil {
		t.Errorf("Carol revoked Bob's device")
	}
	// An admin may revoke anyone's device, even their only one.
	if _, err := w.admin.RevokeDevice(bg(), w.carolK.DeviceID); err != nil {
		t.Errorf("the admin could not revoke Carol's device: %v", err)
	}
}
