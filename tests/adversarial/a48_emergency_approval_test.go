package adversarial

import (
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
)

// TestA48ApprovalOnlyByTheApprover: with an approver in the policy, an
// invocation gives nothing until that person approves it: no role, no
// release. An approval by anyone else, the invoker's own, a second one (a
// replay of the approval) and one of an invocation that doesn't exist are
// refused by the server and by every client (SECURITY.md A48, SPEC.md
// §16.3).
func TestA48ApprovalOnlyByTheApprover(t *testing.T) {
	t.Parallel()
	w := emergencyWorld(t, time.Hour, "dave@example.org")
	e, err := w.sess["carol"].InvokeEmergency(bg(), w.vault, "needs the head of unit's approval")
	if err != nil {
		t.Fatal(err)
	}
	if e.Running || !e.NeedsApproval {
		t.Fatalf("an invocation waiting for approval: %+v", e)
	}
	// Not approved: no role, and no member releases.
	mustSync(t, w.sess["bob"])
	if _, done, err := w.sess["bob"].PrepareVault(bg(), w.vault); err != nil || len(done.Released) != 0 {
		t.Fatalf("bob's upkeep before the approval: %+v, %v", done, err)
	}
	early := w.signAs(t, "bob", time.Now(), w.releaseTo(t, "carol"))
	w.refusedEverywhere(t, "bob", early, "alice")
	_, err = w.sess["carol"].InvokeEmergency(bg(), w.vault, "again")
	if err == nil {
		t.Fatal("a second invocation while one waits for approval")
	}
	approve := func(pos uint64) certificate.EmergencyApproved {
		return certificate.EmergencyApproved{VaultID: w.vault, InvocationPosition: pos}
	}
	// By someone other than the approver: the owner, the invoker.
	w.refusedEverywhere(t, "alice", w.signAs(t, "alice", time.Now(), approve(e.Position)), "bob")
	w.refusedEverywhere(t, "carol", w.signAs(t, "carol", time.Now(), approve(e.Position)), "alice")
	// Of a position that is no invocation.
	w.refusedEverywhere(t, "dave", w.signAs(t, "dave", time.Now(), approve(e.Position-1)), "alice")

	if err := w.sess["dave"].ApproveEmergency(bg(), w.vault, "carol@example.org"); err != nil {
		t.Fatal(err)
	}
	// A second approval.
	w.refusedEverywhere(t, "dave", w.signAs(t, "dave", time.Now(), approve(e.Position)), "alice")

	mustSync(t, w.sess["bob"])
	if _, done, err := w.sess["bob"].PrepareVault(bg(), w.vault); err != nil || len(done.Released) != 1 {
		t.Fatalf("bob's upkeep after the approval: %+v, %v", done, err)
	}
	get(t, w.open(t, "carol"), "/chart.txt")
	mustSync(t, w.sess["alice"])
	es := w.sess["alice"].Emergencies()
	if len(es) != 1 || !es[0].Approved || es[0].ApprovedBy != "Claimer <dave@example.org>" {
		t.Fatalf("alice's emergencies: %+v", es)
	}
}

// TestA48NobodyApprovesTheirOwn: a policy may name its approver among its
// invokers, but an approver who invokes can't approve themselves.
func TestA48NobodyApprovesTheirOwn(t *testing.T) {
	t.Parallel()
	w := emergencyWorld(t, time.Hour, "")
	err := w.sess["alice"].SetEmergencyPolicy(bg(), w.vault, client.EmergencyPolicyOptions{
		Invokers: []string{"dave@example.org"}, Duration: time.Hour, Approver: "dave@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.sess["dave"])
	e, err := w.sess["dave"].InvokeEmergency(bg(), w.vault, "self-service")
	if err != nil {
		t.Fatal(err)
	}
	err = w.sess["dave"].ApproveEmergency(bg(), w.vault, "dave@example.org")
	wantErr(t, err, client.ErrNotAllowed)
	w.refusedEverywhere(t, "dave", w.signAs(t, "dave", time.Now(), certificate.EmergencyApproved{VaultID: w.vault, InvocationPosition: e.Position}), "alice")
	w.noKey(t, "dave")
}
