package adversarial

import (
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

// grantFrom is a statement by which `by` (a member holding the vault's
// newest key) gives `to` a role in the world's vault, with that key sealed
// to them as a new member's grant carries it.
func (w *world) grantFrom(t *testing.T, by, to string, r certificate.Role, until time.Time) certificate.VaultRoleSet {
	t.Helper()
	org := w.sess[by].Organisation()
	u, ok := org.User(w.user(to))
	if !ok {
		t.Fatalf("no user %s in %s's state", to, by)
	}
	index, key := w.keys(t, by).Newest()
	sealed, err := workspace.SealKeyTo(w.org, w.vault, index, u, key)
	if err != nil {
		t.Fatal(err)
	}
	return certificate.VaultRoleSet{VaultID: w.vault, UserID: u.ID, Role: r, Until: until,
		Key: &certificate.SealedKey{UserID: u.ID, Sealed: sealed}, KeyIndex: index}
}

// signAs signs statements as a member's device after the server's head,
// dated when.
func (w *world) signAs(t *testing.T, name string, when time.Time, stmts ...certificate.Statement) [][]byte {
	t.Helper()
	certs, err := w.s.LogState(t, w.org).SignNext(w.dev[name].SigningKey, w.dev[name].DeviceID, when, stmts...)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// appendAs sends certificates to the server as a member's device, as its
// client would, and returns the wire error.
func (w *world) appendAs(t *testing.T, name string, certs [][]byte) error {
	t.Helper()
	_, err := w.s.Dial(t, w.dev[name].Signer()).AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: certs})
	return wire.FromStatus(err)
}

// refusedByClients checks that a member's client, served certs after the
// server's head by a colluding server, refuses them for a broken rule and
// keeps its verified head.
func (w *world) refusedByClients(t *testing.T, name string, certs [][]byte) {
	t.Helper()
	mustSync(t, w.sess[name])
	head := w.sess[name].Head()
	serveExtra(w.s, certs...)
	defer w.s.ClearHooks()
	err := w.sess[name].Sync(bg())
	wantErr(t, err, client.ErrBadLog)
	wantCause(t, err, certificate.ErrRule)
	w.sess[name] = unchanged(t, w.sess[name], w.dir[name], head)
}

// TestA24ManagerGrantWithAnEnd: a grant of owner or manager can't end by
// a date, since a date is what the signer of a later statement chooses
// (SECURITY.md A24, SPEC.md §11.1). The client library refuses to sign one;
// a forged one sent straight to the server is refused by it; placed in the
// log by a colluding server, every client refuses it.
func TestA24ManagerGrantWithAnEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cardiology", member{"bob", certificate.ProfileStandard, certificate.RoleNone})
	forged := w.signAs(t, "alice", time.Now(), w.grantFrom(t, "alice", "bob", certificate.RoleManager, time.Now().Add(time.Hour)))
	if err := w.appendAs(t, "alice", forged); err != wire.ErrCertificateRefused {
		t.Fatalf("the server took a manager grant with an end: %v", err)
	}
	w.refusedByClients(t, "bob", forged)
	w.refusedByClients(t, "alice", forged)
	for _, r := range []certificate.Role{certificate.RoleOwner, certificate.RoleManager} {
		_, err := w.sess["alice"].ShareVault(bg(), w.vault, "bob@example.org", r, time.Now().Add(time.Hour))
		wantErr(t, err, certificate.ErrManagerUntil)
	}
}

