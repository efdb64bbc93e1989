package adversarial

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/wire"
)

// TestA7ForgedMemberRefused: members and profiles come only from the
// verified log. A server that adds a member — signed by a key it controls,
// in the name of the root key, of an unknown device or of a real admin's
// device — is refused; so are certificates a member signs beyond its
// rights (a colluding member's real key, read from its key file), and an
// admin adding a device to another member's account (SECURITY.md A7,
// SPEC.md §3.3).
func TestA7ForgedMemberRefused(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "bob")
	admin := hostile.Bootstrap(t, s, d["admin"])
	hostile.Enrol(t, admin, d["bob"], "user", "bob@example.org", certificate.ProfileStandard)
	mustSync(t, admin)
	org := admin.Identity().OrganisationID
	adminKeys, bob := hostile.ReadDevice(t, d["admin"]), hostile.ReadDevice(t, d["bob"])
	attacker := newSigningKey(t)
	state := s.LogState(t, org)

	mallory := certificate.UserCreated{
		UserID: certificate.NewID(), Name: "Mallory", Email: "mallory@example.org",
		Profile: certificate.ProfileAdmin, SealKey: newSealKey(t).Public(),
	}
	malloryDevice := certificate.DeviceAdded{DeviceID: certificate.NewID(), UserID: mallory.UserID, Label: "evil", VerifyKey: attacker.Public()}
	intoBob := certificate.DeviceAdded{DeviceID: certificate.NewID(), UserID: bob.UserID, Label: "evil", VerifyKey: attacker.Public()}
	intoAdmin := certificate.DeviceAdded{DeviceID: certificate.NewID(), UserID: adminKeys.UserID, Label: "evil", VerifyKey: attacker.Public()}
	// sender is who sends the case to the honest server too (nil: nobody
	// but the server itself could).
	cases := []struct {
		name   string
		certs  [][]byte
		cause  error
		sender *hostile.Device
	}{
		{"user signed as the root key", signNext(t, state, attacker, "", mallory, malloryDevice), certificate.ErrRule, nil},
		{"user signed by an unknown device", signNext(t, state, attacker, certificate.NewID(), mallory, malloryDevice), certificate.ErrRule, nil},
		{"user signed with the server's key as the admin's device", signNext(t, state, attacker, adminKeys.DeviceID, mallory, malloryDevice), certificate.ErrSignature, nil},
		{"user and device signed by a standard member", signNext(t, state, bob.SigningKey, bob.DeviceID, mallory, malloryDevice), certificate.ErrRule, &bob},
		{"user alone signed by a standard member", signNext(t, state, bob.SigningKey, bob.DeviceID, mallory), certificate.ErrRule, &bob},
		{"admin adds a device to a member", signNext(t, state, adminKeys.SigningKey, adminKeys.DeviceID, intoBob), certificate.ErrRule, &adminKeys},
		{"member adds a device to the admin", signNext(t, state, bob.SigningKey, bob.DeviceID, intoAdmin), certificate.ErrRule, &bob},
		{"member makes itself admin", signNext(t, state, bob.SigningKey, bob.DeviceID, certificate.ProfileChanged{UserID: bob.UserID, Profile: certificate.ProfileAdmin}), certificate.ErrRule, &bob},
		{"member revokes the admin", signNext(t, state, bob.SigningKey, bob.DeviceID, certificate.UserRevoked{UserID: adminKeys.UserID}), certificate.ErrRule, &bob},
		{"admin revokes itself", signNext(t, state, adminKeys.SigningKey, adminKeys.DeviceID, certificate.UserRevoked{UserID: adminKeys.UserID}), certificate.ErrRule, &adminKeys},
	}
	before := admin.Head()
	users := len(admin.Organisation().Users())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			serveExtra(s, c.certs...)
			err := admin.Sync(bg())
			wantErr(t, err, client.ErrBadLog)
			wantCause(t, err, c.cause)
			if !sameHead(admin.Head(), before) {
				t.Fatal("head moved")
			}
			o := admin.Organisation()
			if len(o.Users()) != users {
				t.Fatal("a user was added from a refused log")
			}
			for _, dev := range []string{malloryDevice.DeviceID, intoBob.DeviceID, intoAdmin.DeviceID} {
				if _, ok := o.Device(dev); ok {
					t.Fatal("a device was added from a refused log")
				}
			}
			if u, _ := o.User(bob.UserID); u.Profile != certificate.ProfileStandard {
				t.Fatal("Bob's profile changed")
			}
			if me, _ := admin.Me(); me.Revoked() {
				t.Fatal("the admin was revoked")
			}
		})
	}
	s.ClearHooks()
	admin = unchanged(t, admin, d["admin"], before)

	// The honest server refuses the same certificates when their signer
	// sends them (defence in depth), and stores nothing.
	head := headOf(t, s, org)
	for _, c := range cases {
		if c.sender == nil {
			continue
		}
		_, err := s.Dial(t, c.sender.Signer()).AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: c.certs})
		if wire.FromStatus(err) != wire.ErrCertificateRefused {
			t.Errorf("%s: server answered %v, want %v", c.name, err, wire.ErrCertificateRefused)
		}
	}
	if headOf(t, s, org) != head {
		t.Fatal("the server stored a refused certificate")
	}

	// A server that writes a forged member into its own store stops
	// serving the organisation (it re-verifies its store) rather than
	// serving it; the client's state does not move either way.
	s.AppendRaw(t, org, cases[0].certs...)
	if err := admin.Sync(bg()); err == nil {
		t.Fatal("a store holding a forged member was served")
	}
	s.Restart()
	if err := admin.Sync(bg()); err == nil {
		t.Fatal("a store holding a forged member was served after a restart")
	}
	admin = unchanged(t, admin, d["admin"], before)
	s.TruncateLog(t, org, before.Position)
	mustSync(t, admin)
	if !sameHead(admin.Head(), before) {
		t.Fatal("head moved")
	}
}

