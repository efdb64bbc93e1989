package certificate

import (
	"testing"
	"time"
)

// TestEmergencyGrantFolding: an invocation with no approver makes the
// invoker a keyless reader until its end; a role statement for them must
// carry the key like a new member's; a release is no anchor but opens the
// key (GrantKeys); a rotation during the emergency seals to the invoker,
// and after the end the vault needs a rotation (SPEC.md §16.3).
func TestEmergencyGrantFolding(t *testing.T) {
	f := newFixture(t)
	vault := f.vault()
	carol := f.enrol(ProfileStandard, "carol@x")
	bob := f.enrol(ProfileStandard, "bob@x")
	f.mustApply(f.sign(f.admin.key, f.admin.device, EmergencyPolicy{VaultID: vault, Invokers: []string{carol.user}, Duration: time.Hour})...)
	until := f.now.Add(time.Second + time.Hour)
	f.mustApply(f.sign(carol.key, carol.device, EmergencyInvoked{VaultID: vault, Reason: "r", Until: until})...)
	v, _ := f.org.Vault(vault)
	anchor := v.AnchorPosition()
	if !v.Keyless(carol.user) || f.org.RoleOf(v, carol.user, f.now) != RoleReader || f.org.RoleOf(v, carol.user, until) != RoleNone {
		t.Fatalf("after the invocation: keyless %v, role %s", v.Keyless(carol.user), f.org.RoleOf(v, carol.user, f.now))
	}
	// A role for a keyless member without the key is refused.
	f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, VaultRoleSet{VaultID: vault, UserID: carol.user, Role: RoleContributor})...)
	// Bob, not a member, can't release.
	f.refuse(ErrRule, f.sign(bob.key, bob.device, VaultKeyReleased{VaultID: vault, KeyIndex: 1, Key: SealedKey{UserID: carol.user, Sealed: []byte("k")}})...)
	f.mustApply(f.sign(f.admin.key, f.admin.device, VaultKeyReleased{VaultID: vault, KeyIndex: 1, Key: SealedKey{UserID: carol.user, Sealed: []byte("k")}})...)
	if v.Keyless(carol.user) || len(v.GrantKeys(carol.user)) != 1 || v.AnchorPosition() != anchor {
		t.Fatalf("after the release: keyless %v, grant keys %d, anchor %d (was %d)", v.Keyless(carol.user), len(v.GrantKeys(carol.user)), v.AnchorPosition(), anchor)
	}
	// A second release is refused.
	f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, VaultKeyReleased{VaultID: vault, KeyIndex: 1, Key: SealedKey{UserID: carol.user, Sealed: []byte("k")}})...)
	// A rotation during the emergency must seal to Carol too.
	rot := func(users ...string) VaultKeyRotated {
		b := KeyBundle{Index: 2, Canary: []byte("c"), Commitment: make([]byte, 32), PreviousKeys: []byte("p")}
		for _, u := range users {
			b.Sealed = append(b.Sealed, SealedKey{UserID: u, Sealed: []byte("k")})
		}
		return VaultKeyRotated{VaultID: vault, Key: b}
	}
	f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, rot(f.admin.user))...)
	f.mustApply(f.sign(f.admin.key, f.admin.device, rot(f.admin.user, carol.user))...)
	if f.org.NeedsRotation(v, f.now) || !f.org.NeedsRotation(v, until) {
		t.Fatal("the vault must need a rotation at the end of the emergency, not before")
	}
	if e := v.Emergencies(); len(e) != 1 || !e[0].Released || e[0].Running(until) || !e[0].Running(f.now) {
		t.Fatalf("emergencies: %+v", e)
	}
}

// TestEmergencyPolicyRules: only an owner sets a policy, with a duration
// in bounds and known invokers; a removal carries nothing else.
func TestEmergencyPolicyRules(t *testing.T) {
	f := newFixture(t)
	vault := f.vault()
	carol := f.enrol(ProfileStandard, "carol@x")
	for _, p := range []EmergencyPolicy{
		{VaultID: vault, Invokers: []string{carol.user}, Duration: 0},
		{VaultID: vault, Invokers: []string{carol.user}, Duration: 8 * 24 * time.Hour},
		{VaultID: vault, Invokers: []string{carol.user, carol.user}, Duration: time.Hour},
		{VaultID: vault, Invokers: []string{NewID()}, Duration: time.Hour},
		{VaultID: vault, OnCallVaultID: vault, Duration: time.Hour},
		{VaultID: vault, Duration: time.Hour},
	} {
		f.refuse(ErrRule, f.sign(f.admin.key, f.admin.device, p)...)
	}
	f.refuse(ErrRule, f.sign(carol.key, carol.device, EmergencyPolicy{VaultID: vault, Invokers: []string{carol.user}, Duration: time.Hour})...)
	f.mustApply(f.sign(f.admin.key, f.admin.device, EmergencyPolicy{VaultID: vault, InvokerProfile: ProfileStandard, Duration: time.Hour})...)
	v, _ := f.org.Vault(vault)
	if !f.org.MayInvoke(v, carol.user, f.now) {
		t.Fatal("a standard user may not invoke a policy for every standard user")
	}
	f.mustApply(f.sign(f.admin.key, f.admin.device, EmergencyPolicy{VaultID: vault})...)
	if v.Policy != nil || f.org.MayInvoke(v, carol.user, f.now) {
		t.Fatal("the policy outlived its removal")
	}
}
