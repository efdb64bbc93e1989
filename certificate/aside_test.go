package certificate

import (
	"bytes"
	"testing"
	"time"
)

// bigRotation is a rotation of vault's key past asideFrom bytes (the
// sealed bytes are a placeholder, as in fixture.vault), signed at the head.
func (f *fixture) bigRotation(vault string, index uint32) []byte {
	f.t.Helper()
	certs := f.sign(f.admin.key, f.admin.device, VaultKeyRotated{VaultID: vault, Key: KeyBundle{
		Index: index, Canary: []byte("canary"), Commitment: make([]byte, 32), PreviousKeys: []byte("older"),
		Sealed: []SealedKey{{UserID: f.admin.user, Sealed: bytes.Repeat([]byte("k"), 2*asideFrom)}}}})
	if len(certs[0]) < asideFrom {
		f.t.Fatalf("a rotation of %d bytes, want at least %d", len(certs[0]), asideFrom)
	}
	return certs[0]
}

// badSignature returns cert with its last byte, in the signature, flipped.
func badSignature(cert []byte) []byte {
	bad := bytes.Clone(cert)
	bad[len(bad)-1] ^= 1
	return bad
}

// TestLargeEntrySignatureCheckedBeforeFold: a large entry's signature is
// checked on another core while its rules are (asideFrom), and it still
// counts as before: a bad one is refused with ErrSignature, also when the
// statement breaks a rule too, and the state does not move (SPEC.md §4.3).
func TestLargeEntrySignatureCheckedBeforeFold(t *testing.T) {
	f := newFixture(t)
	vault := f.vault()
	f.refuse(ErrSignature, badSignature(f.bigRotation(vault, 2)))
	f.refuse(ErrSignature, badSignature(f.bigRotation(vault, 5))) // index 5 breaks a rule too
	f.refuse(ErrRule, f.bigRotation(vault, 5))
	if v, _ := f.org.Vault(vault); v.KeyIndex() != 1 {
		t.Fatalf("a refused rotation moved the vault to key %d", v.KeyIndex())
	}
	good := f.bigRotation(vault, 2)
	prev := f.org.Head.Hash
	if _, err := f.org.Apply(f.org.Head.Position+1, good); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.org.Vault(vault); v.KeyIndex() != 2 {
		t.Fatalf("the rotation left the vault at key %d", v.KeyIndex())
	}
	if !bytes.Equal(f.org.Head.Hash, EntryHash(prev, good)) {
		t.Fatal("the head's hash is not the entry hash of the applied bytes")
	}
}

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
