package adversarial

import (
	"strings"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/tests/hostile"
)

// TestAuditVerifyReportsRollbackAndFork: 'coffre audit --verify' fetches the
// whole log again and compares it with what the device verified: a server
// that cut the log, or that serves another branch, is reported — and an
// honest log is reported consistent (SECURITY.md A13, A14; SPEC.md §13).
func TestAuditVerifyReportsRollbackAndFork(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "bob")
	admin := hostile.Bootstrap(t, s, d["admin"])
	hostile.Enrol(t, admin, d["bob"], "user", "bob@example.org", certificate.ProfileStandard)
	org := admin.Identity().OrganisationID

	rep, err := admin.VerifyAudit(bg())
	if err != nil || !rep.Consistent || rep.Positions != admin.Head().Position {
		t.Fatalf("honest log: %+v, %v; want consistent at %d", rep, err, admin.Head().Position)
	}
	history, err := admin.Audit()
	if err != nil || len(history) != int(admin.Head().Position) || !strings.Contains(history[2].Action, "enrolled user") {
		t.Fatalf("audit history: %d entries (%v), want %d starting with the enrolment", len(history), err, admin.Head().Position)
	}

	// A fork: snapshot, a change the admin verifies, then the old state
	// back with another genuine change on top — Bob's real device adding a
	// device of his own: a valid branch that differs from the admin's.
	snap := s.Snapshot()
	if _, err := admin.SetProfile(bg(), "bob@example.org", certificate.ProfileOutsider); err != nil {
		t.Fatal(err)
	}
	verified := admin.Head()
	s.Restore(snap)
	bob := hostile.ReadDevice(t, d["bob"])
	extra := newSigningKey(t)
	serveExtra(s, signNext(t, s.LogState(t, org), bob.SigningKey, bob.DeviceID,
		certificate.DeviceAdded{DeviceID: certificate.NewID(), UserID: bob.UserID, Label: "other branch", VerifyKey: extra.Public()})...)
	rep, err = admin.VerifyAudit(bg())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Consistent || !strings.Contains(rep.Problem, "fork") {
		t.Fatalf("a forked log: %+v, want a fork reported", rep)
	}
	if admin.Head().Position != verified.Position || string(admin.Head().Hash) != string(verified.Hash) {
		t.Fatal("verifying the audit moved the device's verified head")
	}

	// A rollback: the server's log ends before the verified head.
	s.ClearHooks()
	s.Restore(snap)
	rep, err = admin.VerifyAudit(bg())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Consistent || !strings.Contains(rep.Problem, "rollback") {
		t.Fatalf("a rolled-back log: %+v, want a rollback reported", rep)
	}
}
