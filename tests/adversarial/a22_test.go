package adversarial

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/status"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/wire"
)

// statusOf is what a caller can observe of a failed call.
func statusOf(err error) string {
	st, _ := status.FromError(err)
	return fmt.Sprintf("%s: %q", st.Code(), st.Message())
}

// TestA22UniformErrors: the server's errors are no oracle. Every unusable
// invitation token — unknown, expired, spent, cancelled, burned, too short,
// for another organisation — gets the one same status on every claimer
// call; every failed request authentication — unknown device, wrong key,
// other organisation, stale or future time, replayed or malformed nonce —
// gets the one same Unauthenticated status, and only a caller holding a
// revoked device's key learns it was revoked. In the other direction the
// client tells the server nothing about why something failed (SECURITY.md
// A22, SPEC.md §5 step 2, §6.1, §6.3).
func TestA22UniformErrors(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "bob", "carol", "other")
	admin := hostile.Bootstrap(t, s, d["admin"])
	org := admin.Identity().OrganisationID
	other := hostile.Bootstrap(t, s, d["other"]) // a second organisation on the server
	otherOrg := other.Identity().OrganisationID

	spent, inv := hostile.Invite(t, admin, "user", "bob@example.org", certificate.ProfileStandard)
	if res := hostile.RunEnrolment(t, admin, spent, inv, d["bob"], hostile.EnrolOptions{}); res.GreetErr != nil || res.ClaimErr != nil {
		t.Fatalf("enrolment: %v / %v", res.GreetErr, res.ClaimErr)
	}
	cancelled, inv := hostile.Invite(t, admin, "user", "c@example.org", certificate.ProfileStandard)
	if err := admin.CancelInvitation(bg(), inv.ID); err != nil {
		t.Fatal(err)
	}
	// Burned for real by three aborted attempts in TestA8; set directly here.
	burned, inv := hostile.Invite(t, admin, "user", "b@example.org", certificate.ProfileStandard)
	if _, err := s.Store().UpdateInvitation(bg(), org, inv.ID, func(i *store.Invitation) error {
		i.State, i.Attempts = store.InvitationBurned, 3
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	expiring, _, err := admin.InviteUser(bg(), "e@example.org", certificate.ProfileStandard, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	valid, _ := hostile.Invite(t, admin, "user", "v@example.org", certificate.ProfileStandard)

	type token struct {
		org   string
		token []byte
		spent bool
	}
	tokens := map[string]token{
		"unknown":              {org, crypto.RandomBytes(32), false},
		"too short":            {org, crypto.RandomBytes(8), false},
		"empty":                {org, nil, false},
		"expired":              {org, expiring.Token, false},
		"spent":                {org, spent.Token, true},
		"cancelled":            {org, cancelled.Token, false},
		"burned":               {org, burned.Token, false},
		"other organisation":   {otherOrg, valid.Token, false},
		"unknown organisation": {certificate.NewID(), valid.Token, false},
	}
	s.Clock.Advance(2 * time.Hour) // "expiring" is now past its expiry
	raw := s.Dial(t, nil)
	want := statusOf(wire.Status(wire.ErrInvitationUnusable))
	for name, tok := range tokens {
		calls := map[string]error{}
		_, calls["ClaimInvitation"] = raw.ClaimInvitation(bg(), &coffrev1.ClaimInvitationRequest{OrganisationId: tok.org, Token: tok.token})
		_, calls["RelayPost hello"] = raw.RelayPost(bg(), &coffrev1.RelayPostRequest{
			OrganisationId: tok.org, Token: tok.token, Side: coffrev1.RelaySide_RELAY_SIDE_CLAIMER, Step: 1, Payload: []byte("x"),
		})
		_, calls["RelayPost abort"] = raw.RelayPost(bg(), &coffrev1.RelayPostRequest{
			OrganisationId: tok.org, Token: tok.token, Side: coffrev1.RelaySide_RELAY_SIDE_CLAIMER, Attempt: 1, Abort: true,
		})
		if !tok.spent {
			// A spent token may still wait for the confirmation of the
			// attempt that spent it (SPEC.md §6.2): a long poll, not an error.
			ctx, cancel := context.WithTimeout(bg(), 5*time.Second)
			_, calls["RelayWait"] = raw.RelayWait(ctx, &coffrev1.RelayWaitRequest{
				OrganisationId: tok.org, Token: tok.token, Side: coffrev1.RelaySide_RELAY_SIDE_GREETER, Step: 1,
			})
			cancel()
		}
		for call, err := range calls {
			if got := statusOf(err); got != want {
				t.Errorf("%s token, %s: %s, want %s", name, call, got, want)
			}
		}
	}
	// Through the client: the same typed error.
	for name, l := range map[string]link.Link{"expired": expiring, "spent": spent, "cancelled": cancelled, "burned": burned} {
		_, err := client.InspectInvitation(bg(), l)
		if err == nil {
			t.Errorf("%s invitation inspected", name)
			continue
		}
		wantErr(t, err, wire.ErrInvitationUnusable)
	}
	s.Clock.Advance(-2 * time.Hour)

	// Request authentication.
	hostile.Enrol(t, admin, d["carol"], "user", "carol@example.org", certificate.ProfileStandard)
	me, carol := hostile.ReadDevice(t, d["admin"]), hostile.ReadDevice(t, d["carol"])
	if _, err := admin.Revoke(bg(), "carol@example.org"); err != nil {
		t.Fatal(err)
	}
	attacker := newSigningKey(t)
	fixed := crypto.RandomBytes(16)
	signers := map[string]*hostile.Signer{
		"unknown device":            {OrganisationID: org, DeviceID: certificate.NewID(), Key: attacker},
		"wrong key":                 {OrganisationID: org, DeviceID: me.DeviceID, Key: attacker},
		"other organisation":        {OrganisationID: otherOrg, DeviceID: me.DeviceID, Key: me.SigningKey},
		"unknown organisation":      {OrganisationID: certificate.NewID(), DeviceID: me.DeviceID, Key: me.SigningKey},
		"stale time":                {OrganisationID: org, DeviceID: me.DeviceID, Key: me.SigningKey, Time: func() time.Time { return time.Now().Add(-10 * time.Minute) }},
		"future time":               {OrganisationID: org, DeviceID: me.DeviceID, Key: me.SigningKey, Time: func() time.Time { return time.Now().Add(10 * time.Minute) }},
		"short nonce":               {OrganisationID: org, DeviceID: me.DeviceID, Key: me.SigningKey, Nonce: func() []byte { return fixed[:8] }},
		"revoked device, wrong key": {OrganisationID: org, DeviceID: carol.DeviceID, Key: attacker},
		"empty device id":           {OrganisationID: org, DeviceID: "", Key: me.SigningKey},
	}
	wantAuth := statusOf(wire.Status(wire.ErrUnauthenticated))
	for name, sg := range signers {
		_, err := s.Dial(t, sg).ListInvitations(bg(), &coffrev1.ListInvitationsRequest{})
		if got := statusOf(err); got != wantAuth {
			t.Errorf("%s: %s, want %s", name, got, wantAuth)
		}
	}
	// A replay: the same nonce twice.
	replay := s.Dial(t, &hostile.Signer{OrganisationID: org, DeviceID: me.DeviceID, Key: me.SigningKey, Nonce: func() []byte { return fixed }})
	if _, err := replay.ListInvitations(bg(), &coffrev1.ListInvitationsRequest{}); err != nil {
		t.Fatalf("first use of a nonce: %v", err)
	}
	_, err = replay.ListInvitations(bg(), &coffrev1.ListInvitationsRequest{})
	if got := statusOf(err); got != wantAuth {
		t.Errorf("replayed nonce: %s, want %s", got, wantAuth)
	}
	// Only the holder of the revoked device's key learns it is revoked.
	_, err = s.Dial(t, carol.Signer()).ListInvitations(bg(), &coffrev1.ListInvitationsRequest{})
	if wire.FromStatus(err) != wire.ErrDeviceRevoked {
		t.Errorf("revoked device with its key: %v, want %v", err, wire.ErrDeviceRevoked)
	}

	// The client tells the server nothing when the log it got does not
	// verify: the failed GetLog is its last call.
	rec := s.Record()
	serveExtra(s, []byte("not a certificate"))
	wantErr(t, admin.Sync(bg()), client.ErrBadLog)
	s.ClearHooks()
	s.StopRecording()
	calls := rec.Calls()
	if len(calls) == 0 || calls[len(calls)-1].Method != coffrev1.CoffreService_GetLog_FullMethodName {
		t.Fatalf("calls after a refused log: %v", calls)
	}
	for _, c := range calls {
		if c.Method != coffrev1.CoffreService_GetLog_FullMethodName {
			t.Errorf("the client called %s after a refused log", c.Method)
		}
	}
}
