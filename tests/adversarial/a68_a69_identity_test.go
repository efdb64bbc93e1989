package adversarial

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

// Identities (SPEC.md §17): a user's name and email travel beside the
// certificate that commits to them; the server withholds them from an
// outsider who shares no vault with that user, and can't forge them.

// storedOpening returns the identity opening the server stores beside the
// certificate that created user id.
func (w *world) storedOpening(t *testing.T, id string) (uint64, []byte) {
	t.Helper()
	u, ok := w.sess["alice"].Organisation().User(id)
	if !ok {
		t.Fatalf("no user %s", id)
	}
	_, opening, err := certificate.SplitIdentity(w.s.Log(t, w.org)[u.Position-1])
	if err != nil || opening == nil {
		t.Fatalf("the server stores no opening beside user %s's certificate (%v)", id, err)
	}
	return u.Position, opening
}

// identityOf returns how a session shows user id: unknown, or its name
// and email.
func identityOf(t *testing.T, s *client.Session, id string) (unknown bool, name, email string) {
	t.Helper()
	u, ok := s.Organisation().User(id)
	if !ok {
		t.Fatalf("no user %s", id)
	}
	return u.Unknown(), u.Name, u.Email
}

// TestA68ForgedIdentityRefused: the server (or anyone on its disk) can't
// make a client show a name or email that its user's certificate did not
// commit to: another identity, the right one altered, another user's
// replayed, or an opening beside a certificate that creates no user, each
// fails the read (ErrBadLog, caused by certificate.ErrIdentity) and the
// user stays unknown. Withholding the opening only leaves the user unknown,
// shown by id; once sent, it is stored and shown after a restart
// (SECURITY.md A68, SPEC.md §17).
func TestA68ForgedIdentityRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "Dossiers",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"carol", certificate.ProfileOutsider, certificate.RoleNone})
	carol := w.sess["carol"]
	alice, bob := w.user("alice"), w.user("bob")
	if unknown, name, _ := identityOf(t, carol, alice); !unknown || name != "" {
		t.Fatalf("carol, sharing no vault, knows alice as %q", name)
	}
	at, aliceOpening := w.storedOpening(t, alice)
	_, bobOpening := w.storedOpening(t, bob)
	forged, _ := certificate.NewIdentity(w.org, alice, "Mallory", "mallory@example.org")
	var id coffrev1.Identity
	if err := proto.Unmarshal(aliceOpening, &id); err != nil {
		t.Fatal(err)
	}
	id.Name = "Mallory" // the right salt and email, another name
	altered, err := proto.MarshalOptions{Deterministic: true}.Marshal(&id)
	if err != nil {
		t.Fatal(err)
	}
	// Alice and bob become carol's co-members: her next Sync asks for
	// their identities.
	if _, err := w.sess["alice"].ShareVault(bg(), w.vault, "carol@example.org", certificate.RoleReader, time.Time{}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name    string
		opening []byte
		// onUser: put opening beside alice's certificate; else beside
		// every certificate that creates no user.
		onUser bool
	}{
		{"another identity for alice", forged, true},
		{"alice's identity altered", altered, true},
		{"bob's identity replayed as alice's", bobOpening, true},
		{"alice's identity beside certificates that create no user", aliceOpening, false},
	}
	for _, c := range cases {
		w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
			if method != coffrev1.CoffreService_GetLog_FullMethodName || err != nil {
				return resp, err
			}
			for _, e := range resp.(*coffrev1.GetLogResponse).Entries {
				cert, _, err := certificate.SplitIdentity(e.Data)
				if err != nil {
					continue
				}
				parsed, err := certificate.Parse(cert)
				if err != nil {
					continue
				}
				_, creates := parsed.Statement.(certificate.UserCreated)
				if (c.onUser && e.Position == at) || (!c.onUser && !creates) {
					e.Data, _ = certificate.WithIdentity(cert, c.opening)
				}
			}
			return resp, nil
		})
		err := carol.Sync(bg())
		w.s.ClearHooks()
		wantErr(t, err, client.ErrBadLog)
		wantErr(t, err, certificate.ErrIdentity)
		if unknown, name, email := identityOf(t, carol, alice); !unknown {
			t.Fatalf("%s: carol shows alice as %q <%s>", c.name, name, email)
		}
	}

	// Withheld: alice stays unknown, shown by id, nothing fails.
	w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method == coffrev1.CoffreService_GetLog_FullMethodName && err == nil {
			for _, e := range resp.(*coffrev1.GetLogResponse).Entries {
				e.Data, _, _ = certificate.SplitIdentity(e.Data)
			}
		}
		return resp, err
	})
	mustSync(t, carol)
	w.s.ClearHooks()
	if unknown, _, _ := identityOf(t, carol, alice); !unknown {
		t.Fatal("alice's identity withheld, carol knows her")
	}
	vaults, err := carol.Vaults()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range vaults {
		for _, m := range v.Members {
			if m.UserID == alice {
				found = m.Unknown && m.Name == "" && m.Email == ""
			}
		}
	}
	if !found {
		t.Fatalf("carol's vaults don't show alice as an unknown member: %+v", vaults)
	}

	// Sent as committed, the identities are shown, and kept on disk.
	mustSync(t, carol)
	for _, who := range []string{"alice", "bob"} {
		if unknown, _, email := identityOf(t, carol, w.user(who)); unknown || email != map[string]string{"alice": "admin@example.org", "bob": "bob@example.org"}[who] {
			t.Fatalf("carol, a co-member of %s, shows them as %q (unknown %v)", who, email, unknown)
		}
	}
	carol = w.reopen(t, "carol")
	if unknown, _, email := identityOf(t, carol, alice); unknown || email != "admin@example.org" {
		t.Fatalf("after a restart carol shows alice as %q (unknown %v)", email, unknown)
	}
	if bytes.Equal(altered, aliceOpening) {
		t.Fatal("the altered opening is alice's own")
	}
}

