package crypto

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"testing"
)

// Fuzz targets for every parser of untrusted bytes. Each one starts from the
// known-answer vectors, so that the committed corpora in testdata/fuzz (written
// by -update) contain valid inputs that the fuzzer then mutates. The invariant
// is always the same: no panic, only the documented error, and nothing but
// the one genuine input is ever accepted.

func loadVectors(tb testing.TB) vectors {
	tb.Helper()
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		tb.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatal(err)
	}
	return v
}

func quoteGo(b []byte) string { return strconv.Quote(string(b)) }

// fuzzCorpora returns, per fuzz target, named seed inputs.
func fuzzCorpora(tb testing.TB, v vectors) map[string]map[string][]any {
	sig, seal, sec, bx, pp := v.Sign[0], v.Seal[0], v.Secret[0], v.Box[0], v.Passphrase[0]
	return map[string]map[string][]any{
		"FuzzParseVerifyKey": {
			"valid":     {[]byte(sig.VerifyKey)},
			"zero":      {append([]byte{AlgEd25519}, make([]byte, 32)...)},
			"wrong-alg": {append([]byte{AlgXWing}, sig.VerifyKey[1:]...)},
		},
		"FuzzVerify": {
			"valid":     {[]byte(sig.Message), []byte(sig.Signature)},
			"other-msg": {[]byte("other"), []byte(sig.Signature)},
			"short":     {[]byte(sig.Message), []byte(sig.Signature[:33])},
		},
		"FuzzOpenSealed": {
			"valid":     {[]byte(seal.AAD), []byte(seal.Sealed)},
			"wrong-aad": {[]byte("other"), []byte(seal.Sealed)},
			"header":    {[]byte(seal.AAD), []byte(seal.Sealed[:2])},
		},
		"FuzzDecrypt": {
			"valid":     {[]byte(sec.AAD), []byte(sec.Ciphertext)},
			"wrong-aad": {[]byte("other"), []byte(sec.Ciphertext)},
			"truncated": {[]byte(sec.AAD), []byte(sec.Ciphertext[:30])},
		},
		"FuzzChannelOpen": {
			"valid":     {[]byte(bx.Sealed)},
			"truncated": {[]byte(bx.Sealed[:26])},
			"empty":     {[]byte{}},
		},
		"FuzzParseSealPublicKey": {
			"valid":     {[]byte(seal.PublicKey)},
			"wrong-alg": {append([]byte{AlgEd25519}, seal.PublicKey[1:]...)},
			"mlkem-q":   {append([]byte{AlgXWing, 0xff, 0xff}, seal.PublicKey[3:]...)},
		},
		"FuzzDecryptWithPassphrase": {
			"valid":     {[]byte(pp.Passphrase), []byte(pp.File)},
			"wrong":     {[]byte("wrong"), []byte(pp.File)},
			"truncated": {[]byte(pp.Passphrase), []byte(pp.File[:len(pp.File)-5])},
		},
	}
}

// addSeeds adds the same seeds as the committed corpus, so that a plain
// go test run exercises the targets even if testdata/fuzz is missing.
func addSeeds(f *testing.F, v vectors) {
	for _, args := range fuzzCorpora(f, v)[f.Name()] {
		f.Add(args...)
	}
}

func FuzzParseVerifyKey(f *testing.F) {
	addSeeds(f, loadVectors(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseVerifyKey(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(v.Bytes(), b) || v.IsZero() {
			t.Fatalf("accepted %x but encodes as %x (zero %v)", b, v.Bytes(), v.IsZero())
		}
	})
}

func FuzzVerify(f *testing.F) {
	vec := loadVectors(f)
	addSeeds(f, vec)
	s := vec.Sign[0]
	k, err := ParseSigningKey(append([]byte{AlgEd25519}, s.Seed...))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg, sig []byte) {
		err := k.Public().Verify(s.Context, msg, sig)
		if err != nil && err != ErrBadSignature {
			t.Fatalf("error %v, want ErrBadSignature", err)
		}
		// Ed25519 is deterministic and Go rejects non-canonical S, so the
		// only signature that may verify is the one the key produces.
		genuine := k.Sign(s.Context, msg)
		if err == nil && !bytes.Equal(sig, genuine) {
			t.Fatalf("forged signature %x verifies for %q", sig, msg)
		}
		if k.Public().Verify(s.Context, msg, genuine) != nil {
			t.Fatalf("genuine signature over %q does not verify", msg)
		}
	})
}