// TestA7NonAdminCannotInvite: a standard member can't invite users, change
// profiles or revoke — neither through the client, which refuses first, nor
// with raw calls signed by its own device key (read from its key file),
// which the server refuses (SPEC.md §5 step 1, §6.2).
func TestA7NonAdminCannotInvite(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "bob")
	admin := hostile.Bootstrap(t, s, d["admin"])
	bobSession := hostile.Enrol(t, admin, d["bob"], "user", "bob@example.org", certificate.ProfileStandard)
	org := admin.Identity().OrganisationID
	adminKeys, bob := hostile.ReadDevice(t, d["admin"]), hostile.ReadDevice(t, d["bob"])

	// The client refuses on its own.
	if _, _, err := bobSession.InviteUser(bg(), "eve@example.org", certificate.ProfileAdmin, client.DefaultInvitationLife); err == nil {
		t.Fatal("a standard user invited a user")
	} else {
		wantErr(t, err, client.ErrNotAdmin)
	}
	_, err := bobSession.SetProfile(bg(), bob.UserID, certificate.ProfileAdmin)
	wantErr(t, err, client.ErrNotAdmin)
	_, err = bobSession.Revoke(bg(), adminKeys.UserID)
	wantErr(t, err, client.ErrNotAdmin)
	_, adminInvitation := hostile.Invite(t, admin, "user", "carol@example.org", certificate.ProfileStandard)
	_, err = bobSession.Greet(bg(), adminInvitation, nil)
	wantErr(t, err, client.ErrNotAdmin)

	// Raw calls, signed with Bob's real device key, bypass the client.
	raw := s.Dial(t, bob.Signer())
	token := crypto.RandomBytes(32)
	hash := sha256.Sum256(token)
	_, err = raw.CreateInvitation(bg(), &coffrev1.CreateInvitationRequest{
		TokenHash: hash[:], Kind: coffrev1.InvitationKind_INVITATION_KIND_USER,
		Email: "eve@example.org", Profile: coffrev1.Profile_PROFILE_ADMIN, ExpiresMs: time.Now().Add(time.Hour).UnixMilli(),
	})
	if wire.FromStatus(err) != wire.ErrForbidden {
		t.Fatalf("raw user invitation by a standard user: %v, want %v", err, wire.ErrForbidden)
	}
	invs, err := s.Store().Invitations(bg(), org)
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range invs {
		if inv.CreatedBy == bob.DeviceID || inv.Kind == "user" && inv.Email == "eve@example.org" {
			t.Fatalf("the server stored a standard user's invitation: %+v", inv)
		}
	}
	// Nor can Bob see, cancel or greet the admin's user invitation.
	list, err := raw.ListInvitations(bg(), &coffrev1.ListInvitationsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range list.GetInvitations() {
		if inv.GetId() == adminInvitation.ID {
			t.Fatal("a standard user sees a user invitation")
		}
	}
	_, err = raw.CancelInvitation(bg(), &coffrev1.CancelInvitationRequest{InvitationId: adminInvitation.ID})
	if wire.FromStatus(err) != wire.ErrForbidden {
		t.Fatalf("cancel by a standard user: %v", err)
	}
	_, err = raw.RelayPost(bg(), &coffrev1.RelayPostRequest{
		OrganisationId: org, InvitationId: adminInvitation.ID, Side: coffrev1.RelaySide_RELAY_SIDE_GREETER, Attempt: 1, Step: 1, Payload: []byte("x"),
	})
	if wire.FromStatus(err) != wire.ErrInvitationUnusable {
		t.Fatalf("greeting as a standard user: %v", err)
	}
	ctx, cancel := context.WithTimeout(bg(), 5*time.Second)
	defer cancel()
	_, err = raw.RelayWait(ctx, &coffrev1.RelayWaitRequest{
		OrganisationId: org, InvitationId: adminInvitation.ID, Side: coffrev1.RelaySide_RELAY_SIDE_CLAIMER, Step: 1,
	})
	if wire.FromStatus(err) != wire.ErrInvitationUnusable {
		t.Fatalf("waiting as a greeter, as a standard user: %v", err)
	}
	if inv, err := s.Store().Invitation(bg(), org, adminInvitation.ID); err != nil || inv.State != "pending" {
		t.Fatalf("the admin's invitation changed: %+v %v", inv, err)
	}
	// The rest of an admin's powers, as raw appends signed by Bob.
	state := s.LogState(t, org)
	head := state.Head.Position
	for name, stmt := range map[string]certificate.Statement{
		"create a user": certificate.UserCreated{UserID: certificate.NewID(), Name: "Eve", Email: "eve@example.org",
			Profile: certificate.ProfileAdmin, SealKey: newSealKey(t).Public()},
		"promote itself":   certificate.ProfileChanged{UserID: bob.UserID, Profile: certificate.ProfileAdmin},
		"revoke the admin": certificate.UserRevoked{UserID: adminKeys.UserID},
	} {
		_, err := raw.AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: signNext(t, state, bob.SigningKey, bob.DeviceID, stmt)})
		if wire.FromStatus(err) != wire.ErrCertificateRefused {
			t.Errorf("%s: %v, want %v", name, err, wire.ErrCertificateRefused)
		}
	}
	if headOf(t, s, org) != head {
		t.Fatal("the server stored a standard user's certificate")
	}
	// Bob may still do what a standard user may: invite his own device.
	if _, _, err := bobSession.InviteDevice(bg(), client.DefaultInvitationLife); err != nil {
		t.Fatalf("a standard user can't invite their own device: %v", err)
	}
}

