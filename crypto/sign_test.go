package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"
)

func TestSignVerify(t *testing.T) {
	k, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	v := k.Public()
	msg := []byte("manifest v3")
	sig := k.Sign("manifest", msg)
	if len(sig) != 65 || sig[0] != AlgEd25519 {
		t.Fatalf("signature encoding: len %d, first byte %#x", len(sig), sig[0])
	}
	if err := v.Verify("manifest", msg, sig); err != nil {
		t.Fatalf("valid signature: %v", err)
	}

	other, _ := GenerateSigningKey()
	cases := []struct {
		name     string
		key      VerifyKey
		context  string
		msg, sig []byte
	}{
		{"wrong context", v, "vlob", msg, sig},
		{"context prefix", v, "manifes", msg, sig},
		{"context moved into message", v, "manifest\x00", msg, sig},
		{"wrong message", v, "manifest", []byte("manifest v4"), sig},
		{"wrong key", other.Public(), "manifest", msg, sig},
		{"zero key", VerifyKey{}, "manifest", msg, sig},
		{"alg byte changed", v, "manifest", msg, append([]byte{0x02}, sig[1:]...)},
		{"no alg byte", v, "manifest", msg, sig[1:]},
		{"truncated", v, "manifest", msg, sig[:64]},
		{"extra byte", v, "manifest", msg, append(append([]byte(nil), sig...), 0)},
		{"empty", v, "manifest", msg, nil},
	}
	for _, c := range cases {
		if err := c.key.Verify(c.context, c.msg, c.sig); err != ErrBadSignature {
			t.Errorf("%s: got %v, want ErrBadSignature", c.name, err)
		}
	}
	for i := range sig {
		if err := v.Verify("manifest", msg, flipped(sig, i, 0)); err != ErrBadSignature {
			t.Fatalf("flipping byte %d: got %v, want ErrBadSignature", i, err)
		}
	}
}

func TestSignDomainSeparation(t *testing.T) {
	k, _ := GenerateSigningKey()
	// The signed bytes are the prefix, context, NUL and message: a raw Ed25519
	// signature over them verifies, and one over the bare message does not.
	msg := []byte("payload")
	signed := append([]byte("coffre/v1/sig/ctx\x00"), msg...)
	if err := k.Public().Verify("ctx", msg, append([]byte{AlgEd25519}, k.signRaw(signed)...)); err != nil {
		t.Errorf("raw signature over the documented bytes: %v", err)
	}
	if err := k.Public().Verify("ctx", msg, append([]byte{AlgEd25519}, k.signRaw(msg)...)); err == nil {
		t.Error("raw signature over the bare message verified")
	}
}

func TestSignNULContextPanics(t *testing.T) {
	k, _ := GenerateSigningKey()
	defer func() {
		if recover() == nil {
			t.Error("Sign with a NUL in the context did not panic")
		}
	}()
	k.Sign("a\x00b", nil)
}

func TestSigningKeyEncoding(t *testing.T) {
	k, _ := GenerateSigningKey()
	b := k.Bytes()
	if len(b) != 33 || b[0] != AlgEd25519 {
		t.Fatalf("encoding: len %d, first byte %#x", len(b), b[0])
	}
	k2, err := ParseSigningKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Public().Equal(k.Public()) {
		t.Error("parsed key has a different public key")
	}
	if !bytes.Equal(k2.Sign("c", []byte("m")), k.Sign("c", []byte("m"))) {
		t.Error("parsed key signs differently")
	}
	for _, bad := range [][]byte{nil, b[:32], append(b, 0), append([]byte{AlgXWing}, b[1:]...)} {
		if _, err := ParseSigningKey(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseSigningKey(%x): got %v, want ErrMalformed", bad, err)
		}
	}
}

