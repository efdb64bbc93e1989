package crypto

import (
	"bytes"
	"errors"
	"testing"
)

var secretRegions = []region{{"header", 2}, {"nonce", 2 + 24}}

func TestSecretKeyEncryptDecrypt(t *testing.T) {
	k := NewSecretKey()
	pt := []byte("block 9 of document 3")
	aad := []byte("vault 42 / block 9")
	ct := k.Encrypt(aad, pt)
	if len(ct) != 2+24+len(pt)+16 || ct[0] != FormatVersion || ct[1] != AlgXChaCha20Poly1305 {
		t.Fatalf("ciphertext encoding: len %d, header %x", len(ct), ct[:2])
	}
	got, err := k.Decrypt(aad, ct)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Decrypt: %q, %v", got, err)
	}
	if bytes.Equal(k.Encrypt(aad, pt), ct) {
		t.Error("two encryptions of the same plaintext are identical")
	}
	if got, err := NewSecretKey().Decrypt(aad, ct); err != ErrDecrypt {
		t.Errorf("wrong key: got %q, %v", got, err)
	}
	if got, err := k.Decrypt([]byte("vault 42 / block 8"), ct); err != ErrDecrypt {
		t.Errorf("wrong aad: got %q, %v", got, err)
	}
	if got, err := (SecretKey{}).Decrypt(aad, ct); err != ErrDecrypt {
		t.Errorf("zero key: got %q, %v", got, err)
	}
	open := func(b []byte) ([]byte, error) { return k.Decrypt(aad, b) }
	checkTamper(t, ct, secretRegions, open)
	checkDowngrade(t, ct, open)
}

// TestSecretKeyHeaderAuthenticated checks the header is authenticated, not
// merely compared: the same AEAD output under another header must fail even
// to a decrypter that would accept that header.
func TestSecretKeyHeaderAuthenticated(t *testing.T) {
	k := NewSecretKey()
	nonce := pattern(24, 0)
	ct := k.encrypt(nil, []byte("x"), nonce)
	// Seal the same plaintext without the header in the AAD: the tag must differ.
	raw := newXChaCha(k.key.p[:]).Seal(nil, nonce, []byte("x"), nil)
	if bytes.Equal(raw, ct[26:]) {
		t.Fatal("header is not part of the authenticated data")
	}
}

func TestSecretKeyZeroValuePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Encrypt with the zero SecretKey did not panic")
		}
	}()
	SecretKey{}.Encrypt(nil, []byte("x"))
}

func TestSecretKeyEncoding(t *testing.T) {
	k := NewSecretKey()
	b := k.Bytes()
	if len(b) != 33 || b[0] != AlgXChaCha20Poly1305 {
		t.Fatalf("encoding: len %d, first byte %#x", len(b), b[0])
	}
	k2, err := ParseSecretKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k2.Decrypt(nil, k.Encrypt(nil, []byte("x"))); err != nil || string(got) != "x" {
		t.Errorf("parsed key cannot decrypt: %q, %v", got, err)
	}
	for _, bad := range [][]byte{nil, b[:32], append(b, 0), append([]byte{AlgBox}, b[1:]...)} {
		if _, err := ParseSecretKey(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseSecretKey(%x): got %v, want ErrMalformed", bad, err)
		}
	}
}

func TestDeriveKey(t *testing.T) {
	secret := pattern(32, 1)
	ct := DeriveKey(secret, "vault", []byte("42")).Encrypt(nil, []byte("x"))
	if _, err := DeriveKey(secret, "vault", []byte("42")).Decrypt(nil, ct); err != nil {
		t.Errorf("same inputs give a different key: %v", err)
	}
	for name, k := range map[string]SecretKey{
		"other secret":         DeriveKey(pattern(32, 2), "vault", []byte("42")),
		"other label":          DeriveKey(secret, "vaulT", []byte("42")),
		"other info":           DeriveKey(secret, "vault", []byte("43")),
		"label/info boundary":  DeriveKey(secret, "vault4", []byte("2")),
		"no info":              DeriveKey(secret, "vault", nil),
		"label absorbing info": DeriveKey(secret, "vault42", nil),
	} {
		if _, err := k.Decrypt(nil, ct); err != ErrDecrypt {
			t.Errorf("%s: derived the same key", name)
		}
	}
}

func BenchmarkSecretKeyEncrypt1MiB(b *testing.B) {
	k := NewSecretKey()
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		k.Encrypt(nil, buf)
	}
}

