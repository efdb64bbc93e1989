package adversarial

import (
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

// TestA13LogTruncationRefused: a server that drops the last entries of the
// log — in its store, or in what it answers — is refused by a client that
// verified them (ErrRollback), and one that claims entries it does not send
// is refused too (ErrBadLog); the client's verified state stays
// (SECURITY.md A13, SPEC.md §4.3).
func TestA13LogTruncationRefused(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "bob")
	admin := hostile.Bootstrap(t, s, d["admin"])
	hostile.Enrol(t, admin, d["bob"], "user", "bob@example.org", certificate.ProfileStandard)
	if _, err := admin.SetProfile(bg(), "bob@example.org", certificate.ProfileOutsider); err != nil {
		t.Fatal(err)
	}
	org := admin.Identity().OrganisationID
	original := s.Log(t, org)
	before := admin.Head()
	if before.Position != 5 {
		t.Fatalf("head %d, want 5", before.Position)
	}

	// In the store: the server restarts on a log cut after Bob's device,
	// and after the admin's.
	for _, keep := range []uint64{4, 2} {
		s.TruncateLog(t, org, keep)
		err := admin.Sync(bg())
		wantErr(t, err, certificate.ErrRollback)
		if u, _ := admin.Organisation().User(hostile.ReadDevice(t, d["bob"]).UserID); u == nil || u.Profile != certificate.ProfileOutsider {
			t.Fatal("the verified state lost what the dropped entries said")
		}
		admin = unchanged(t, admin, d["admin"], before)
	}

	// In the answers: a head one short, with or without entries.
	s.EditLog(t, org, func([][]byte) [][]byte { return original })
	for name, rewrite := range map[string]func(*coffrev1.GetLogResponse){
		"head one short": func(r *coffrev1.GetLogResponse) { r.HeadPosition = before.Position - 1 },
		"head zero":      func(r *coffrev1.GetLogResponse) { r.HeadPosition = 0 },
		"older entry and shorter head": func(r *coffrev1.GetLogResponse) {
			r.HeadPosition, r.Entries = 4, []*coffrev1.LogEntry{{Position: 4, Data: original[3]}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
				if r, ok := resp.(*coffrev1.GetLogResponse); ok && err == nil {
					rewrite(r)
				}
				return resp, err
			})
			wantErr(t, admin.Sync(bg()), certificate.ErrRollback)
			if !sameHead(admin.Head(), before) {
				t.Fatal("head moved")
			}
		})
	}
	// A head beyond the verified one with nothing to back it.
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if r, ok := resp.(*coffrev1.GetLogResponse); ok && err == nil {
			r.HeadPosition += 3
		}
		return resp, err
	})
	wantErr(t, admin.Sync(bg()), client.ErrBadLog)
	s.ClearHooks()
	admin = unchanged(t, admin, d["admin"], before)

	// The whole log back: the client goes on from where it was.
	mustSync(t, admin)
	if !sameHead(admin.Head(), before) {
		t.Fatal("head differs from the restored log")
	}
}

// TestA13LogRollbackRefused: the server restores a snapshot of its store
// taken before entries that clients verified: every client that verified
// them refuses the restored log (ErrRollback) and keeps its state; a
// client that never saw them goes on (SECURITY.md A13, SPEC.md §7.3).
func TestA13LogRollbackRefused(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "tablet", "bob")
	admin := hostile.Bootstrap(t, s, d["admin"])
	tablet := hostile.Enrol(t, admin, d["tablet"], "device", "", 0)
	bob := hostile.Enrol(t, admin, d["bob"], "user", "bob@example.org", certificate.ProfileStandard)
	mustSync(t, admin)
	mustSync(t, tablet)
	snapshot := s.Snapshot()
	atSnapshot := admin.Head()

	// After the snapshot: Bob is demoted, the admin and Bob verify it; the
	// tablet does not sync.
	if _, err := admin.SetProfile(bg(), "bob@example.org", certificate.ProfileOutsider); err != nil {
		t.Fatal(err)
	}
	mustSync(t, bob)
	adminHead, bobHead := admin.Head(), bob.Head()
	if adminHead.Position != atSnapshot.Position+1 || !sameHead(adminHead, bobHead) {
		t.Fatalf("heads %d and %d after the change", adminHead.Position, bobHead.Position)
	}

	s.Restore(snapshot)
	wantErr(t, admin.Sync(bg()), certificate.ErrRollback)
	wantErr(t, bob.Sync(bg()), certificate.ErrRollback)
	if me, _ := bob.Me(); me.Profile != certificate.ProfileOutsider {
		t.Fatal("Bob's verified profile went back")
	}
	admin = unchanged(t, admin, d["admin"], adminHead)
	bob = unchanged(t, bob, d["bob"], bobHead)
	// Again after the restored server has been running a while.
	s.Restart()
	wantErr(t, admin.Sync(bg()), certificate.ErrRollback)
	wantErr(t, bob.Sync(bg()), certificate.ErrRollback)
	unchanged(t, admin, d["admin"], adminHead)
	unchanged(t, bob, d["bob"], bobHead)

	// The tablet verified nothing after the snapshot: for it the restored
	// log is simply the log (the protocol alone can't tell, SPEC.md §4.4).
	mustSync(t, tablet)
	if !sameHead(tablet.Head(), atSnapshot) {
		t.Fatal("the tablet is not at the snapshot's head")
	}
}

// TestA13AcknowledgedAppendDropped: after the server acknowledges an
// append at the head it was signed at, the client stores what it signed as
// verified without fetching it back (client.adoptAppended); a server that
// then drops it (here, its store is cut back to before the append) is
// refused at the next read (ErrRollback), and the device keeps the state it
// verified (SECURITY.md A13, SPEC.md §4.3).
func TestA13AcknowledgedAppendDropped(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "bob")
	admin := hostile.Bootstrap(t, s, d["admin"])
	hostile.Enrol(t, admin, d["bob"], "user", "bob@example.org", certificate.ProfileStandard)
	mustSync(t, admin)
	org := admin.Identity().OrganisationID
	before := admin.Head()
	if _, err := admin.SetProfile(bg(), "bob@example.org", certificate.ProfileOutsider); err != nil {
		t.Fatal(err)
	}
	after := admin.Head()
	if after.Position != before.Position+1 {
		t.Fatalf("head %d after one append from %d", after.Position, before.Position)
	}
	if stored := s.Log(t, org); uint64(len(stored)) != after.Position {
		t.Fatalf("the server holds %d entries, the client verified %d", len(stored), after.Position)
	}
	s.TruncateLog(t, org, before.Position)
	wantErr(t, admin.Sync(bg()), certificate.ErrRollback)
	admin = unchanged(t, admin, d["admin"], after)
	wantErr(t, admin.Sync(bg()), certificate.ErrRollback)
}