// TestA7InvitedProfileNotFromServer: the profile a new user gets must be
// the one the inviting admin chose, not one the server reports. The greeter
// signs UserCreated with the profile of the invitation as the server lists
// it (client.Session.FindInvitation → Greet uses inv.Profile), the greeter's
// person is never shown it (Prompter.ConfirmClaimer gets name, email and
// label only), and the inviting client keeps no record of what it asked
// for. A server that edits the invitation it stores turns an invited
// standard user into an admin, signed by the real admin.
func TestA7InvitedProfileNotFromServer(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "bob")
	admin := hostile.Bootstrap(t, s, d["admin"])
	l, invited := hostile.Invite(t, admin, "user", "bob@example.org", certificate.ProfileStandard)
	// The server edits its own record of the invitation: everything it
	// answers (ListInvitations, ClaimInvitation) and its own defence-in-depth
	// check of the appended certificates now say "admin".
	if _, err := s.Store().UpdateInvitation(bg(), admin.Identity().OrganisationID, invited.ID, func(inv *store.Invitation) error {
		inv.Profile = certificate.ProfileAdmin.String()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// As 'coffre user greet' does: find the invitation through the server.
	inv, err := admin.FindInvitation(bg(), "user", "bob@example.org")
	if err != nil {
		t.Fatal(err)
	}
	res := hostile.RunEnrolment(t, admin, l, inv, d["bob"], hostile.EnrolOptions{})
	mustSync(t, admin)
	bob, err := admin.FindUser("bob@example.org")
	if err == nil && bob.Profile == certificate.ProfileAdmin {
		t.Fatalf("the server made the invited standard user an admin (greeter: %v, claimer: %v)", res.GreetErr, res.ClaimErr)
	}
}
