package crypto

import (
	"bytes"
	"errors"
	"testing"
)

// sealRegions names the parts of a sealed box for tamper messages.
var sealRegions = []region{{"header", 2}, {"kem ciphertext", 2 + 1120}, {"nonce", 2 + 1120 + 24}}

func TestSealOpen(t *testing.T) {
	k, err := GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("vault key 7")
	aad := []byte("vault 42 / member alice")
	sealed, err := SealTo(k.Public(), "vault-key", aad, pt)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != sealOverhead+len(pt) || sealed[0] != FormatVersion || sealed[1] != AlgXWing {
		t.Fatalf("sealed encoding: len %d, header %x", len(sealed), sealed[:2])
	}
	got, err := k.Open("vault-key", aad, sealed)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open: %q, %v", got, err)
	}
	again, _ := SealTo(k.Public(), "vault-key", aad, pt)
	if bytes.Equal(again, sealed) {
		t.Error("two seals of the same plaintext are identical")
	}

	other, _ := GenerateSealKey()
	for name, open := range map[string]func() ([]byte, error){
		"wrong key":     func() ([]byte, error) { return other.Open("vault-key", aad, sealed) },
		"wrong context": func() ([]byte, error) { return k.Open("canary", aad, sealed) },
		"NUL context":   func() ([]byte, error) { return k.Open("vault-key\x00", aad, sealed) },
		"wrong aad":     func() ([]byte, error) { return k.Open("vault-key", []byte("vault 42 / member bob"), sealed) },
		"nil aad":       func() ([]byte, error) { return k.Open("vault-key", nil, sealed) },
	} {
		if got, err := open(); err != ErrDecrypt {
			t.Errorf("%s: got %q, %v; want ErrDecrypt", name, got, err)
		}
	}

	open := func(b []byte) ([]byte, error) { return k.Open("vault-key", aad, b) }
	checkTamper(t, sealed, sealRegions, open)
	checkDowngrade(t, sealed, open)
}

func TestSealEmptyPlaintext(t *testing.T) {
	k, _ := GenerateSealKey()
	sealed, err := SealTo(k.Public(), "c", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.Open("c", nil, sealed); err != nil || len(got) != 0 {
		t.Fatalf("Open: %q, %v", got, err)
	}
}

func TestSealToInvalidInput(t *testing.T) {
	if _, err := SealTo(SealPublicKey{}, "c", nil, []byte("x")); err == nil {
		t.Error("SealTo the zero public key succeeded")
	}
	k, _ := GenerateSealKey()
	if _, err := SealTo(k.Public(), "a\x00b", nil, []byte("x")); err == nil {
		t.Error("SealTo with a NUL in the context succeeded")
	}
}

func TestSealKeyEncoding(t *testing.T) {
	k, _ := GenerateSealKey()
	b := k.Bytes()
	if len(b) != 33 || b[0] != AlgXWing {
		t.Fatalf("encoding: len %d, first byte %#x", len(b), b[0])
	}
	k2, err := ParseSealKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Public().Equal(k.Public()) {
		t.Error("parsed key has a different public key")
	}
	sealed, _ := SealTo(k.Public(), "c", nil, []byte("x"))
	if _, err := k2.Open("c", nil, sealed); err != nil {
		t.Errorf("parsed key cannot open: %v", err)
	}
	for _, bad := range [][]byte{nil, b[:32], append(b, 0), append([]byte{AlgEd25519}, b[1:]...)} {
		if _, err := ParseSealKey(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseSealKey(%x): got %v, want ErrMalformed", bad, err)
		}
	}
}

func TestSealPublicKeyEncoding(t *testing.T) {
	k, _ := GenerateSealKey()
	b := k.Public().Bytes()
	if len(b) != 1217 || b[0] != AlgXWing {
		t.Fatalf("encoding: len %d, first byte %#x", len(b), b[0])
	}
	p, err := ParseSealPublicKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Equal(k.Public()) || !bytes.Equal(p.Bytes(), b) {
		t.Error("round trip changed the key")
	}
	other, _ := GenerateSealKey()
	if p.Equal(other.Public()) {
		t.Error("different keys are Equal")
	}
	// An ML-KEM coefficient of 0xfff is >= q, which FIPS 203 requires
	// rejecting.
	badMLKEM := append([]byte(nil), b...)
	badMLKEM[1], badMLKEM[2] = 0xff, 0xff
	for name, bad := range map[string][]byte{
		"empty":       nil,
		"short":       b[:1216],
		"long":        append(append([]byte(nil), b...), 0),
		"wrong alg":   append([]byte{AlgEd25519}, b[1:]...),
		"ML-KEM >= q": badMLKEM,
	} {
		if _, err := ParseSealPublicKey(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}
