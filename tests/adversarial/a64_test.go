package adversarial

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/crypto/shamir"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

var bobsMembers = []string{"carol@example.org", "dave@example.org", "erin@example.org"}

// openShare opens a member's share of the user's current shared recovery
// with the member's own seal key, as SPEC.md §15.6 defines it.
func openShare(t *testing.T, org *certificate.Organisation, userID string, member hostile.Device) shamir.Share {
	t.Helper()
	cur, ok := org.SharedRecovery(userID)
	if !ok {
		t.Fatal("no shared recovery in the log")
	}
	sh, ok := cur.Share(member.UserID)
	if !ok {
		t.Fatalf("no share for %s", member.UserID)
	}
	aad := crypto.LabeledSum("recovery-share-aad", []byte(org.ID), []byte(userID), []byte(member.UserID), []byte(cur.RecoveryDeviceID))
	plain, err := member.SealKey.Open("recovery-share", aad[:], sh.Sealed)
	if err != nil {
		t.Fatalf("opening %s's share: %v", member.UserID, err)
	}
	return shamir.Share{X: plain[0], Y: plain[1:]}
}

// opens reports whether the secret rebuilt from shares opens the recovery
// file (its passphrase is the secret without its check character, §15.5).
func opens(t *testing.T, file []byte, shares ...shamir.Share) bool {
	t.Helper()
	secret, err := shamir.Combine(shares)
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 30 {
		t.Fatalf("a rebuilt secret of %d bytes", len(secret))
	}
	_, err = crypto.DecryptWithPassphrase(secret[:29], file)
	return err == nil
}

// TestA64KMinusOneSharesRecoverNothing: with a threshold of K, K−1 shares
// recover nothing: the person's client refuses to go on with fewer than
// K, and the real shares of K−1 members, combined, do not open the
// recovery file in the log, while K do; with K members' help the person
// gets a new device of the user (SPEC.md §15.6, SECURITY.md A64).
func TestA64KMinusOneSharesRecoverNothing(t *testing.T) {
	t.Parallel()
	w := newRecoveryWorld(t)
	if _, err := w.bob.ShareRecovery(bg(), bobsMembers[:3], 3); err != nil {
		t.Fatal(err)
	}
	bob := hostile.ReadDevice(t, w.d["bob"])
	org := w.s.LogState(t, bob.OrganisationID)
	cur, _ := org.SharedRecovery(bob.UserID)
	carol, dave, erin := hostile.ReadDevice(t, w.d["carol"]), hostile.ReadDevice(t, w.d["dave"]), hostile.ReadDevice(t, w.d["erin"])
	sc, sd, se := openShare(t, org, bob.UserID, carol), openShare(t, org, bob.UserID, dave), openShare(t, org, bob.UserID, erin)
	for name, shares := range map[string][]shamir.Share{"carol": {sc}, "carol and dave": {sc, sd}, "dave and erin": {sd, se}, "carol and erin": {sc, se}} {
		if opens(t, cur.RecoveryFile, shares...) {
			t.Errorf("the shares of %s (K−1 of K=3) open the recovery file", name)
		}
	}
	if !opens(t, cur.RecoveryFile, sc, sd, se) {
		t.Fatal("control: the three shares do not open the recovery file")
	}

	// Threshold 2 now (the newer shared recovery replaces the older, and
	// revokes its recovery device): one member's help is refused by the
	// person's client before anything is tried.
	if _, err := w.bob.ShareRecovery(bg(), bobsMembers, 2); err != nil {
		t.Fatal(err)
	}
	org = w.s.LogState(t, bob.OrganisationID)
	if d, _ := org.Device(cur.RecoveryDeviceID); !d.Revoked() {
		t.Error("the replaced shared recovery's device is still active")
	}
	for _, m := range []*client.Session{w.carol, w.dave, w.erin} {
		mustSync(t, m)
	}
	head := headOf(t, w.s, bob.OrganisationID)
	res := recoverWith(t, newRecoveryPeople(), "bob@example.org", w.d["new"], w.carol)
	wantErr(t, res.err, client.ErrTooFewShares)
	noDevice(t, w.d["new"])
	if got := headOf(t, w.s, bob.OrganisationID); got != head {
		t.Fatalf("the log grew from %d to %d", head, got)
	}

	// Carol's share is kept in the new device's directory, encrypted
	// under its passphrase; dave's, in a second claim, completes it: the
	// person gets a device of bob's.
	kept := filepath.Join(w.d["new"], "recovery-shares.age")
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("carol's share was not kept: %v", err)
	}
	p := newRecoveryPeople()
	res = recoverWith(t, p, "bob@example.org", w.d["new"], w.dave)
	if res.err != nil {
		t.Fatalf("recovery with 2 of 3, one at a time: %v (member: %v)", res.err, res.memberErrs)
	}
	if res.memberErrs[0] != nil {
		t.Errorf("dave: %v", res.memberErrs[0])
	}
	if id := res.sess.Identity(); id.UserID != bob.UserID || id.DeviceID == bob.DeviceID {
		t.Fatalf("the new device is %+v, want a new device of bob's", id)
	}
	if len(p.confirmed) != 1 || p.confirmed[0].Email != "bob@example.org" {
		t.Errorf("dave was asked about %+v", p.confirmed)
	}
	if _, err := os.Stat(kept); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the kept shares outlive the recovery: %v", err)
	}
}