// The put/get path's forms (issue 15) are the same format as Encrypt and
// Decrypt: each opens the other's output, and tampering still fails.
func TestSecretKeyPaddedAndInPlace(t *testing.T) {
	k := NewSecretKey()
	aad := []byte("block")
	plain := []byte("hello, block")
	ct := k.EncryptPadded(aad, plain, 64)
	got, err := k.Decrypt(aad, ct)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(bytes.Clone(plain), make([]byte, 64-len(plain))...); !bytes.Equal(got, want) {
		t.Fatalf("EncryptPadded opened to %q, want the plaintext then zeros", got)
	}
	ct2 := k.Encrypt(aad, plain)
	got, err = k.DecryptInPlace(aad, bytes.Clone(ct2))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("DecryptInPlace = %q, %v", got, err)
	}
	for _, bad := range []struct {
		name string
		aad  []byte
		ct   []byte
	}{
		{"other aad", []byte("other"), bytes.Clone(ct)},
		{"flipped byte", aad, func() []byte { c := bytes.Clone(ct); c[len(c)-20] ^= 1; return c }()},
		{"truncated", aad, bytes.Clone(ct[:len(ct)-1])},
		{"other version", aad, func() []byte { c := bytes.Clone(ct); c[0]++; return c }()},
	} {
		if _, err := k.DecryptInPlace(bad.aad, bad.ct); err != ErrDecrypt {
			t.Errorf("%s: DecryptInPlace err = %v, want ErrDecrypt", bad.name, err)
		}
	}
	if _, err := (SecretKey{}).DecryptInPlace(aad, bytes.Clone(ct)); err != ErrDecrypt {
		t.Errorf("zero key: err = %v, want ErrDecrypt", err)
	}
}

// EncryptInPlace seals the plaintext where it lies, in the caller's
// buffer, to what opens like Encrypt's output, with a fresh nonce each
// time, and refuses a buffer without room for the tag.
func TestSecretKeyEncryptInPlace(t *testing.T) {
	k := NewSecretKey()
	aad := []byte("block")
	plain := RandomBytes(1000)
	buf := make([]byte, SecretOverhead+len(plain))
	copy(buf[SecretPrefix:], plain)
	out := k.EncryptInPlace(aad, buf, len(plain))
	if len(out) != SecretOverhead+len(plain) || &out[0] != &buf[0] {
		t.Fatalf("EncryptInPlace returned %d bytes, not %d in the buffer given", len(out), SecretOverhead+len(plain))
	}
	if bytes.Contains(out, plain[:32]) {
		t.Fatal("the plaintext is still in the buffer")
	}
	got, err := k.Decrypt(aad, out)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Decrypt(EncryptInPlace) = %d bytes, %v", len(got), err)
	}
	if _, err := k.Decrypt([]byte("other"), out); err != ErrDecrypt {
		t.Fatalf("EncryptInPlace's output opened under other associated data (err %v)", err)
	}
	again := make([]byte, SecretOverhead+len(plain))
	copy(again[SecretPrefix:], plain)
	if bytes.Equal(k.EncryptInPlace(aad, again, len(plain))[:SecretPrefix], out[:SecretPrefix]) {
		t.Fatal("two EncryptInPlace of the same plaintext have the same nonce")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("EncryptInPlace into a buffer without room for the tag did not panic")
		}
	}()
	k.EncryptInPlace(aad, make([]byte, SecretOverhead+len(plain)-1), len(plain))
}

// EncryptTo appends what Encrypt returns to the caller's buffer, without
// allocating one when it has room, and opens like Encrypt's output.
func TestSecretKeyEncryptTo(t *testing.T) {
	k := NewSecretKey()
	aad := []byte("block")
	plain := bytes.Repeat([]byte("x"), 1000)
	buf := make([]byte, 3, 3+SecretOverhead+len(plain))
	copy(buf, "pre")
	out := k.EncryptTo(buf, aad, plain)
	if string(out[:3]) != "pre" || len(out) != 3+SecretOverhead+len(plain) || &out[0] != &buf[0] {
		t.Fatalf("EncryptTo did not append %d bytes in the buffer given (len %d)", SecretOverhead+len(plain), len(out))
	}
	got, err := k.Decrypt(aad, out[3:])
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Decrypt(EncryptTo) = %q, %v", got, err)
	}
	if _, err := k.Decrypt([]byte("other"), out[3:]); err != ErrDecrypt {
		t.Fatalf("EncryptTo's output opened under other associated data (err %v)", err)
	}
	if again := k.EncryptTo(nil, aad, plain); bytes.Equal(again, out[3:]) {
		t.Fatal("two EncryptTo of the same plaintext are equal: the nonce is not fresh")
	}
	if n := testing.AllocsPerRun(10, func() { k.EncryptTo(buf[:0], aad, plain) }); n > 3 {
		t.Errorf("EncryptTo into a buffer with room allocates %v times (the nonce, the AEAD, the aad: at most 3)", n)
	}
}
