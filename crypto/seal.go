package crypto

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/cloudflare/circl/kem/xwing"
	"golang.org/x/crypto/chacha20poly1305"
)

// SealKey is a user's private hybrid X25519+ML-KEM-768 (X-Wing) key, used to
// open keys sealed to that user.
type SealKey struct {
	private
	sec *hidden[sealSecret]
	pub SealPublicKey
}

type sealSecret struct {
	seed [xwing.SeedSize]byte // the encoding; sk is expanded from it
	sk   *xwing.PrivateKey
}

// SealPublicKey is the public half; encoding [AlgXWing][1216 bytes].
//
// It holds a slice on purpose: the type is not comparable, so callers use
// Equal rather than == on a 1.2 KB value.
type SealPublicKey struct {
	packed []byte // xwing.PublicKeySize bytes, nil for the zero value
}

const (
	sealKeyLen    = 1 + xwing.SeedSize
	sealPubLen    = 1 + xwing.PublicKeySize
	sealHeaderLen = 2
	sealOverhead  = sealHeaderLen + xwing.CiphertextSize + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
)

// GenerateSealKey returns a new random seal key.
func GenerateSealKey() (*SealKey, error) {
	return sealKeyFromSeed(RandomBytes(xwing.SeedSize)), nil
}

// ParseSealKey decodes the output of SealKey.Bytes: [AlgXWing][32-byte seed].
func ParseSealKey(b []byte) (*SealKey, error) {
	if err := checkEncoding("seal key", b, AlgXWing, sealKeyLen); err != nil {
		return nil, err
	}
	return sealKeyFromSeed(b[1:]), nil
}

// sealKeyFromSeed expands an X-Wing seed (the draft's private key format).
func sealKeyFromSeed(seed []byte) *SealKey {
	sk, pk := xwing.DeriveKeyPair(seed)
	k := &SealKey{
		sec: hide(sealSecret{seed: [xwing.SeedSize]byte(seed), sk: sk}),
		pub: SealPublicKey{packed: make([]byte, xwing.PublicKeySize)},
	}
	pk.Pack(k.pub.packed)
	return k
}

// Bytes encodes the key as [AlgXWing][32-byte seed], for the key file only.
func (k *SealKey) Bytes() []byte { return append([]byte{AlgXWing}, k.sec.p.seed[:]...) }

// Public returns the matching public key.
func (k *SealKey) Public() SealPublicKey { return k.pub }

// String returns "{private}".
func (k *SealKey) String() string { return "{private}" }

// ParseSealPublicKey decodes [AlgXWing][1216 bytes] and checks the ML-KEM
// part is a valid encapsulation key (FIPS 203 §7.2).
func ParseSealPublicKey(b []byte) (SealPublicKey, error) {
	if err := checkEncoding("seal public key", b, AlgXWing, sealPubLen); err != nil {
		return SealPublicKey{}, err
	}
	if !mlkemKeyValid(b[1:]) {
		return SealPublicKey{}, fmt.Errorf("seal public key: invalid ML-KEM key: %w", ErrMalformed)
	}
	return SealPublicKey{packed: bytes.Clone(b[1:])}, nil
}

// Bytes returns the encoding of the key.
func (p SealPublicKey) Bytes() []byte { return p.AppendBytes(nil) }

// AppendBytes appends the encoding of the key to b, for an encoder that
// writes thousands of keys (the organisation snapshot) without a copy each.
func (p SealPublicKey) AppendBytes(b []byte) []byte {
	return append(append(b, AlgXWing), p.packed...)
}

// Equal reports whether both keys are the same.
func (p SealPublicKey) Equal(o SealPublicKey) bool { return bytes.Equal(p.packed, o.packed) }

// SealTo encrypts plaintext to pub. context names the purpose (domain
// separation), aad binds where the sealed bytes belong (SECURITY.md A3).
// Output: [FormatVersion][AlgXWing][KEM ciphertext][24-byte nonce][AEAD ciphertext].
func SealTo(pub SealPublicKey, context string, aad, plaintext []byte) ([]byte, error) {
	return sealTo(pub, context, aad, plaintext,
		RandomBytes(xwing.EncapsulationSeedSize), RandomBytes(chacha20poly1305.NonceSizeX))
}

// sealTo is SealTo with its randomness given, for known-answer tests.
func sealTo(pub SealPublicKey, context string, aad, plaintext, kemSeed, nonce []byte) ([]byte, error) {
	if pub.packed == nil {
		return nil, fmt.Errorf("sealing: zero public key: %w", ErrMalformed)
	}
	if _, ok := domain(sealPrefix, context); !ok {
		return nil, fmt.Errorf("sealing: NUL byte in context %q", context)
	}
	var pk xwing.PublicKey
	if err := pk.Unpack(pub.packed); err != nil {
		return nil, fmt.Errorf("sealing: %w", ErrMalformed)
	}
	kemCT := make([]byte, xwing.CiphertextSize)
	ss := make([]byte, xwing.SharedKeySize)
	pk.EncapsulateTo(kemCT, ss, kemSeed)

	out := make([]byte, 0, sealOverhead+len(plaintext))
	out = append(out, FormatVersion, AlgXWing)
	out = append(out, kemCT...)
	out = append(out, nonce...)
	aead := sealAEAD(ss, context, kemCT, pub)
	return aead.Seal(out, nonce, plaintext, headerAAD(out[:sealHeaderLen], aad)), nil
}

// Open decrypts the output of SealTo. Any failure is ErrDecrypt.
func (k *SealKey) Open(context string, aad, sealed []byte) ([]byte, error) {
	if _, ok := domain(sealPrefix, context); !ok {
		return nil, ErrDecrypt
	}
	if len(sealed) < sealOverhead || sealed[0] != FormatVersion || sealed[1] != AlgXWing {
		return nil, ErrDecrypt
	}
	header := sealed[:sealHeaderLen]
	kemCT := sealed[sealHeaderLen : sealHeaderLen+xwing.CiphertextSize]
	nonce := sealed[sealHeaderLen+xwing.CiphertextSize : sealHeaderLen+xwing.CiphertextSize+chacha20poly1305.NonceSizeX]
	body := sealed[sealHeaderLen+xwing.CiphertextSize+chacha20poly1305.NonceSizeX:]

	// ML-KEM decapsulation never fails: a bad ciphertext yields an unrelated
	// secret (implicit rejection), which the AEAD tag then rejects.
	ss := make([]byte, xwing.SharedKeySize)
	k.sec.p.sk.DecapsulateTo(ss, kemCT)
	pt, err := sealAEAD(ss, context, kemCT, k.pub).Open(nil, nonce, body, headerAAD(header, aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// sealAEAD derives the AEAD key from the KEM shared secret. The context, the
// KEM ciphertext and the recipient's key are in the HKDF info so that the key
// is bound to this purpose, this encapsulation and this recipient.
func sealAEAD(ss []byte, context string, kemCT []byte, pub SealPublicKey) cipher.AEAD {
	info := mustDomain(sealPrefix, context) + string(kemCT) + string(pub.Bytes())
	key, err := hkdf.Key(sha256.New, ss, nil, info, chacha20poly1305.KeySize)
	if err != nil {
		panic("coffre/crypto: internal error: " + err.Error())
	}
	return newXChaCha(key)
}