// TestA69OutsiderGetsOnlyItsCoMembersIdentities: an outsider's log reads
// carry the identity openings of the users it shares a vault with (and its
// own), and none of the others': dave, a member who shares no vault with
// carol, is unknown to her, while members see him (SECURITY.md A69,
// SPEC.md §17). A courtesy of the honest server against a curious
// outsider, not a cryptographic guarantee: a server that sent them would
// be believed.
func TestA69OutsiderGetsOnlyItsCoMembersIdentities(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "Dossiers",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"carol", certificate.ProfileOutsider, certificate.RoleReader},
		member{"dave", certificate.ProfileStandard, certificate.RoleNone})
	carol := w.sess["carol"]
	dave, bob := w.user("dave"), w.user("bob")
	davePos, _ := w.storedOpening(t, dave)
	bobPos, _ := w.storedOpening(t, bob)

	// What the server sends carol when she reads the whole log again
	// (only carol reads meanwhile).
	var sentDave, sentBob bool
	w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method != coffrev1.CoffreService_GetLog_FullMethodName || err != nil {
			return resp, err
		}
		for _, e := range resp.(*coffrev1.GetLogResponse).Entries {
			_, opening, _ := certificate.SplitIdentity(e.Data)
			sentDave = sentDave || (e.Position == davePos && opening != nil)
			sentBob = sentBob || (e.Position == bobPos && opening != nil)
		}
		return resp, nil
	})
	rep, err := carol.VerifyAudit(bg())
	w.s.ClearHooks()
	if err != nil || rep.Problem != "" {
		t.Fatalf("carol's audit: %+v, %v", rep, err)
	}
	if sentDave {
		t.Error("the server sent carol, an outsider sharing no vault with dave, dave's identity")
	}
	if !sentBob {
		t.Error("the server did not send carol the identity of bob, her co-member")
	}
	if unknown, name, email := identityOf(t, carol, dave); !unknown {
		t.Errorf("carol knows dave as %q <%s>", name, email)
	}
	if unknown, _, email := identityOf(t, carol, bob); unknown || email != "bob@example.org" {
		t.Errorf("carol shows bob, her co-member, as %q (unknown %v)", email, unknown)
	}
	mustSync(t, w.sess["bob"])
	if unknown, _, email := identityOf(t, w.sess["bob"], dave); unknown || email != "dave@example.org" {
		t.Errorf("bob, a member, shows dave as %q (unknown %v)", email, unknown)
	}
}

// TestCommittedEmailStaysUnique: with emails committed, the log can't
// refuse a second active user with the same email (SPEC.md §3.3): the
// greeter's client does, from the identities it opened.
func TestCommittedEmailStaysUnique(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "bob", "bob2")
	admin := hostile.Bootstrap(t, s, d["admin"])
	hostile.Enrol(t, admin, d["bob"], "user", "bob@example.org", certificate.ProfileStandard)
	l, inv := hostile.Invite(t, admin, "user", "bob@example.org", certificate.ProfileStandard)
	res := hostile.RunEnrolment(t, admin, l, inv, d["bob2"], hostile.EnrolOptions{})
	wantErr(t, res.GreetErr, client.ErrNotAllowed)
	if res.Session != nil {
		t.Fatal("a second user with bob's email was enrolled")
	}
}
