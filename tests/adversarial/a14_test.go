package adversarial

import (
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

// TestA14ForkDetected: the server shows two admins two branches of the log
// (snapshot, let one admin write, restore, let the other write). As soon as
// a client is shown an entry of the other branch it refuses it (ErrFork)
// and keeps its state; a new member compares its log with its greeter's
// head and refuses a branch other than its greeter's (SECURITY.md A14,
// SPEC.md §4.4).
func TestA14ForkDetected(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "alice", "bob", "carol")
	alice := hostile.Bootstrap(t, s, d["alice"])
	bob := hostile.Enrol(t, alice, d["bob"], "user", "bob@example.org", certificate.ProfileAdmin)
	hostile.Enrol(t, alice, d["carol"], "user", "carol@example.org", certificate.ProfileStandard)
	mustSync(t, alice)
	mustSync(t, bob)
	snapshot := s.Snapshot()

	// Branch X: Alice demotes Carol; Alice verifies it.
	if _, err := alice.SetProfile(bg(), "carol@example.org", certificate.ProfileOutsider); err != nil {
		t.Fatal(err)
	}
	aliceHead := alice.Head()

	// Branch Y, from the snapshot: Bob promotes Carol, then demotes her.
	s.Restore(snapshot)
	if _, err := bob.SetProfile(bg(), "carol@example.org", certificate.ProfileAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SetProfile(bg(), "carol@example.org", certificate.ProfileOutsider); err != nil {
		t.Fatal(err)
	}
	if bob.Head().Position != aliceHead.Position+1 {
		t.Fatalf("Bob's branch at %d, Alice's at %d", bob.Head().Position, aliceHead.Position)
	}

	// Alice is shown branch Y.
	err := alice.Sync(bg())
	wantErr(t, err, certificate.ErrFork)
	if u, _ := alice.FindUser("carol@example.org"); u.Profile != certificate.ProfileOutsider {
		t.Fatal("Alice's verified state took something from the other branch")
	}
	alice = unchanged(t, alice, d["alice"], aliceHead)
	// Still refused after restarts, for as long as the branches differ.
	s.Restart()
	wantErr(t, alice.Sync(bg()), certificate.ErrFork)
	unchanged(t, alice, d["alice"], aliceHead)

	t.Run("enrolment compares heads", func(t *testing.T) { forkAtEnrolment(t) })
}

// forkAtEnrolment: the greeter's verified head travels to the claimer in
// the sealed confirmation. Right after the greeter appends the new user, a
// second admin's certificate Z lands at the next position, which the
// greeter verifies; the claimer is shown Z' instead, another genuine
// certificate of the same admin at the same position (as two devices of
// that admin, each on its own branch, would sign). Every entry the claimer
// sees verifies, but its chain does not pass through the greeter's head.
func forkAtEnrolment(t *testing.T) {
	s := hostile.Start(t)
	d := dirs(t, "alice", "bob", "carol")
	alice := hostile.Bootstrap(t, s, d["alice"])
	hostile.Enrol(t, alice, d["bob"], "user", "bob@example.org", certificate.ProfileAdmin)
	org := alice.Identity().OrganisationID
	bob := hostile.ReadDevice(t, d["bob"])

	var (
		mu     sync.Mutex
		zPrime []byte
		zPos   uint64
		fail   error
	)
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		switch method {
		case coffrev1.CoffreService_AppendCertificates_FullMethodName:
			if err != nil || req.(*coffrev1.AppendCertificatesRequest).GetInvitationId() == "" || zPrime != nil {
				return resp, err
			}
			state, e := s.Verified(org)
			if e != nil {
				fail = e
				return resp, err
			}
			var carol string
			for _, u := range state.Users() {
				if u.Email == "carol@example.org" {
					carol = u.ID
				}
			}
			z, e1 := state.SignNext(bob.SigningKey, bob.DeviceID, time.Now(), certificate.ProfileChanged{UserID: carol, Profile: certificate.ProfileOutsider})
			zp, e2 := state.SignNext(bob.SigningKey, bob.DeviceID, time.Now(), certificate.ProfileChanged{UserID: carol, Profile: certificate.ProfileAdmin})
			if e1 != nil || e2 != nil {
				fail = e1
				return resp, err
			}
			if e := s.Append(org, z...); e != nil {
				fail = e
				return resp, err
			}
			zPrime, zPos = zp[0], state.Head.Position+1
		case coffrev1.CoffreService_GetLog_FullMethodName:
			// The claimer's first read of the log: the other branch.
			if err == nil && req.(*coffrev1.GetLogRequest).GetFrom() == 1 && zPrime != nil {
				for _, e := range resp.(*coffrev1.GetLogResponse).Entries {
					if e.Position == zPos {
						e.Data = zPrime
					}
				}
			}
		}
		return resp, err
	})
	l, inv := hostile.Invite(t, alice, "user", "carol@example.org", certificate.ProfileStandard)
	res := hostile.RunEnrolment(t, alice, l, inv, d["carol"], hostile.EnrolOptions{})
	if fail != nil {
		t.Fatal(fail)
	}
	if res.GreetErr != nil {
		t.Fatalf("greeter: %v", res.GreetErr)
	}
	if alice.Head().Position != zPos {
		t.Fatalf("the greeter's head is %d, not Z's position %d", alice.Head().Position, zPos)
	}
	wantErr(t, res.ClaimErr, certificate.ErrFork)
	if res.Session != nil || client.HasDevice(d["carol"]) {
		t.Fatal("the claimer kept a device on the other branch")
	}
	noDevice(t, d["carol"])
}