func TestVerifyKeyEncoding(t *testing.T) {
	k, _ := GenerateSigningKey()
	v := k.Public()
	if v.IsZero() {
		t.Fatal("generated key IsZero")
	}
	if !(VerifyKey{}).IsZero() {
		t.Fatal("zero value is not IsZero")
	}
	b := v.Bytes()
	if len(b) != 33 || b[0] != AlgEd25519 {
		t.Fatalf("encoding: len %d, first byte %#x", len(b), b[0])
	}
	v2, err := ParseVerifyKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if v2 != v || !v2.Equal(v) {
		t.Error("round trip changed the key")
	}
	other, _ := GenerateSigningKey()
	if v.Equal(other.Public()) {
		t.Error("different keys are Equal")
	}
	if _, err := ParseVerifyKey(append([]byte{0x7f}, b[1:]...)); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("unknown algorithm: got %v, want ErrUnsupportedAlgorithm too", err)
	}
	m := map[VerifyKey]bool{v: true}
	if !m[v2] {
		t.Error("VerifyKey does not work as a map key")
	}
	zero := append([]byte{AlgEd25519}, make([]byte, 32)...)
	for _, bad := range [][]byte{nil, b[:32], append(b, 0), append([]byte{AlgXWing}, b[1:]...), zero} {
		if _, err := ParseVerifyKey(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseVerifyKey(%x): got %v, want ErrMalformed", bad, err)
		}
	}
}

// TestEd25519RFC8032 checks the raw path against RFC 8032 §7.1, TEST 1.
func TestEd25519RFC8032(t *testing.T) {
	seed := mustHex(t, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	pub := mustHex(t, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
	sig := mustHex(t, "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")

	k, err := ParseSigningKey(append([]byte{AlgEd25519}, seed...))
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Public().Bytes()[1:]; !bytes.Equal(got, pub) {
		t.Errorf("public key %x, want %x", got, pub)
	}
	if got := k.signRaw(nil); !bytes.Equal(got, sig) {
		t.Errorf("signature %x, want %x", got, sig)
	}
	if !k.Public().verifyRaw(nil, sig) {
		t.Error("RFC signature does not verify")
	}
}

// smallOrderKeys are the canonical encodings of Ed25519's eight points of
// small order (https://eprint.iacr.org/2020/1244, table 6; libsodium).
var smallOrderKeys = map[string]string{
	"identity (order 1)": "0100000000000000000000000000000000000000000000000000000000000000",
	"order 2":            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"order 4, x > 0":     "0000000000000000000000000000000000000000000000000000000000000000",
	"order 4, x < 0":     "0000000000000000000000000000000000000000000000000000000000000080",
	"order 8 (a), x > 0": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"order 8 (a), x < 0": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	"order 8 (b), x > 0": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"order 8 (b), x < 0": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
}

// TestSmallOrderVerifyKeysRefused: none of the eight small-order points, nor
// a non-canonical or sign-flipped encoding of one, is accepted as a verify
// key (SECURITY.md A26). Each listed key is first shown to be of small
// order: the forged signature (R = identity, S = 0), made without any
// private key, verifies under it for some message, as it does for 1 in at
// most 8 messages.
func TestSmallOrderVerifyKeysRefused(t *testing.T) {
	if len(smallOrderKeys) != 8 {
		t.Fatalf("%d small-order keys listed, want 8", len(smallOrderKeys))
	}
	forged := append([]byte{1}, make([]byte, 63)...) // R = identity, S = 0
	refused := func(name string, pub []byte) {
		t.Helper()
		if _, err := ParseVerifyKey(append([]byte{AlgEd25519}, pub...)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s %x: got %v, want ErrMalformed", name, pub, err)
		}
	}
	for name, h := range smallOrderKeys {
		pub, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		verifies := false
		for i := 0; i < 256 && !verifies; i++ {
			verifies = ed25519.Verify(pub, []byte{byte(i)}, forged)
		}
		if !verifies {
			t.Errorf("%s %x: not a point of small order", name, pub)
		}
		refused(name, pub)
		flipped := bytes.Clone(pub)
		flipped[31] ^= 0x80
		refused(name+" with the other sign", flipped)
	}
	for _, h := range []string{ // y + p for y = 0 and y = 1
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		pub, _ := hex.DecodeString(h)
		refused("non-canonical", pub)
	}
	// Control: real keys still parse.
	for range 100 {
		k, err := GenerateSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseVerifyKey(k.Public().Bytes()); err != nil {
			t.Fatalf("a generated key is refused: %v", err)
		}
	}
}
