package e2e

import (
	"strings"
	"testing"
)

// TestOutsiderSeesOnlyItsCoMembers: through the real binaries, an
// outsider's user and vault lists name the members of the vaults shared
// with it and no one else, while a member's name everyone (SPEC.md §17,
// SECURITY.md A69). Olga joins before sharing anything, so the names of
// Alice and Bob reach her afterwards, when the vault is shared with her.
// The outsider's list shows every identity its device holds: were the
// server to send Carol's, it would show her.
func TestOutsiderSeesOnlyItsCoMembers(t *testing.T) {
	const d = "tilleuls.example"
	o := startVaultOrg(t, d, "bob", "carol", "olga")
	alice, bob, olga := o.alice, o.bob, o.olga
	alice.MustRun("vault", "create", "cardio")
	alice.MustRun("vault", "share", "cardio", "bob@"+d, "--role", "contributor")
	alice.MustRun("vault", "share", "cardio", "olga@"+d, "--role", "reader")

	r := olga.Run("user", "list")
	if !r.OK() {
		t.Fatalf("olga's user list: %s", r)
	}
	for _, want := range []string{"Alice", "alice@" + d, "Bob", "bob@" + d, "Olga", "olga@" + d} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("olga's user list does not show %q, her co-member:\n%s", want, r.Stdout)
		}
	}
	for _, hidden := range []string{"Carol", "carol@" + d} {
		if strings.Contains(r.Stdout+r.Stderr, hidden) {
			t.Errorf("olga's user list shows %q, who shares no vault with her:\n%s%s", hidden, r.Stdout, r.Stderr)
		}
	}
	if !strings.Contains(r.Stdout, "1 other user(s) share no vault with you") {
		t.Errorf("olga's user list does not say a user is not shown: %q", r.Stdout)
	}
	for _, u := range olga.Users(false) {
		if strings.Contains(u.Email, "carol") || u.Name == "Carol" {
			t.Errorf("olga's user list --json shows carol: %+v", u)
		}
	}
	members := map[string]bool{}
	for _, m := range olga.Vault("cardio").Members {
		members[m.Email] = true
	}
	if !members["alice@"+d] || !members["bob@"+d] {
		t.Errorf("olga's vault list names %v, want alice and bob", members)
	}

	// A member names everyone.
	emails := map[string]bool{}
	for _, u := range bob.Users(false) {
		emails[u.Email] = true
	}
	for _, p := range []string{"alice", "bob", "carol", "olga"} {
		if !emails[p+"@"+d] {
			t.Errorf("bob's user list lacks %s@%s: %v", p, d, emails)
		}
	}
}
