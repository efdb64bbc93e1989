package adversarial

import (
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/wire"
)

// TestA15BackdatedRevokedDeviceRefused: once a user is revoked, the server
// refuses their devices' calls at once (wire.ErrDeviceRevoked), and
// clients refuse anything their devices sign after the revocation — even
// with the server's help and the revoked device's real key, back-dated to
// before the revocation, or claiming a position before it (SECURITY.md
// A15, SPEC.md §3.3, §6.1).
func TestA15BackdatedRevokedDeviceRefused(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "bob", "carol")
	admin := hostile.Bootstrap(t, s, d["admin"])
	// Bob is an admin: what he signs after his revocation would pass every
	// other rule.
	bobSession := hostile.Enrol(t, admin, d["bob"], "user", "bob@example.org", certificate.ProfileAdmin)
	hostile.Enrol(t, admin, d["carol"], "user", "carol@example.org", certificate.ProfileStandard)
	mustSync(t, admin)
	org := admin.Identity().OrganisationID
	bob, carol := hostile.ReadDevice(t, d["bob"]), hostile.ReadDevice(t, d["carol"])
	bobUser, _ := admin.Organisation().User(bob.UserID)
	enrolledAt := bobUser.CreatedAt
	beforeRevocation := s.LogState(t, org) // what Bob's device could sign at, before

	if _, err := admin.Revoke(bg(), "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	revokedHead := admin.Head()

	// The server refuses Bob's device at once, on a session opened before
	// the revocation and on raw calls with his key.
	// Reading the log is the one call left, cut at the revocation, so the
	// device can verify it (SPEC.md §15.2).
	if err := bobSession.Sync(bg()); err != nil || !sameHead(bobSession.Head(), revokedHead) {
		t.Fatalf("a revoked device's sync: %v, head %d; want the log up to its revocation %d", err, bobSession.Head().Position, revokedHead.Position)
	}
	if _, err := bobSession.Invitations(bg()); err == nil {
		t.Fatal("a revoked device listed invitations")
	} else {
		wantErr(t, err, wire.ErrDeviceRevoked)
	}
	state := s.LogState(t, org)
	extra := certificate.DeviceAdded{DeviceID: certificate.NewID(), UserID: bob.UserID, Label: "after", VerifyKey: newSigningKey(t).Public()}
	_, err := s.Dial(t, bob.Signer()).AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{
		Certificates: signNext(t, state, bob.SigningKey, bob.DeviceID, extra),
	})
	if wire.FromStatus(err) != wire.ErrDeviceRevoked {
		t.Fatalf("raw append by a revoked device: %v, want %v", err, wire.ErrDeviceRevoked)
	}
	if headOf(t, s, org) != revokedHead.Position {
		t.Fatal("the server stored a revoked device's certificate")
	}

	// The server, helped by Bob (who kept his key), appends certificates
	// signed by Bob's device.
	sign := func(at time.Time, pos uint64, prev []byte, stmt certificate.Statement) []byte {
		data, err := certificate.Sign(bob.SigningKey, certificate.Draft{
			OrganisationID: org, Author: bob.DeviceID, Time: at, Position: pos, PreviousHash: prev, Statement: stmt,
		})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	next, prev := state.Head.Position+1, state.Head.Hash
	promote := certificate.ProfileChanged{UserID: carol.UserID, Profile: certificate.ProfileAdmin}
	cases := []struct {
		name  string
		data  []byte
		want  error
		cause error
	}{
		{"after the revocation, dated now", sign(time.Now(), next, prev, promote), client.ErrBadLog, certificate.ErrRule},
		{"after the revocation, back-dated to before it", sign(enrolledAt, next, prev, promote), client.ErrBadLog, certificate.ErrRule},
		{"a device for himself", sign(time.Now(), next, prev, extra), client.ErrBadLog, certificate.ErrRule},
		{"claiming the revocation's position", sign(enrolledAt, beforeRevocation.Head.Position+1, beforeRevocation.Head.Hash, promote), certificate.ErrFork, certificate.ErrChain},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			serveExtra(s, c.data)
			err := admin.Sync(bg())
			wantErr(t, err, c.want)
			wantCause(t, err, c.cause)
			if !sameHead(admin.Head(), revokedHead) {
				t.Fatal("head moved")
			}
			if _, ok := admin.Organisation().Device(extra.DeviceID); ok {
				t.Fatal("a revoked user's new device is in the verified state")
			}
			if u, _ := admin.Organisation().User(bob.UserID); !u.Revoked() {
				t.Fatal("Bob is no longer revoked")
			}
			if u, _ := admin.Organisation().User(carol.UserID); u.Profile != certificate.ProfileStandard {
				t.Fatal("Carol's profile changed")
			}
		})
	}
	// Timestamps never go back, whoever signs: Carol (still a member)
	// signing a device of her own with a date before the revocation.
	carolDevice := certificate.DeviceAdded{DeviceID: certificate.NewID(), UserID: carol.UserID, Label: "old", VerifyKey: newSigningKey(t).Public()}
	backdated, err := certificate.Sign(carol.SigningKey, certificate.Draft{
		OrganisationID: org, Author: carol.DeviceID, Time: enrolledAt, Position: next, PreviousHash: prev, Statement: carolDevice,
	})
	if err != nil {
		t.Fatal(err)
	}
	serveExtra(s, backdated)
	err = admin.Sync(bg())
	wantErr(t, err, client.ErrBadLog)
	wantCause(t, err, certificate.ErrRule)
	s.ClearHooks()
	admin = unchanged(t, admin, d["admin"], revokedHead)

	// The same, dated now, is accepted: the refusals above were about the
	// author's revocation and the date, nothing else.
	_, err = s.Dial(t, carol.Signer()).AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{
		Certificates: signNext(t, state, carol.SigningKey, carol.DeviceID, carolDevice),
	})
	if err != nil {
		t.Fatalf("Carol adding her own device: %v", err)
	}
	mustSync(t, admin)
	if _, ok := admin.Organisation().Device(carolDevice.DeviceID); !ok {
		t.Fatal("Carol's new device is not in the verified state")
	}
}