func FuzzOpenSealed(f *testing.F) {
	vec := loadVectors(f)
	addSeeds(f, vec)
	s := vec.Seal[0]
	k, err := ParseSealKey(append([]byte{AlgXWing}, s.KeySeed...))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, aad, sealed []byte) {
		pt, err := k.Open(s.Context, aad, sealed)
		if err != nil {
			if err != ErrDecrypt {
				t.Fatalf("error %v, want ErrDecrypt", err)
			}
			return
		}
		if !bytes.Equal(sealed, s.Sealed) || !bytes.Equal(aad, s.AAD) || !bytes.Equal(pt, s.Plaintext) {
			t.Fatalf("accepted a box that is not the genuine one: aad %q, sealed %x", aad, sealed)
		}
	})
}

func FuzzDecrypt(f *testing.F) {
	vec := loadVectors(f)
	addSeeds(f, vec)
	s := vec.Secret[0]
	k, err := ParseSecretKey(append([]byte{AlgXChaCha20Poly1305}, s.Key...))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, aad, ct []byte) {
		pt, err := k.Decrypt(aad, ct)
		if err != nil {
			if err != ErrDecrypt {
				t.Fatalf("error %v, want ErrDecrypt", err)
			}
			return
		}
		if !bytes.Equal(ct, s.Ciphertext) || !bytes.Equal(aad, s.AAD) || !bytes.Equal(pt, s.Plaintext) {
			t.Fatalf("accepted a ciphertext that is not the genuine one: aad %q, ct %x", aad, ct)
		}
	})
}

func FuzzChannelOpen(f *testing.F) {
	vec := loadVectors(f)
	addSeeds(f, vec)
	s := vec.Box[0]
	c, err := boxKeyFrom(s.ClaimerPrivate)
	if err != nil {
		f.Fatal(err)
	}
	ch, err := c.NewChannel([32]byte(s.GreeterPublic), s.Transcript)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := ch.Open(b)
		if err != nil {
			if err != ErrDecrypt {
				t.Fatalf("error %v, want ErrDecrypt", err)
			}
			return
		}
		if !bytes.Equal(b, s.Sealed) || !bytes.Equal(msg, s.Message) {
			t.Fatalf("accepted a message that is not the genuine one: %x", b)
		}
	})
}

func FuzzParseSealPublicKey(f *testing.F) {
	addSeeds(f, loadVectors(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseSealPublicKey(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(p.Bytes(), b) {
			t.Fatalf("accepted %x but encodes as %x", b, p.Bytes())
		}
		// Every key the parser accepts must be usable.
		if _, err := SealTo(p, "fuzz", nil, []byte("x")); err != nil {
			t.Fatalf("SealTo an accepted key: %v", err)
		}
	})
}

func FuzzDecryptWithPassphrase(f *testing.F) {
	vec := loadVectors(f)
	addSeeds(f, vec)
	s := vec.Passphrase[0]
	f.Fuzz(func(t *testing.T, pass, file []byte) {
		pt, err := DecryptWithPassphrase(pass, file)
		if err == nil {
			if !bytes.Equal(file, s.File) || string(pass) != s.Passphrase || !bytes.Equal(pt, s.Plaintext) {
				t.Fatalf("accepted a file or passphrase that is not the genuine one: %q, %x", pass, file)
			}
			return
		}
		if bytes.Equal(file, s.File) && len(pass) > 0 && string(pass) != s.Passphrase && err != ErrWrongPassphrase {
			t.Fatalf("wrong passphrase on the genuine file: got %v, want ErrWrongPassphrase", err)
		}
	})
}
