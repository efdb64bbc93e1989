package adversarial

import (
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/wire"
)

// TestA70DuplicateEmailRefused: with emails committed (SPEC.md §17) the
// log can't refuse a second active user with a colleague's email; an
// administrator's modified client could enrol one, with the colleague's
// name, and the others would show the impostor as him. The server refuses
// the append; placed in the log anyway (a colluding server), it is refused
// by every client holding both openings (ErrBadLog, caused by
// certificate.ErrDuplicateEmail), in whichever order the openings come: a
// client that was sent the impostor's first refuses the log once it gets
// the colleague's (SECURITY.md A70, SPEC.md §3.3).
func TestA70DuplicateEmailRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "Dossiers", member{"bob", certificate.ProfileStandard, certificate.RoleContributor})
	bob := w.user("bob")
	bobPos, _ := w.storedOpening(t, bob)
	u, _ := w.sess["alice"].Organisation().User(bob)

	// Carol, a member, joins while the server withholds bob's opening:
	// she doesn't know bob's email yet.
	withholdBob := func(method string, req, resp any, err error) (any, error) {
		if method == coffrev1.CoffreService_GetLog_FullMethodName && err == nil {
			for _, e := range resp.(*coffrev1.GetLogResponse).Entries {
				if e.Position == bobPos {
					e.Data, _, _ = certificate.SplitIdentity(e.Data)
				}
			}
		}
		return resp, err
	}
	w.s.RewriteUnary(withholdBob)
	carolDir := t.TempDir()
	carol := hostile.Enrol(t, w.sess["alice"], carolDir, "user", "carol@example.org", certificate.ProfileStandard)
	if unknown, _, _ := identityOf(t, carol, bob); !unknown {
		t.Fatal("bob's opening withheld, carol knows him")
	}

	// Alice's client, modified, signs a second user with bob's name and
	// email (in another case) and a device of its own.
	impostor := certificate.NewID()
	seal, err := crypto.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	opening, commitment := certificate.NewIdentity(w.org, impostor, u.Name, "Bob@Example.org")
	certs := w.signAs(t, "alice", time.Now(),
		certificate.UserCreated{UserID: impostor, Profile: certificate.ProfileStandard, SealKey: seal.Public(), IdentityCommitment: commitment},
		certificate.DeviceAdded{DeviceID: certificate.NewID(), UserID: impostor, Label: "Bob's laptop", VerifyKey: key.Public()})
	if certs[0], err = certificate.WithIdentity(certs[0], opening); err != nil {
		t.Fatal(err)
	}
	if err := w.appendAs(t, "alice", certs); err != wire.ErrCertificateRefused {
		t.Fatalf("the server took a second user with bob's email: %v", err)
	}

	// The server colludes: the impostor is in the log.
	w.s.AppendRaw(t, w.org, certs...)
	for _, name := range []string{"bob", "alice"} {
		head := w.sess[name].Head()
		err := w.sess[name].Sync(bg())
		wantErr(t, err, client.ErrBadLog)
		wantErr(t, err, certificate.ErrDuplicateEmail)
		w.sess[name] = unchanged(t, w.sess[name], w.dir[name], head)
		if _, ok := w.sess[name].Organisation().User(impostor); ok {
			t.Fatalf("%s's state holds the impostor", name)
		}
	}

	// Carol, without bob's opening, can't tell: she shows the impostor.
	mustSync(t, carol)
	if unknown, _, email := identityOf(t, carol, impostor); unknown || email != "Bob@Example.org" {
		t.Fatalf("carol shows the impostor as %q (unknown %v)", email, unknown)
	}
	// Sent bob's opening, she refuses it, and the log with it.
	w.s.ClearHooks()
	err = carol.Sync(bg())
	wantErr(t, err, client.ErrBadLog)
	wantErr(t, err, certificate.ErrDuplicateEmail)
	if unknown, _, email := identityOf(t, carol, bob); !unknown {
		t.Fatalf("carol took bob's opening, %s, beside the impostor's", email)
	}
	carol = hostile.Reopen(t, carol, carolDir)
	err = carol.Sync(bg())
	wantErr(t, err, client.ErrBadLog)
	wantErr(t, err, certificate.ErrDuplicateEmail)
}

// TestA70RevokedUsersEmailGivenAgain: the email of a revoked user may be
// given to a new user (SPEC.md §3.3): bob leaves, a new bob joins with his
// email, and every client takes it.
func TestA70RevokedUsersEmailGivenAgain(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "Dossiers",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"carol", certificate.ProfileStandard, certificate.RoleReader})
	if _, err := w.sess["alice"].Revoke(bg(), "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	again := hostile.Enrol(t, w.sess["alice"], t.TempDir(), "user", "bob@example.org", certificate.ProfileStandard)
	newBob := again.Identity().UserID
	if newBob == w.user("bob") {
		t.Fatal("the new bob has the old one's id")
	}
	for _, s := range []*client.Session{w.sess["alice"], w.sess["carol"], again} {
		mustSync(t, s)
		if unknown, _, email := identityOf(t, s, newBob); unknown || email != "bob@example.org" {
			t.Fatalf("the new bob shows as %q (unknown %v)", email, unknown)
		}
	}
	mustSync(t, hostile.Reopen(t, w.sess["carol"], w.dir["carol"]))
}
