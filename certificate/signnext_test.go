package certificate

import (
	"bytes"
	"testing"
	"time"
)

// TestSignNextChainsEveryEntry: SignNext chains each entry to the hash of
// the one before (it skips only the last one's hash, which nothing
// uses): the entries apply in order, and the head is the last's hash.
func TestSignNextChainsEveryEntry(t *testing.T) {
	f := newFixture(t)
	vault := f.vault()
	m := f.enrol(ProfileStandard, "bob@x")
	certs := f.sign(f.admin.key, f.admin.device, f.grant(vault, m, RoleReader, time.Time{}),
		VaultRoleSet{VaultID: vault, UserID: m.user, Role: RoleNone},
		VaultKeyRotated{VaultID: vault, Key: KeyBundle{Index: 2, Canary: []byte("canary"), Commitment: make([]byte, 32),
			PreviousKeys: []byte("older"), Sealed: []SealedKey{{UserID: f.admin.user, Sealed: []byte("k")}}}})
	hash := f.org.Head.Hash
	for _, c := range certs {
		hash = EntryHash(hash, c)
		if _, err := f.org.Apply(f.org.Head.Position+1, c); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(f.org.Head.Hash, hash) {
		t.Fatal("the head is not the chain of the entries' hashes")
	}
}
