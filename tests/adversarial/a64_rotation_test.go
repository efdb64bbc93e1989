package adversarial

import (
	"testing"
)

// TestA64SharedRecoveryAcrossUserKeyRotations: a member who rotated their
// user keys before the shared recovery still opens their share (sealed to
// the key in force at the statement), and a rotation of the recovering
// user's keys after it reaches the recovery device (it has a device seal
// key like any device): the new device reads a vault keyed before the
// rotation and one keyed after (SPEC.md §15.2, §15.6).
func TestA64SharedRecoveryAcrossUserKeyRotations(t *testing.T) {
	t.Parallel()
	w := newRecoveryWorld(t)
	if _, err := w.bob.CreateVault(bg(), "before"); err != nil {
		t.Fatal(err)
	}
	putIn(t, w.bob, "before", "/old.txt", "keyed before")
	// Carol's keys are rotated first: bob seals her share to her new key.
	if _, err := w.carol.RotateUserKeys(bg()); err != nil {
		t.Fatalf("carol rotating her keys: %v", err)
	}
	mustSync(t, w.bob)
	if _, err := w.bob.ShareRecovery(bg(), bobsMembers[:2], 2); err != nil {
		t.Fatal(err)
	}
	// Then bob's own: the new key is sealed to his devices, the recovery
	// device among them.
	rot, err := w.bob.RotateUserKeys(bg())
	if err != nil {
		t.Fatalf("bob rotating his keys: %v", err)
	}
	if len(rot.Stranded) != 0 {
		t.Fatalf("bob's rotation left devices without the new key: %v", rot.Stranded)
	}
	if _, err := w.bob.CreateVault(bg(), "after"); err != nil {
		t.Fatal(err)
	}
	putIn(t, w.bob, "after", "/new.txt", "keyed after")
	for _, m := range w.sessions() {
		mustSync(t, m)
	}
	res := recoverWith(t, newRecoveryPeople(), "bob@example.org", w.d["new"], w.carol, w.dave)
	if res.err != nil {
		t.Fatalf("recovery after the rotations: %v (members: %v)", res.err, res.memberErrs)
	}
	for i, err := range res.memberErrs {
		if err != nil {
			t.Errorf("member %d: %v", i, err)
		}
	}
	reads(t, "the recovered device", res.sess, "before", map[string]string{"/old.txt": "keyed before"})
	reads(t, "the recovered device", res.sess, "after", map[string]string{"/new.txt": "keyed after"})
}