// TestA64OnlyNamedActiveMembersHelp: a member whom the user's current
// shared recovery does not name can't help (their client refuses to
// offer), a member named only by a replaced one neither, and a share from
// a member revoked before the person's device is enrolled does not count:
// the person's client checks every share against the log it verified
// from the root key, and enrols nothing (SPEC.md §15.6, SECURITY.md A64).
func TestA64OnlyNamedActiveMembersHelp(t *testing.T) {
	t.Parallel()
	w := newRecoveryWorld(t)
	if _, err := w.bob.ShareRecovery(bg(), bobsMembers[:2], 2); err != nil {
		t.Fatal(err)
	}
	for _, m := range w.sessions() {
		mustSync(t, m)
	}
	if _, _, err := w.frank.InviteRecovery(bg(), "bob@example.org", time.Hour); !errors.Is(err, client.ErrNotRecoveryMember) {
		t.Errorf("frank, not a member, offers help: %v, want ErrNotRecoveryMember", err)
	}
	// Carol helps, and is revoked while the person talks to dave.
	bob := hostile.ReadDevice(t, w.d["bob"])
	p := newRecoveryPeople()
	revoked := false
	p.onProgress = func(msg string) {
		if msg == "share 2 of 2" && !revoked {
			revoked = true
			if _, err := w.admin.Revoke(bg(), "carol@example.org"); err != nil {
				t.Errorf("revoking carol: %v", err)
			}
		}
	}
	head := headOf(t, w.s, bob.OrganisationID) + 1 // carol's revocation
	res := recoverWith(t, p, "bob@example.org", w.d["new"], w.carol, w.dave)
	if !revoked {
		t.Fatal("carol was not revoked during the recovery")
	}
	wantErr(t, res.err, client.ErrShareNotCounted)
	noDevice(t, w.d["new"])
	if got := headOf(t, w.s, bob.OrganisationID); got != head {
		t.Fatalf("the log grew from %d to %d", head, got)
	}

	// Bob replaces his shared recovery: dave and erin. Carol's old share
	// (she is revoked) and frank (never named) can't help; dave can.
	if _, err := w.bob.ShareRecovery(bg(), bobsMembers[1:], 2); err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.frank)
	mustSync(t, w.dave)
	if _, _, err := w.frank.InviteRecovery(bg(), "bob@example.org", time.Hour); !errors.Is(err, client.ErrNotRecoveryMember) {
		t.Errorf("frank after the replacement: %v, want ErrNotRecoveryMember", err)
	}
	if _, _, err := w.dave.InviteRecovery(bg(), "bob@example.org", time.Hour); err != nil {
		t.Errorf("dave, named, can't offer help: %v", err)
	}
}

// TestA64SharedRecoveryForged: a SharedRecoveryStatement is accepted only
// well signed by the user's own active device, for the user's active
// recovery device, among active members, dated no earlier than the entry
// before it, and at its own position: a forged, another user's,
// back-dated or replayed one is refused by the client (nothing stored)
// and by the server (SPEC.md §3.3, §15.6; SECURITY.md A64).
func TestA64SharedRecoveryForged(t *testing.T) {
	t.Parallel()
	w := newRecoveryWorld(t)
	if _, err := w.bob.ShareRecovery(bg(), bobsMembers[:2], 2); err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.admin)
	bob, carol := hostile.ReadDevice(t, w.d["bob"]), hostile.ReadDevice(t, w.d["carol"])
	org := w.s.LogState(t, bob.OrganisationID)
	cur, _ := org.SharedRecovery(bob.UserID)
	set := cur.SharedRecoverySet
	honest := signNext(t, org, bob.SigningKey, bob.DeviceID, set)[0]
	back := org.Clone()
	backdated, err := certificate.Sign(bob.SigningKey, certificate.Draft{
		OrganisationID: back.ID, Author: bob.DeviceID, Time: time.Now().Add(-48 * time.Hour),
		Position: back.Head.Position + 1, PreviousHash: back.Head.Hash, Statement: set,
	})
	if err != nil {
		t.Fatal(err)
	}
	lowered := set
	lowered.Threshold = 1
	carols := set
	carols.UserID = carol.UserID
	cases := map[string][][]byte{
		"bad signature":             {mutate(t, honest, nil, func(b *coffrev1.Certificate) { b.TimestampMs++ })},
		"threshold changed":         {mutate(t, honest, nil, func(b *coffrev1.Certificate) { b.GetSharedRecovery().Threshold = 1 })},
		"signed by another user":    signNext(t, org, carol.SigningKey, carol.DeviceID, lowered),
		"for another user":          signNext(t, org, carol.SigningKey, carol.DeviceID, carols),
		"signed by an attacker key": signNext(t, org, newSigningKey(t), bob.DeviceID, lowered),
		"back-dated":                {backdated},
		// The statement in the log, served again after the head.
		"replayed": {w.s.Log(t, bob.OrganisationID)[cur.Position-1]},
	}
	for name, certs := range cases {
		t.Run(name, func(t *testing.T) {
			head := w.admin.Head()
			w.s.ClearHooks()
			serveExtra(w.s, certs...)
			defer w.s.ClearHooks()
			if err := w.admin.Sync(bg()); !errors.Is(err, client.ErrBadLog) && !errors.Is(err, certificate.ErrFork) {
				t.Errorf("sync with %s: %v, want ErrBadLog or ErrFork", name, err)
			}
			if _, aerr := w.s.Dial(t, carol.Signer()).AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: certs}); aerr == nil {
				t.Errorf("the server accepted %s", name)
			}
			if got := w.admin.Head(); !sameHead(got, head) {
				t.Errorf("the admin's verified head moved to %d", got.Position)
			}
		})
	}
}
