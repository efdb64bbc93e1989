package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEmergencyAccess: break-glass access for care through the real
// binaries (SPEC.md §16). Alice owns a patient's vault and names Carol in
// its emergency policy; Carol, not a member, invokes it with a reason,
// reads the chart once Bob's client (a member at work in the vault)
// released the key; Alice sees who, why and until when in the audit and
// the vault list; at the end Carol is out and Alice's next command
// rotates the key.
func TestEmergencyAccess(t *testing.T) {
	longScenario(t)
	const d = "urgences.example"
	o := startVaultOrg(t, d, "bob", "carol")
	alice, bob, carol := o.alice, o.bob, o.carol
	alice.MustRun("vault", "create", "patient-1234")
	chart := filepath.Join(t.TempDir(), "chart.txt")
	if err := os.WriteFile(chart, []byte("allergic to penicillin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	alice.MustRun("put", chart, "patient-1234:/chart.txt")
	alice.MustRun("vault", "share", "patient-1234", "bob@"+d, "--role", "contributor")
	const duration = 20 * time.Second
	alice.MustRun("vault", "emergency-policy", "patient-1234", "--invokers", "carol@"+d, "--duration", duration.String())
	id := alice.Vault("patient-1234").ID

	if out := carol.MustRun("vault", "emergency", "--list"); !strings.Contains(out, id) {
		t.Fatalf("carol's --list does not show the vault:\n%s", out)
	}
	carol.MustFail("--reason is required", "vault", "emergency", id)
	carol.MustFail("--reason is required", "vault", "emergency", id, "--reason", "   ")
	const reason = "patient unconscious in resus, GP unreachable"
	out := carol.MustRun("vault", "emergency", id, "--reason", reason)
	if !strings.Contains(out, "emergency access to vault "+id+" until") {
		t.Fatalf("invocation said:\n%s", out)
	}
	end := time.Now().Add(duration)
	carol.MustFail("not been released to you yet", "ls", id+":/")

	bob.MustRun("ls", "patient-1234:/") // his client releases the key
	if got := string(carol.GetBytes(id + ":/chart.txt")); got != "allergic to penicillin\n" {
		t.Fatalf("carol read %q", got)
	}
	carol.MustFail("does not allow writing", "put", chart, id+":/mine.txt")

	audit := alice.MustRun("audit")
	if !strings.Contains(audit, "EMERGENCY ACCESS") || !strings.Contains(audit, reason) {
		t.Fatalf("alice's audit does not show the invocation:\n%s", audit)
	}
	if list := alice.MustRun("vault", "list"); !strings.Contains(list, "emergency access by Carol <carol@"+d+"> until") || !strings.Contains(list, reason) {
		t.Fatalf("alice's vault list does not show the emergency:\n%s", list)
	}
	if v := alice.Vault("patient-1234"); len(v.Emergencies) != 1 || !v.Emergencies[0].Running || v.Emergencies[0].Reason != reason || v.Emergencies[0].Kind != "emergency" {
		t.Fatalf("alice's vault list --json: emergencies %+v", v.Emergencies)
	}

	time.Sleep(time.Until(end) + time.Second)
	carol.MustFail("", "ls", id+":/")
	alice.MustRun("ls", "patient-1234:/") // rotates the key away from Carol
	if v := alice.Vault("patient-1234"); v.KeyIndex != 2 || v.NeedsRotation {
		t.Fatalf("after the end: key %d, rotation pending %v", v.KeyIndex, v.NeedsRotation)
	}
	if list := alice.MustRun("vault", "list"); strings.Contains(list, "emergency access by") {
		t.Fatalf("an ended emergency still shown as running:\n%s", list)
	}
}
