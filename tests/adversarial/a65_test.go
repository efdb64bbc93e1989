package adversarial

import (
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/wire"
)

// TestA65ShareOnlyAfterMatchingCodes: a member's share leaves their
// device only sealed in a channel whose codes both people compared. A
// server in the middle of a recovery exchange (both ephemeral keys
// swapped, as in A8), or a person who types a code that doesn't match,
// aborts the exchange on both sides before the member is even asked:
// nothing is posted after the codes, the person gets no device (SPEC.md
// §5, §15.6; SECURITY.md A65).
func TestA65ShareOnlyAfterMatchingCodes(t *testing.T) {
	t.Parallel()
	w := newRecoveryWorld(t)
	if _, err := w.bob.ShareRecovery(bg(), bobsMembers[:1], 1); err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.carol)
	bob := hostile.ReadDevice(t, w.d["bob"])
	for _, tc := range []struct {
		name  string
		mitm  bool
		types func(string) string
	}{
		{name: "server in the middle", mitm: true},
		{name: "code mistyped", types: func(heard string) string { return "ZZZZ" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &mitm{}
			if tc.mitm {
				w.s.RewriteRequest(m.rewrite)
			}
			defer w.s.ClearHooks()
			rec := w.s.Record()
			head := headOf(t, w.s, bob.OrganisationID)
			p := newRecoveryPeople()
			p.personTypes = tc.types
			res := recoverWith(t, p, "bob@example.org", w.d["new"], w.carol)
			w.s.StopRecording()
			if tc.mitm && (m.err != nil || m.swapped != 2) {
				t.Fatalf("the man in the middle did not swap both keys (%d, %v)", m.swapped, m.err)
			}
			for side, err := range map[string]error{"person": res.err, "member": res.memberErrs[0]} {
				if !errors.Is(err, client.ErrSASMismatch) && !errors.Is(err, wire.ErrEnrolmentAborted) {
					t.Errorf("%s ended with %v, want ErrSASMismatch or ErrEnrolmentAborted", side, err)
				}
			}
			noDevice(t, w.d["new"])
			if len(p.confirmed) != 0 {
				t.Error("the member was asked to send their share")
			}
			posted := 0
			for _, c := range rec.Calls() {
				r, ok := c.Request.(*coffrev1.RelayPostRequest)
				if !ok {
					continue
				}
				posted++
				// The member whose own comparison matched says so (step
				// 3); the share (step 5) never goes.
				if !r.Abort && (r.Step >= 5 || tc.mitm && r.Step >= 3) {
					t.Errorf("%v posted step %d after the codes differed", r.Side, r.Step)
				}
			}
			if posted == 0 {
				t.Fatal("the recording missed the exchange")
			}
			if got := headOf(t, w.s, bob.OrganisationID); got != head {
				t.Fatalf("the log grew from %d to %d", head, got)
			}
		})
	}
}

// TestA65OnlyTheOfferingDeviceRelaysAShare: the server lets only the
// device that created a recovery invitation greet it (another member,
// even one holding a share, can't read the person's messages on it or
// post as the member), lists it to no one else, and appends nothing with
// it (SPEC.md §5 step 1, §15.6; SECURITY.md A65).
func TestA65OnlyTheOfferingDeviceRelaysAShare(t *testing.T) {
	t.Parallel()
	w := newRecoveryWorld(t)
	if _, err := w.bob.ShareRecovery(bg(), bobsMembers[:2], 1); err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.carol)
	_, inv, err := w.carol.InviteRecovery(bg(), "bob@example.org", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dave, carol := hostile.ReadDevice(t, w.d["dave"]), hostile.ReadDevice(t, w.d["carol"])
	api := w.s.Dial(t, dave.Signer())
	if _, err := api.RelayWait(bg(), &coffrev1.RelayWaitRequest{InvitationId: inv.ID, Side: coffrev1.RelaySide_RELAY_SIDE_CLAIMER, Step: 1}); !errors.Is(wire.FromStatus(err), wire.ErrInvitationUnusable) {
		t.Errorf("dave waits on carol's recovery invitation: %v, want ErrInvitationUnusable", err)
	}
	if _, err := api.RelayPost(bg(), &coffrev1.RelayPostRequest{InvitationId: inv.ID, Side: coffrev1.RelaySide_RELAY_SIDE_GREETER, Attempt: 1, Step: 5, Payload: []byte("x")}); !errors.Is(wire.FromStatus(err), wire.ErrInvitationUnusable) {
		t.Errorf("dave posts on carol's recovery invitation: %v, want ErrInvitationUnusable", err)
	}
	list, err := api.ListInvitations(bg(), &coffrev1.ListInvitationsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range list.GetInvitations() {
		if i.GetId() == inv.ID {
			t.Error("dave lists carol's recovery invitation")
		}
	}
	// Nothing is appended with a recovery invitation, even by its creator.
	org := w.s.LogState(t, carol.OrganisationID)
	certs := signNext(t, org, carol.SigningKey, carol.DeviceID, certificate.DeviceAdded{
		DeviceID: certificate.NewID(), UserID: carol.UserID, Label: "x", VerifyKey: newSigningKey(t).Public()})
	if _, err := w.s.Dial(t, carol.Signer()).AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: certs, InvitationId: inv.ID}); err == nil {
		t.Error("the server appended a certificate with a recovery invitation")
	}
}