// TestA24BackdatedGrantByAnEndedRole: Bob's time-boxed role has ended. He
// signs a grant adding a colluder (an outsider) with the vault's current
// key, dated before the end, within the server's skew window. The honest
// server refuses it at its own clock, and a client served it by a
// colluding server refuses it too: only an owner or a manager grants, and
// their rights can't end by a date (SECURITY.md A24).
func TestA24BackdatedGrantByAnEndedRole(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cardiology",
		member{"bob", certificate.ProfileStandard, certificate.RoleNone},
		member{"mallory", certificate.ProfileOutsider, certificate.RoleNone})
	// Bob is a manager until the end, as long as a manager's grant may
	// have one (it may not: then a contributor's, the role that still
	// can).
	end := time.Now().Add(3 * time.Second)
	_, err := w.sess["alice"].ShareVault(bg(), w.vault, "bob@example.org", certificate.RoleManager, end)
	if errors.Is(err, certificate.ErrManagerUntil) {
		_, err = w.sess["alice"].ShareVault(bg(), w.vault, "bob@example.org", certificate.RoleContributor, end)
	}
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.sess["bob"])
	grant := w.grantFrom(t, "bob", "mallory", certificate.RoleReader, time.Time{})
	time.Sleep(time.Until(end) + 100*time.Millisecond)

	backdated := w.signAs(t, "bob", end.Add(-time.Second), grant)
	if err := w.appendAs(t, "bob", backdated); err != wire.ErrCertificateRefused {
		t.Fatalf("the server took a back-dated grant by an ended role: %v", err)
	}
	w.refusedByClients(t, "alice", backdated)
}

// TestA25EndedGrantStaysClosed: once a time-boxed grant has ended, the
// server refuses the member's writes at once, by its own clock: an entry
// dated now, an entry dated before the end, a block; and the member can't
// give themselves the role back. Only a new certificate by an owner or a
// manager re-opens it (SECURITY.md A25, SPEC.md §11.1).
func TestA25EndedGrantStaysClosed(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cardiology", member{"bob", certificate.ProfileStandard, certificate.RoleNone})
	end := time.Now().Add(3 * time.Second)
	if _, err := w.sess["alice"].ShareVault(bg(), w.vault, "bob@example.org", certificate.RoleContributor, end); err != nil {
		t.Fatal(err)
	}
	bv := w.open(t, "bob")
	index, key := w.keys(t, "bob").Newest()
	bob := w.dev["bob"]
	org := w.sess["bob"].Organisation()
	time.Sleep(time.Until(end) + 100*time.Millisecond)

	raw := w.s.Dial(t, bob.Signer())
	now := w.forgeAddFile(t, bv.Log(), org, bob.DeviceID, bob.SigningKey, index, key, "after-the-end.txt")
	body := w.draftEntry(t, org, bob.DeviceID, index)
	body.TimestampMs = end.Add(-time.Second).UnixMilli()
	body.Writes = w.addFile(t, bv.Log(), index, key, "dated-before-the-end.txt")
	backdated := signEntry(t, bob.SigningKey, body)
	for what, entry := range map[string][]byte{"an entry": now, "an entry dated before the end": backdated} {
		if _, err := raw.VaultAppend(bg(), &coffrev1.VaultAppendRequest{VaultId: w.vault, Entry: entry}); wire.FromStatus(err) != wire.ErrForbidden {
			t.Errorf("the server took %s from an ended grant: %v", what, err)
		}
	}
	if _, err := raw.PutBlock(bg(), &coffrev1.PutBlockRequest{VaultId: w.vault, BlockId: certificate.NewID(), Data: []byte("x")}); wire.FromStatus(err) != wire.ErrForbidden {
		t.Errorf("the server took a block from an ended grant: %v", err)
	}
	for _, until := range []time.Time{{}, time.Now().Add(time.Hour)} {
		self := w.signAs(t, "bob", end.Add(-time.Second), certificate.VaultRoleSet{VaultID: w.vault, UserID: w.user("bob"), Role: certificate.RoleContributor, Until: until})
		if err := w.appendAs(t, "bob", self); err != wire.ErrCertificateRefused {
			t.Errorf("the server took a self-grant from an ended grant: %v", err)
		}
	}

	// A new grant re-opens it (and, Bob's old key being out, rotates it).
	if _, err := w.sess["alice"].ShareVault(bg(), w.vault, "bob@example.org", certificate.RoleContributor, time.Time{}); err != nil {
		t.Fatal(err)
	}
	put(t, w.open(t, "bob"), "/again.txt", []byte("shared again"))
}
