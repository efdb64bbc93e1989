package adversarial

import (
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

// rotationOf is the UserKeysRotated statement an honest device of userID
// signs at the position after org's head: the new key sealed to each of
// devices' seal keys (SPEC.md §15.2).
func rotationOf(t *testing.T, org *certificate.Organisation, userID string, next *crypto.SealKey, devices ...*certificate.Device) certificate.UserKeysRotated {
	t.Helper()
	st := certificate.UserKeysRotated{UserID: userID, SealKey: next.Public()}
	pos := org.Head.Position + 1
	for _, d := range devices {
		sealed, err := crypto.SealTo(d.SealKey, certificate.UserKeySealContext, certificate.UserKeyAAD(org.ID, userID, pos), next.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		st.Sealed = append(st.Sealed, certificate.DeviceSealedKey{DeviceID: d.ID, Sealed: sealed})
	}
	return st
}

// TestA62UserKeysRotationForged: a rotation of a user's keys is accepted
// only signed by one of that user's own active devices, sealed to exactly
// their active devices that have a seal key, to a key they never used,
// dated no earlier than the entry before it and at its own position: a
// forged, back-dated or replayed one, one by another user's device, by an
// admin or by the revoked device, one sealed to the revoked device or to
// another user's in place of one of theirs, one missing a device, one reusing an old key is refused
// by the client (nothing stored) and by the server (SPEC.md §15.2,
// SECURITY.md A62).
func TestA62UserKeysRotationForged(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	phoneDir := dirs(t, "phone")["phone"]
	phone := hostile.Enrol(t, w.bob, phoneDir, "device", "", 0)
	phoneKeys := hostile.ReadDevice(t, phoneDir)
	phone.Close()
	// An admin revokes the phone: Bob's keys are exposed, not rotated yet.
	if _, err := w.admin.RevokeDevice(bg(), phoneKeys.DeviceID); err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.admin)
	org := w.s.LogState(t, w.bobKeys.OrganisationID)
	dev := func(id string) *certificate.Device {
		d, ok := org.Device(id)
		if !ok || !d.HasSealKey() {
			t.Fatalf("device %s has no seal key in the log", id)
		}
		return d
	}
	desktop, laptop, revoked, carols := dev(w.bobKeys.DeviceID), dev(w.laptopKeys.DeviceID), dev(phoneKeys.DeviceID), dev(w.carolK.DeviceID)
	bob := w.bobKeys.UserID
	adminK := hostile.ReadDevice(t, w.d["admin"])
	next := newSealKey(t)
	honestSt := rotationOf(t, org, bob, next, desktop, laptop)
	honest := signNext(t, org, w.bobKeys.SigningKey, w.bobKeys.DeviceID, honestSt)[0]

	back := org.Clone()
	backdated, err := certificate.Sign(w.bobKeys.SigningKey, certificate.Draft{
		OrganisationID: back.ID, Author: w.bobKeys.DeviceID, Time: time.Now().Add(-48 * time.Hour),
		Position: back.Head.Position + 1, PreviousHash: back.Head.Hash, Statement: honestSt,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Rotated once, honestly, then back to the key Bob had first.
	after := org.Clone()
	first := signNext(t, after, w.bobKeys.SigningKey, w.bobKeys.DeviceID, honestSt)
	if _, err := after.Apply(after.Head.Position+1, first[0]); err != nil {
		t.Fatal(err)
	}
	reuse := append(first, signNext(t, after, w.bobKeys.SigningKey, w.bobKeys.DeviceID,
		rotationOf(t, after, bob, w.bobKeys.SealKey, desktop, laptop))...)

	cases := map[string][][]byte{
		"bad signature":                 {mutate(t, honest, nil, func(b *coffrev1.Certificate) { b.TimestampMs++ })},
		"signed by an attacker key":     signNext(t, org, newSigningKey(t), w.bobKeys.DeviceID, honestSt),
		"signed by another user":        signNext(t, org, w.carolK.SigningKey, w.carolK.DeviceID, honestSt),
		"signed by an admin":            signNext(t, org, adminK.SigningKey, adminK.DeviceID, honestSt),
		"signed by the revoked device":  signNext(t, org, phoneKeys.SigningKey, phoneKeys.DeviceID, honestSt),
		"back-dated":                    {backdated},
		"replayed":                      signNext(t, org, w.bobKeys.SigningKey, w.bobKeys.DeviceID, honestSt, honestSt),
		"sealed to the revoked device":  signNext(t, org, w.bobKeys.SigningKey, w.bobKeys.DeviceID, rotationOf(t, org, bob, next, desktop, revoked)),
		"sealed to another user's":      signNext(t, org, w.bobKeys.SigningKey, w.bobKeys.DeviceID, rotationOf(t, org, bob, next, desktop, carols)),
		"missing a device":              signNext(t, org, w.bobKeys.SigningKey, w.bobKeys.DeviceID, rotationOf(t, org, bob, next, desktop)),
		"reusing the current key":       signNext(t, org, w.bobKeys.SigningKey, w.bobKeys.DeviceID, rotationOf(t, org, bob, w.bobKeys.SealKey, desktop, laptop)),
		"reusing a key used before":     reuse,
		"for another user by their own": signNext(t, org, w.bobKeys.SigningKey, w.bobKeys.DeviceID, rotationOf(t, org, w.carolK.UserID, next, carols)),
	}
	for name, certs := range cases {
		t.Run(name, func(t *testing.T) {
			head := w.laptop.Head()
			w.s.ClearHooks()
			serveExtra(w.s, certs...)
			defer w.s.ClearHooks()
			err := w.laptop.Sync(bg())
			wantErr(t, err, client.ErrBadLog)
			if _, aerr := w.s.Dial(t, w.carolK.Signer()).AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: certs}); aerr == nil {
				t.Errorf("the server accepted %s", name)
			}
			if got := w.laptop.Head(); !sameHead(got, head) {
				t.Errorf("the laptop's verified head moved to %d", got.Position)
			}
			if u, _ := w.laptop.Organisation().User(bob); u.KeysRotatedAt() != 0 {
				t.Errorf("%s: Bob's keys are rotated in the laptop's state", name)
			}
		})
	}
	w.s.ClearHooks()
	// The honest one goes through.
	if _, err := w.s.Dial(t, w.bobKeys.Signer()).AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: [][]byte{honest}}); err != nil {
		t.Fatalf("honest rotation: %v", err)
	}
	mustSync(t, w.laptop)
	if u, _ := w.laptop.Organisation().User(bob); u.KeysRotatedAt() == 0 || !u.SealKey.Equal(next.Public()) {
		t.Fatal("the laptop does not see the honest rotation")
	}
}
