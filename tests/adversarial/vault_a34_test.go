package adversarial

import (
	"encoding/binary"
	"errors"
	"math/big"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/workspace"
)

// TestA34OwnerSealsTwoKeys: a malicious owner (an evil client with the
// owner's real device key) creates a vault whose key 1 bundle commits to
// K1 and carries a canary (and a name) crafted to open under both K1 and
// K2 (the AEAD is not key-committing), then shares the vault with bob, sealing him K1,
// and with carol, sealing her K2. Every certificate passes the rules and
// goes through the honest server's AppendCertificates. Bob opens the
// vault; carol refuses it (workspace.ErrNoKey): the key she unsealed is
// not the one the signed bundle commits to, so the owner can't show two
// members two different trees under one signed log (SECURITY.md A34,
// SPEC.md §11.2).
func TestA34OwnerSealsTwoKeys(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a34",
		member{"bob", certificate.ProfileStandard, certificate.RoleNone},
		member{"carol", certificate.ProfileStandard, certificate.RoleNone})
	mustSync(t, w.sess["alice"])
	state := w.sess["alice"].Organisation()
	user := func(name string) *certificate.User { u, _ := state.User(w.user(name)); return u }
	alice := w.dev["alice"]

	vaultID := certificate.NewID()
	k1, k2 := crypto.NewSecretKey(), crypto.NewSecretKey()
	_, bundle, err := workspace.NewKeyBundle(w.org, vaultID, 1, []*certificate.User{user("alice")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sealedTo := func(name string, key crypto.SecretKey) *certificate.SealedKey {
		s, err := workspace.SealKeyTo(w.org, vaultID, 1, user(name), key)
		if err != nil {
			t.Fatal(err)
		}
		return &certificate.SealedKey{UserID: w.user(name), Sealed: s}
	}
	bundle.Sealed = []certificate.SealedKey{*sealedTo("alice", k1)}
	bundle.Canary = twoKeyCiphertext(t, k1, k2, canaryAAD(w.org, vaultID, 1))
	bundle.Commitment = workspace.KeyCommitment(w.org, vaultID, 1, k1)
	for _, k := range []crypto.SecretKey{k1, k2} {
		if _, err := k.Decrypt(canaryAAD(w.org, vaultID, 1), bundle.Canary); err != nil {
			t.Fatal("control: the crafted canary does not open under both keys")
		}
	}
	// The name, too, opens under both keys (what it says under K2 is noise).
	nameKey := func(k crypto.SecretKey) crypto.SecretKey { return crypto.DeriveKey(k.Bytes(), "vault-name", nil) }
	name := twoKeyCiphertext(t, nameKey(k1), nameKey(k2), nameAAD(w.org, vaultID, 1))
	certs := signNext(t, state, alice.SigningKey, alice.DeviceID,
		certificate.VaultCreated{VaultID: vaultID, EncryptedName: name, Key: bundle},
		certificate.VaultRoleSet{VaultID: vaultID, UserID: w.user("bob"), Role: certificate.RoleContributor, Key: sealedTo("bob", k1), KeyIndex: 1},
		certificate.VaultRoleSet{VaultID: vaultID, UserID: w.user("carol"), Role: certificate.RoleContributor, Key: sealedTo("carol", k2), KeyIndex: 1})
	if _, err := w.s.Dial(t, alice.Signer()).AppendCertificates(bg(), &coffrev1.AppendCertificatesRequest{Certificates: certs}); err != nil {
		t.Fatalf("the honest server refused the owner's certificates: %v", err)
	}

	w.openID(t, "bob", vaultID)
	mustSync(t, w.sess["carol"])
	if _, err := w.sess["carol"].OpenVault(bg(), vaultID); !errors.Is(err, workspace.ErrNoKey) {
		t.Fatalf("carol opening a vault whose key 1 she holds another copy of: %v, want %v", err, workspace.ErrNoKey)
	}
}

func canaryAAD(org, vault string, index uint32) []byte {
	d := crypto.LabeledSum("aad/canary", []byte(org), []byte(vault), u32be(index))
	return d[:]
}

// twoKeyCiphertext crafts a ciphertext in the format of SPEC.md §2.4 whose
// XChaCha20-Poly1305 tag verifies under both k1 and k2 (a multi-key
// collision, as in Len, Grubbs and Ristenpart's partitioning oracle
// attacks): two free 16-byte blocks, the second solved so that both
// Poly1305 sums meet.
func twoKeyCiphertext(t *testing.T, k1, k2 crypto.SecretKey, aad []byte) []byte {
	t.Helper()
	header := []byte{crypto.FormatVersion, crypto.AlgXChaCha20Poly1305}
	ad := append(append([]byte(nil), header...), aad...)
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 130), big.NewInt(5))
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	for range 200 {
		nonce := crypto.RandomBytes(24)
		r1, s1 := polyKey(t, k1, nonce)
		r2, s2 := polyKey(t, k2, nonce)
		ct := crypto.RandomBytes(32)
		blocks := polyBlocks(ad, ct)
		free := len(blocks) - 2 // the second ciphertext block, then the lengths
		// h(r) = Σ m_i r^(n-i) over blocks, all but the free one fixed.
		eval := func(r *big.Int) (rest, coef *big.Int) {
			rest, coef = new(big.Int), new(big.Int)
			for i, m := range blocks {
				pow := new(big.Int).Exp(r, big.NewInt(int64(len(blocks)-i)), p)
				if i == free {
					coef = pow
					continue
				}
				rest.Add(rest, new(big.Int).Mul(m, pow))
			}
			return rest.Mod(rest, p), coef
		}
		a1, c1 := eval(r1)
		a2, c2 := eval(r2)
		// a1 + x c1 − a2 − x c2 ≡ s2 − s1 (mod p), with x the free block
		// plus 2^128.
		d := new(big.Int).Sub(s2, s1)
		d.Mod(d, two128)
		x := new(big.Int).Sub(d, new(big.Int).Sub(a1, a2))
		inv := new(big.Int).ModInverse(new(big.Int).Mod(new(big.Int).Sub(c1, c2), p), p)
		if inv == nil {
			continue
		}
		x.Mul(x, inv).Mod(x, p)
		if x.Cmp(two128) < 0 || x.Cmp(new(big.Int).Lsh(two128, 1)) >= 0 {
			continue
		}
		le := make([]byte, 16)
		x.Sub(x, two128).FillBytes(le)
		reverse(le)
		copy(ct[16:], le)
		tag1, tag2 := polyTag(ad, ct, r1, s1), polyTag(ad, ct, r2, s2)
		if string(tag1) != string(tag2) {
			continue
		}
		out := append(append(append([]byte(nil), header...), nonce...), ct...)
		return append(out, tag1...)
	}
	t.Fatal("no two-key ciphertext found")
	return nil
}

