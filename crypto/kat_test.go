package crypto

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Known-answer vectors: testdata/vectors.json holds inputs and the outputs
// this package produced for them when the file was generated (go test
// -run TestKnownAnswers -update). The test recomputes every output from the
// stored inputs, so any change to a format, label or parameter fails here.
// The file doubles as vectors for another implementation of SPEC.md §2.

const vectorsFile = "testdata/vectors.json"

type vectors struct {
	Sign       []signVector       `json:"sign"`
	Seal       []sealVector       `json:"seal"`
	Secret     []secretVector     `json:"secret"`
	DeriveKey  []deriveKeyVector  `json:"derive_key"`
	LabeledSum []labeledSumVector `json:"labeled_sum"`
	Box        []boxVector        `json:"box"`
	Passphrase []passphraseVector `json:"passphrase"`
}

type signVector struct {
	Seed      hexBytes `json:"seed"`
	Context   string   `json:"context"`
	Message   hexBytes `json:"message"`
	VerifyKey hexBytes `json:"verify_key"`
	Signature hexBytes `json:"signature"`
}

type sealVector struct {
	KeySeed   hexBytes `json:"key_seed"`
	KEMSeed   hexBytes `json:"kem_seed"`
	Nonce     hexBytes `json:"nonce"`
	Context   string   `json:"context"`
	AAD       hexBytes `json:"aad"`
	Plaintext hexBytes `json:"plaintext"`
	PublicKey hexBytes `json:"public_key"`
	Sealed    hexBytes `json:"sealed"`
}

type secretVector struct {
	Key        hexBytes `json:"key"`
	Nonce      hexBytes `json:"nonce"`
	AAD        hexBytes `json:"aad"`
	Plaintext  hexBytes `json:"plaintext"`
	Ciphertext hexBytes `json:"ciphertext"`
}

type deriveKeyVector struct {
	Secret hexBytes `json:"secret"`
	Label  string   `json:"label"`
	Info   hexBytes `json:"info"`
	Key    hexBytes `json:"key"`
}

type labeledSumVector struct {
	Label  string     `json:"label"`
	Parts  []hexBytes `json:"parts"`
	Digest hexBytes   `json:"digest"`
}

type boxVector struct {
	GreeterPrivate hexBytes `json:"greeter_private"`
	ClaimerPrivate hexBytes `json:"claimer_private"`
	Transcript     hexBytes `json:"transcript"`
	Nonce          hexBytes `json:"nonce"`
	Message        hexBytes `json:"message"`
	GreeterPublic  hexBytes `json:"greeter_public"`
	ClaimerPublic  hexBytes `json:"claimer_public"`
	Sealed         hexBytes `json:"sealed"` // by the greeter, to the claimer
	GreeterCode    string   `json:"greeter_code"`
	ClaimerCode    string   `json:"claimer_code"`
}

// passphraseVector can't be recomputed (age draws its salt and file key at
// random); the test decrypts the stored file instead.
type passphraseVector struct {
	Passphrase string   `json:"passphrase"`
	Plaintext  hexBytes `json:"plaintext"`
	File       hexBytes `json:"file"`
}

func (v signVector) compute(t *testing.T) signVector {
	k, err := ParseSigningKey(append([]byte{AlgEd25519}, v.Seed...))
	if err != nil {
		t.Fatal(err)
	}
	v.VerifyKey = k.Public().Bytes()
	v.Signature = k.Sign(v.Context, v.Message)
	return v
}

