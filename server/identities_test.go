package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
)

// appendWithOpening signs stmts by d and appends them, the first with
// opening beside it (SPEC.md §17), mirroring them locally when accepted.
func (ts *testServer) appendWithOpening(t *testing.T, d device, opening []byte, stmts ...certificate.Statement) error {
	t.Helper()
	certs, err := ts.org.SignNext(d.key, d.id, time.Now(), stmts...)
	if err != nil {
		t.Fatal(err)
	}
	sent := append([][]byte(nil), certs...)
	if sent[0], err = certificate.WithIdentity(certs[0], opening); err != nil {
		t.Fatal(err)
	}
	req := &coffrev1.AppendCertificatesRequest{Certificates: sent}
	_, err = ts.api.AppendCertificates(ts.signed(t, d, coffrev1.CoffreService_AppendCertificates_FullMethodName, time.Now(), req), req)
	if err != nil {
		return wire.FromStatus(err)
	}
	for _, c := range certs {
		if _, err := ts.org.Apply(ts.org.Head.Position+1, c); err != nil {
			t.Fatal(err)
		}
	}
	return nil
}

// TestServerChecksIdentityOpenings: an identity opening appended beside a
// certificate must open that certificate's commitment, or the append is
// refused and nothing is stored (SPEC.md §17, SECURITY.md A68): the server
// would otherwise store, and serve, a name its clients refuse.
func TestServerChecksIdentityOpenings(t *testing.T) {
	ts, admin := startBootstrapped(t)
	seal, _ := crypto.GenerateSealKey()
	bob := newDevice(t)
	opening, commitment := certificate.NewIdentity(ts.orgID, bob.user, "Bob", "bob@x")
	other, _ := certificate.NewIdentity(ts.orgID, bob.user, "Mallory", "mallory@x")
	elsewhere, _ := certificate.NewIdentity("another-org", bob.user, "Bob", "bob@x")
	user := certificate.UserCreated{UserID: bob.user, Profile: certificate.ProfileStandard, SealKey: seal.Public(), IdentityCommitment: commitment}
	dev := certificate.DeviceAdded{DeviceID: bob.id, UserID: bob.user, Label: "l", VerifyKey: bob.key.Public()}
	head := ts.org.Head.Position
	for name, o := range map[string][]byte{
		"another identity":              other,
		"the opening of another org":    elsewhere,
		"an altered opening":            append(append([]byte(nil), opening[:len(opening)-1]...), opening[len(opening)-1]^1),
		"garbage":                       []byte("not an identity"),
		"an opening of a too-short one": opening[:4],
	} {
		if err := ts.appendWithOpening(t, admin, o, user, dev); !errors.Is(err, wire.ErrCertificateRefused) {
			t.Errorf("%s: append = %v, want ErrCertificateRefused", name, err)
		}
	}
	if h, err := ts.srv.cfg.Store.LogHead(context.Background(), ts.orgID); err != nil || h.Position != head {
		t.Fatalf("after refused appends the head is %d (%v), want %d", h.Position, err, head)
	}
	if err := ts.appendWithOpening(t, admin, opening, user, dev); err != nil {
		t.Fatalf("the matching opening: %v", err)
	}
	// The server knows the identity it checked: a device invitation of
	// bob's carries his email, as before commitments.
	req := &coffrev1.CreateInvitationRequest{TokenHash: make([]byte, 32), Kind: coffrev1.InvitationKind_INVITATION_KIND_DEVICE,
		ExpiresMs: time.Now().Add(time.Hour).UnixMilli()}
	resp, err := ts.api.CreateInvitation(ts.signed(t, bob, coffrev1.CoffreService_CreateInvitation_FullMethodName, time.Now(), req), req)
	if err != nil {
		t.Fatalf("bob's device invitation: %v", err)
	}
	if inv, err := ts.srv.cfg.Store.Invitation(context.Background(), ts.orgID, resp.GetInvitationId()); err != nil || inv.Email != "bob@x" {
		t.Fatalf("bob's device invitation has email %q (%v), want bob@x", inv.Email, err)
	}
	// An opening beside a certificate that creates no user is refused,
	// though the certificate alone is allowed.
	if err := ts.appendWithOpening(t, admin, opening, certificate.UserRevoked{UserID: bob.user}); !errors.Is(err, wire.ErrCertificateRefused) {
		t.Errorf("opening beside a revocation: append = %v, want ErrCertificateRefused", err)
	}
	if err := ts.publish(t, admin, certificate.UserRevoked{UserID: bob.user}); err != nil {
		t.Fatalf("the revocation alone: %v", err)
	}
}

// TestServerRefusesADuplicateEmail: the log can't see a committed email,
// so the server, which opens every identity appended, refuses a user whose
// email (in any case) is another active user's, committed or in clear; a
// revoked user's email may be given again (SPEC.md §3.3, §17, SECURITY.md
// A70). A courtesy: the clients holding the openings refuse it anyway.
func TestServerRefusesADuplicateEmail(t *testing.T) {
	ts, admin := startBootstrapped(t) // the admin's email, in clear: a@x
	committed := func(email string) (device, []byte, []certificate.Statement) {
		d := newDevice(t)
		seal, _ := crypto.GenerateSealKey()
		opening, commitment := certificate.NewIdentity(ts.orgID, d.user, "Someone", email)
		return d, opening, []certificate.Statement{
			certificate.UserCreated{UserID: d.user, Profile: certificate.ProfileStandard, SealKey: seal.Public(), IdentityCommitment: commitment},
			certificate.DeviceAdded{DeviceID: d.id, UserID: d.user, Label: "l", VerifyKey: d.key.Public()},
		}
	}
	_, opening, stmts := committed("bob@x")
	if err := ts.appendWithOpening(t, admin, opening, stmts...); err != nil {
		t.Fatalf("bob: %v", err)
	}
	bob := stmts[0].(certificate.UserCreated).UserID
	head := ts.org.Head.Position
	for _, email := range []string{"A@x", "bob@x", "Bob@X"} {
		_, opening, stmts := committed(email)
		if err := ts.appendWithOpening(t, admin, opening, stmts...); !errors.Is(err, wire.ErrCertificateRefused) {
			t.Errorf("a committed user with email %s: append = %v, want ErrCertificateRefused", email, err)
		}
	}
	seal, _ := crypto.GenerateSealKey()
	clear := certificate.UserCreated{UserID: certificate.NewID(), Name: "Bob", Email: "BOB@x", Profile: certificate.ProfileStandard, SealKey: seal.Public()}
	if err := ts.publish(t, admin, clear); !errors.Is(err, wire.ErrCertificateRefused) {
		t.Errorf("a user in clear with bob's committed email: append = %v, want ErrCertificateRefused", err)
	}
	if h, err := ts.srv.cfg.Store.LogHead(context.Background(), ts.orgID); err != nil || h.Position != head {
		t.Fatalf("after refused appends the head is %d (%v), want %d", h.Position, err, head)
	}
	if err := ts.publish(t, admin, certificate.UserRevoked{UserID: bob}); err != nil {
		t.Fatalf("revoking bob: %v", err)
	}
	_, opening, stmts = committed("bob@x")
	if err := ts.appendWithOpening(t, admin, opening, stmts...); err != nil {
		t.Fatalf("bob's email given again after his revocation: %v", err)
	}
}