// polyKey derives XChaCha20-Poly1305's one-time Poly1305 key for a nonce
// (RFC 8439 §2.6, with the HChaCha20 subkey of the XChaCha20 draft). The
// cipher is written out here: only crypto/ imports x/crypto (SPEC.md §2),
// and this is the attacker's code, not coffre's.
func polyKey(t *testing.T, k crypto.SecretKey, nonce []byte) (r, s *big.Int) {
	t.Helper()
	sub := chachaRounds(chachaState(k.Bytes()[1:], nonce[:16]))
	subkey := make([]byte, 0, 32)
	for _, i := range []int{0, 1, 2, 3, 12, 13, 14, 15} {
		subkey = binary.LittleEndian.AppendUint32(subkey, sub[i])
	}
	in := chachaState(subkey, append(make([]byte, 8), nonce[16:]...))
	out := chachaRounds(in)
	block := make([]byte, 0, 64)
	for i := range out {
		block = binary.LittleEndian.AppendUint32(block, out[i]+in[i])
	}
	rb := block[:16]
	for i := 3; i < 16; i += 4 {
		rb[i] &= 0x0f
	}
	for i := 4; i < 16; i += 4 {
		rb[i] &= 0xfc
	}
	return leInt(rb), leInt(block[16:])
}

// polyBlocks are the Poly1305 message blocks of the AEAD (RFC 8439 §2.8),
// each with its 2^128 bit.
func polyBlocks(ad, ct []byte) []*big.Int {
	var msg []byte
	pad := func(b []byte) { msg = append(msg, b...); msg = append(msg, make([]byte, (16-len(b)%16)%16)...) }
	pad(ad)
	pad(ct)
	msg = binary.LittleEndian.AppendUint64(msg, uint64(len(ad)))
	msg = binary.LittleEndian.AppendUint64(msg, uint64(len(ct)))
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	var out []*big.Int
	for i := 0; i < len(msg); i += 16 {
		out = append(out, new(big.Int).Add(leInt(msg[i:i+16]), two128))
	}
	return out
}

func polyTag(ad, ct []byte, r, s *big.Int) []byte {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 130), big.NewInt(5))
	h := new(big.Int)
	for _, m := range polyBlocks(ad, ct) {
		h.Add(h, m).Mul(h, r).Mod(h, p)
	}
	h.Add(h, s)
	tag := make([]byte, 16)
	h.Mod(h, new(big.Int).Lsh(big.NewInt(1), 128)).FillBytes(tag)
	reverse(tag)
	return tag
}

func leInt(b []byte) *big.Int {
	be := append([]byte(nil), b...)
	reverse(be)
	return new(big.Int).SetBytes(be)
}

func reverse(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}

// chachaState is ChaCha20's initial state; tail is the 16 bytes after the
// key (the counter and nonce words, or HChaCha20's nonce).
func chachaState(key, tail []byte) [16]uint32 {
	st := [16]uint32{0x61707865, 0x3320646e, 0x79622d32, 0x6b206574}
	for i := range 8 {
		st[4+i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	for i := range 4 {
		st[12+i] = binary.LittleEndian.Uint32(tail[4*i:])
	}
	return st
}

// chachaRounds runs ChaCha20's 20 rounds (without the final addition,
// which HChaCha20 leaves out).
func chachaRounds(st [16]uint32) [16]uint32 {
	rotl := func(x uint32, n int) uint32 { return x<<n | x>>(32-n) }
	qr := func(a, b, c, d int) {
		st[a] += st[b]
		st[d] = rotl(st[d]^st[a], 16)
		st[c] += st[d]
		st[b] = rotl(st[b]^st[c], 12)
		st[a] += st[b]
		st[d] = rotl(st[d]^st[a], 8)
		st[c] += st[d]
		st[b] = rotl(st[b]^st[c], 7)
	}
	for range 10 {
		qr(0, 4, 8, 12)
		qr(1, 5, 9, 13)
		qr(2, 6, 10, 14)
		qr(3, 7, 11, 15)
		qr(0, 5, 10, 15)
		qr(1, 6, 11, 12)
		qr(2, 7, 8, 13)
		qr(3, 4, 9, 14)
	}
	return st
}