// TestA14ReorderRefused: entries swapped — in the server's answers, or in
// its store — are refused: a certificate signs its position and the hash
// of the entry before it (SPEC.md §4.2). The server refuses to serve a
// store whose log was reordered (it re-verifies its own store).
func TestA14ReorderRefused(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "tablet", "bob")
	admin := hostile.Bootstrap(t, s, d["admin"])
	tablet := hostile.Enrol(t, admin, d["tablet"], "device", "", 0)
	hostile.Enrol(t, admin, d["bob"], "user", "bob@example.org", certificate.ProfileStandard)
	if _, err := admin.SetProfile(bg(), "bob@example.org", certificate.ProfileOutsider); err != nil {
		t.Fatal(err)
	}
	org := admin.Identity().OrganisationID
	// The tablet stopped at 3 (its own enrolment); 4 (Bob), 5 (his device)
	// and 6 (his profile) are new to it.
	before := tablet.Head()
	if before.Position != 3 || headOf(t, s, org) != 6 {
		t.Fatalf("tablet at %d, server at %d", before.Position, headOf(t, s, org))
	}

	for name, reorder := range map[string]func([]*coffrev1.LogEntry){
		"bytes swapped, positions kept": func(e []*coffrev1.LogEntry) { e[0].Data, e[1].Data = e[1].Data, e[0].Data },
		"entries out of order":          func(e []*coffrev1.LogEntry) { e[0], e[1] = e[1], e[0] },
		"last two swapped":              func(e []*coffrev1.LogEntry) { e[1].Data, e[2].Data = e[2].Data, e[1].Data },
		"an entry repeated":             func(e []*coffrev1.LogEntry) { e[1].Data = e[0].Data },
		"an entry dropped, renumbered": func(e []*coffrev1.LogEntry) {
			e[1].Data, e[2].Data = e[2].Data, nil
			e[2].Position = 0
		},
	} {
		t.Run(name, func(t *testing.T) {
			s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
				// The entry at the tablet's head, then the three new ones.
				if r, ok := resp.(*coffrev1.GetLogResponse); ok && err == nil && len(r.Entries) == 4 {
					reorder(r.Entries[1:])
					if r.Entries[3].Position == 0 {
						r.Entries, r.HeadPosition = r.Entries[:3], 5
					}
				}
				return resp, err
			})
			err := tablet.Sync(bg())
			wantErr(t, err, certificate.ErrFork)
			if !sameHead(tablet.Head(), before) {
				t.Fatal("head moved")
			}
			if _, err := tablet.FindUser("bob@example.org"); err == nil {
				t.Fatal("Bob is in the verified state from a refused log")
			}
		})
	}
	s.ClearHooks()
	tablet = unchanged(t, tablet, d["tablet"], before)

	// In the store: the server, restarted on a reordered log, refuses to
	// serve it; nobody's state moves.
	adminHead := admin.Head()
	s.SwapLogEntries(t, org, 4, 5)
	if err := tablet.Sync(bg()); err == nil {
		t.Fatal("the server served a reordered log")
	}
	if err := admin.Sync(bg()); err == nil {
		t.Fatal("the server served a reordered log")
	}
	tablet = unchanged(t, tablet, d["tablet"], before)
	unchanged(t, admin, d["admin"], adminHead)
	// Put back in order, everything works again.
	s.SwapLogEntries(t, org, 4, 5)
	mustSync(t, tablet)
	if !sameHead(tablet.Head(), adminHead) {
		t.Fatal("the tablet does not reach the admin's head")
	}
}
