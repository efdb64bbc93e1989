package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOrphanVaultTakeover: a vault's only owner is revoked; through the
// real binaries an administrator takes ownership with a reason (SPEC.md
// §16.4). Nobody else may, and not without a reason; the member still in
// the vault releases the key to the new owner at their next command; the
// administrator then reads it, and their next command rotates the key
// away from the revoked owner; the member's vault list and the audit show
// who took the vault and why.
func TestOrphanVaultTakeover(t *testing.T) {
	longScenario(t)
	const d = "pins.example"
	o := startVaultOrg(t, d, "bob", "carol")
	alice, bob, carol := o.alice, o.bob, o.carol
	bob.MustRun("vault", "create", "dossier")
	chart := filepath.Join(t.TempDir(), "chart.txt")
	if err := os.WriteFile(chart, []byte("dossier de Mme R.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bob.MustRun("put", chart, "dossier:/chart.txt")
	bob.MustRun("vault", "share", "dossier", "carol@"+d, "--role", "reader")
	id := bob.Vault("dossier").ID

	alice.MustFail("", "vault", "take-ownership", id, "--reason", "bob left")
	alice.MustRun("user", "revoke", "bob@"+d)
	carol.MustFail("", "vault", "take-ownership", id, "--reason", "I want it")
	alice.MustFail("--reason", "vault", "take-ownership", id)
	const reason = "Dr B. left the clinic; his patients' files go to the practice"
	alice.MustRun("vault", "take-ownership", id, "--reason", reason)

	carol.MustRun("ls", "dossier:/") // her client releases the key to Alice
	if got := string(alice.GetBytes(id + ":/chart.txt")); got != "dossier de Mme R.\n" {
		t.Fatalf("alice read %q", got)
	}
	alice.MustRun("ls", "dossier:/") // rotates the key away from Bob
	if v := alice.Vault("dossier"); v.KeyIndex < 2 || v.NeedsRotation || v.Role != "owner" {
		t.Fatalf("after the takeover: key %d, rotation pending %v, role %q", v.KeyIndex, v.NeedsRotation, v.Role)
	}
	if got := string(carol.GetBytes("dossier:/chart.txt")); got != "dossier de Mme R.\n" {
		t.Fatalf("carol reads %q after the rotation", got)
	}
	v := carol.Vault("dossier")
	found := false
	for _, e := range v.Emergencies {
		found = found || (e.Kind == "takeover" && e.Reason == reason)
	}
	if !found {
		t.Fatalf("carol's vault list does not show the takeover: %+v", v.Emergencies)
	}
	if audit := alice.MustRun("audit"); !strings.Contains(audit, reason) {
		t.Fatalf("the audit does not show the takeover:\n%s", audit)
	}
}