func (v sealVector) compute(t *testing.T) sealVector {
	k, err := ParseSealKey(append([]byte{AlgXWing}, v.KeySeed...))
	if err != nil {
		t.Fatal(err)
	}
	v.PublicKey = k.Public().Bytes()
	v.Sealed, err = sealTo(k.Public(), v.Context, v.AAD, v.Plaintext, v.KEMSeed, v.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (v secretVector) compute(t *testing.T) secretVector {
	k, err := ParseSecretKey(append([]byte{AlgXChaCha20Poly1305}, v.Key...))
	if err != nil {
		t.Fatal(err)
	}
	v.Ciphertext = k.encrypt(v.AAD, v.Plaintext, v.Nonce)
	return v
}

func (v deriveKeyVector) compute(t *testing.T) deriveKeyVector {
	v.Key = DeriveKey(v.Secret, v.Label, v.Info).Bytes()[1:]
	return v
}

func (v labeledSumVector) compute(t *testing.T) labeledSumVector {
	parts := make([][]byte, len(v.Parts))
	for i, p := range v.Parts {
		parts[i] = p
	}
	d := LabeledSum(v.Label, parts...)
	v.Digest = d[:]
	return v
}

func (v boxVector) compute(t *testing.T) boxVector {
	g, err := boxKeyFrom(v.GreeterPrivate)
	if err != nil {
		t.Fatal(err)
	}
	c, err := boxKeyFrom(v.ClaimerPrivate)
	if err != nil {
		t.Fatal(err)
	}
	gp, cp := g.Public(), c.Public()
	v.GreeterPublic, v.ClaimerPublic = gp[:], cp[:]
	ch, err := g.NewChannel(cp, v.Transcript)
	if err != nil {
		t.Fatal(err)
	}
	v.Sealed = ch.seal(v.Message, [boxNonceLen]byte(v.Nonce))
	v.GreeterCode, v.ClaimerCode = ch.Codes()
	return v
}

// newVectors returns the inputs of every vector, with outputs computed.
func newVectors(t *testing.T) vectors {
	var v vectors
	for _, s := range []signVector{
		{Seed: pattern(32, 0x00), Context: "manifest", Message: []byte("hello coffre")},
		{Seed: pattern(32, 0x40), Context: "vlob", Message: nil},
	} {
		v.Sign = append(v.Sign, s.compute(t))
	}
	for _, s := range []sealVector{
		{KeySeed: pattern(32, 0x10), KEMSeed: pattern(64, 0x20), Nonce: pattern(24, 0x60),
			Context: "vault-key", AAD: []byte("vault 42 / member alice"), Plaintext: pattern(32, 0x80)},
		{KeySeed: pattern(32, 0x11), KEMSeed: pattern(64, 0x21), Nonce: pattern(24, 0x61),
			Context: "recovery", AAD: nil, Plaintext: nil},
	} {
		v.Seal = append(v.Seal, s.compute(t))
	}
	for _, s := range []secretVector{
		{Key: pattern(32, 0x01), Nonce: pattern(24, 0x30), AAD: []byte("vault 42 / block 9"), Plaintext: []byte("hello coffre")},
		{Key: pattern(32, 0x02), Nonce: pattern(24, 0x31), AAD: nil, Plaintext: nil},
	} {
		v.Secret = append(v.Secret, s.compute(t))
	}
	for _, s := range []deriveKeyVector{
		{Secret: pattern(32, 0x03), Label: "vault", Info: []byte("42")},
		{Secret: pattern(32, 0x03), Label: "vault4", Info: []byte("2")},
		{Secret: pattern(16, 0x04), Label: "canary", Info: nil},
	} {
		v.DeriveKey = append(v.DeriveKey, s.compute(t))
	}
	for _, s := range []labeledSumVector{
		{Label: "chain", Parts: []hexBytes{[]byte("ab"), []byte("c")}},
		{Label: "chain", Parts: []hexBytes{[]byte("a"), []byte("bc")}},
		{Label: "commitment", Parts: nil},
		{Label: "commitment", Parts: []hexBytes{{}}},
	} {
		v.LabeledSum = append(v.LabeledSum, s.compute(t))
	}
	for _, s := range []boxVector{
		{GreeterPrivate: pattern(32, 0x11), ClaimerPrivate: pattern(32, 0x51), Transcript: []byte("commitment|nonce"),
			Nonce: pattern(24, 0x91), Message: []byte("claimer's public keys")},
		{GreeterPrivate: pattern(32, 0x12), ClaimerPrivate: pattern(32, 0x52), Transcript: nil,
			Nonce: pattern(24, 0x92), Message: nil},
	} {
		v.Box = append(v.Box, s.compute(t))
	}
	const pass = "correct horse battery staple"
	pt := []byte("device signing key")
	file, err := EncryptWithPassphrase([]byte(pass), pt)
	if err != nil {
		t.Fatal(err)
	}
	v.Passphrase = []passphraseVector{{Passphrase: pass, Plaintext: pt, File: file}}
	return v
}

func TestKnownAnswers(t *testing.T) {
	if *update {
		b, err := json.MarshalIndent(newVectors(t), "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Sign) == 0 || len(v.Seal) == 0 || len(v.Secret) == 0 || len(v.DeriveKey) == 0 ||
		len(v.LabeledSum) == 0 || len(v.Box) == 0 || len(v.Passphrase) == 0 {
		t.Fatalf("%s is missing a section", vectorsFile)
	}

	for i, s := range v.Sign {
		sameJSON(t, "sign", i, s, s.compute(t))
		vk, err := ParseVerifyKey(s.VerifyKey)
		if err != nil || vk.Verify(s.Context, s.Message, s.Signature) != nil {
			t.Errorf("sign %d: stored signature does not verify", i)
		}
	}
	for i, s := range v.Seal {
		sameJSON(t, "seal", i, s, s.compute(t))
		k, _ := ParseSealKey(append([]byte{AlgXWing}, s.KeySeed...))
		if pt, err := k.Open(s.Context, s.AAD, s.Sealed); err != nil || !bytes.Equal(pt, s.Plaintext) {
			t.Errorf("seal %d: stored box does not open: %v", i, err)
		}
	}
	for i, s := range v.Secret {
		sameJSON(t, "secret", i, s, s.compute(t))
		k, _ := ParseSecretKey(append([]byte{AlgXChaCha20Poly1305}, s.Key...))
		if pt, err := k.Decrypt(s.AAD, s.Ciphertext); err != nil || !bytes.Equal(pt, s.Plaintext) {
			t.Errorf("secret %d: stored ciphertext does not decrypt: %v", i, err)
		}
	}
	for i, s := range v.DeriveKey {
		sameJSON(t, "derive_key", i, s, s.compute(t))
	}
	for i, s := range v.LabeledSum {
		sameJSON(t, "labeled_sum", i, s, s.compute(t))
	}
	for i, s := range v.Box {
		sameJSON(t, "box", i, s, s.compute(t))
		// The claimer's side must open the message and agree on the codes.
		c, _ := boxKeyFrom(s.ClaimerPrivate)
		ch, err := c.NewChannel([32]byte(s.GreeterPublic), s.Transcript)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := ch.Open(s.Sealed); err != nil || !bytes.Equal(pt, s.Message) {
			t.Errorf("box %d: claimer cannot open: %v", i, err)
		}
		if g, c := ch.Codes(); g != s.GreeterCode || c != s.ClaimerCode {
			t.Errorf("box %d: claimer codes %s/%s, want %s/%s", i, g, c, s.GreeterCode, s.ClaimerCode)
		}
	}
	for i, s := range v.Passphrase {
		pt, err := DecryptWithPassphrase([]byte(s.Passphrase), s.File)
		if err != nil || !bytes.Equal(pt, s.Plaintext) {
			t.Errorf("passphrase %d: stored file does not decrypt: %q, %v", i, pt, err)
		}
	}
	if *update {
		writeFuzzCorpora(t, v)
	}
}

// sameJSON compares a stored vector with the recomputed one.
func sameJSON(t *testing.T, kind string, i int, stored, computed any) {
	t.Helper()
	a, _ := json.Marshal(stored)
	b, _ := json.Marshal(computed)
	if !bytes.Equal(a, b) {
		t.Errorf("%s vector %d differs:\nstored   %s\ncomputed %s", kind, i, a, b)
	}
}

// writeFuzzCorpora writes the committed seed corpora for the fuzz targets in
// fuzz_test.go, in the "go test fuzz v1" format, from fixed inputs.
func writeFuzzCorpora(t *testing.T, v vectors) {
	for name, seeds := range fuzzCorpora(t, v) {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for file, args := range seeds {
			var b bytes.Buffer
			b.WriteString("go test fuzz v1\n")
			for _, a := range args {
				switch a := a.(type) {
				case []byte:
					b.WriteString("[]byte(" + quoteGo(a) + ")\n")
				case string:
					b.WriteString("string(" + quoteGo([]byte(a)) + ")\n")
				default:
					t.Fatalf("unsupported corpus type %T", a)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, file), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
