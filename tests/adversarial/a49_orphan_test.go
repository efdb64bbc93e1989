package adversarial

import (
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
)

// TestA49OrphanTakeover: an admin takes ownership of a vault only when no
// owner is active, by a certificate every member sees with its reason; a
// non-admin never can; a second takeover (a replay) is refused once the
// admin owns it. Taking ownership gives authority, not the key: the admin
// reads only once a remaining member's client released it (SECURITY.md
// A49, SPEC.md §16.4).
func TestA49OrphanTakeover(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "admin-vault",
		member{"bob", certificate.ProfileStandard, certificate.RoleNone},
		member{"carol", certificate.ProfileStandard, certificate.RoleNone})
	// Bob's vault, shared with Carol as a reader.
	info, err := w.sess["bob"].CreateVault(bg(), "ward-7")
	if err != nil {
		t.Fatal(err)
	}
	w.vault = info.ID
	if _, err := w.sess["bob"].ShareVault(bg(), w.vault, "carol@example.org", certificate.RoleReader, time.Time{}); err != nil {
		t.Fatal(err)
	}
	put(t, w.open(t, "bob"), "/rota.txt", []byte("night shifts"))
	mustSync(t, w.sess["alice"])
	take := certificate.VaultOwnershipTaken{VaultID: w.vault, Reason: "bob left"}

	// Bob is an active owner.
	wantErr(t, w.sess["alice"].TakeOwnership(bg(), w.vault, "bob left"), client.ErrOwnerActive)
	w.refusedEverywhere(t, "alice", w.signAs(t, "alice", time.Now(), take), "carol")
	wantErr(t, w.sess["alice"].TakeOwnership(bg(), w.vault, "  "), client.ErrNoReason)

	if _, err := w.sess["alice"].Revoke(bg(), "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	// Carol is no admin.
	mustSync(t, w.sess["carol"])
	wantErr(t, w.sess["carol"].TakeOwnership(bg(), w.vault, "mine now"), client.ErrNotAdmin)
	w.refusedEverywhere(t, "carol", w.signAs(t, "carol", time.Now(), take), "alice")
	// No reason.
	w.refusedEverywhere(t, "alice", w.signAs(t, "alice", time.Now(), certificate.VaultOwnershipTaken{VaultID: w.vault}), "carol")

	if err := w.sess["alice"].TakeOwnership(bg(), w.vault, "bob left the hospital"); err != nil {
		t.Fatal(err)
	}
	// A second takeover: Alice is an active owner now.
	w.refusedEverywhere(t, "alice", w.signAs(t, "alice", time.Now(), take), "carol")

	// Every member sees it.
	mustSync(t, w.sess["carol"])
	es := w.sess["carol"].Emergencies()
	if len(es) != 1 || es[0].Kind != "takeover" || es[0].UserID != w.user("alice") || es[0].Reason != "bob left the hospital" {
		t.Fatalf("carol's view of the takeover: %+v", es)
	}
	// Authority, not the key: Alice reads once Carol's client released it.
	w.noKey(t, "alice")
	_, _, err = w.sess["alice"].PrepareVault(bg(), w.vault)
	wantErr(t, err, client.ErrKeyNotReleased)
	if _, done, err := w.sess["carol"].PrepareVault(bg(), w.vault); err != nil || len(done.Released) != 1 {
		t.Fatalf("carol's upkeep: %+v, %v", done, err)
	}
	mustSync(t, w.sess["alice"])
	_, done, err := w.sess["alice"].PrepareVault(bg(), w.vault)
	if err != nil || !done.Rotated {
		t.Fatalf("alice's upkeep as the new owner: %+v, %v", done, err)
	}
	if got := string(get(t, w.open(t, "alice"), "/rota.txt")); got != "night shifts" {
		t.Fatalf("alice read %q", got)
	}
	put(t, w.open(t, "alice"), "/new.txt", []byte("written by the new owner"))
	get(t, w.open(t, "carol"), "/new.txt")
}
