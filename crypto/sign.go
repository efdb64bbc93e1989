package crypto

import (
	"crypto/ed25519"
	"fmt"
)

// SigningKey is an Ed25519 private key (a device's key, or the organisation
// root key during bootstrap). It prints as {private} and refuses text
// marshalling so that it can't leak through logs or JSON.
type SigningKey struct {
	private
	priv *hidden[[ed25519.PrivateKeySize]byte]
}

// VerifyKey is a public signature key. Its encoding is
// [AlgEd25519][32-byte Ed25519 public key].
//
// It holds an array so that == and map keys work on it.
type VerifyKey struct {
	pub [ed25519.PublicKeySize]byte
}

const (
	signingKeyLen = 1 + ed25519.SeedSize
	verifyKeyLen  = 1 + ed25519.PublicKeySize
	signatureLen  = 1 + ed25519.SignatureSize
)

// GenerateSigningKey returns a new random signing key.
func GenerateSigningKey() (*SigningKey, error) {
	return signingKeyFromSeed(RandomBytes(ed25519.SeedSize)), nil
}

// ParseSigningKey decodes the output of SigningKey.Bytes.
func ParseSigningKey(b []byte) (*SigningKey, error) {
	if err := checkEncoding("signing key", b, AlgEd25519, signingKeyLen); err != nil {
		return nil, err
	}
	return signingKeyFromSeed(b[1:]), nil
}

func signingKeyFromSeed(seed []byte) *SigningKey {
	return &SigningKey{priv: hide([ed25519.PrivateKeySize]byte(ed25519.NewKeyFromSeed(seed)))}
}

// Bytes encodes the key as [AlgEd25519][32-byte seed], for the key file only.
func (k *SigningKey) Bytes() []byte {
	return append([]byte{AlgEd25519}, k.priv.p[:ed25519.SeedSize]...)
}

// Public returns the matching verify key.
func (k *SigningKey) Public() VerifyKey {
	var v VerifyKey
	copy(v.pub[:], k.priv.p[ed25519.SeedSize:])
	return v
}

// Sign signs msg in the named context; the signed bytes are
// "coffre/v1/sig/" + context + 0x00 + msg (SPEC.md §2.2). The signature
// encoding is [AlgEd25519][64 bytes].
func (k *SigningKey) Sign(context string, msg []byte) []byte {
	m := append([]byte(mustDomain(sigPrefix, context)), msg...)
	return append([]byte{AlgEd25519}, k.signRaw(m)...)
}

// signRaw is plain Ed25519 over m, kept apart so that it can be checked
// against RFC 8032 vectors.
func (k *SigningKey) signRaw(m []byte) []byte {
	return ed25519.Sign(k.priv.p[:], m)
}

// String returns "{private}".
func (k *SigningKey) String() string { return "{private}" }

// ParseVerifyKey decodes [AlgEd25519][32 bytes].
func ParseVerifyKey(b []byte) (VerifyKey, error) {
	var v VerifyKey
	if err := checkEncoding("verify key", b, AlgEd25519, verifyKeyLen); err != nil {
		return VerifyKey{}, err
	}
	copy(v.pub[:], b[1:])
	// The all-zero key is reserved for the zero value (IsZero); it is also a
	// small-order point no honest key can be.
	if v.IsZero() {
		return VerifyKey{}, fmt.Errorf("verify key: all zero: %w", ErrMalformed)
	}
	return v, nil
}

// Bytes returns the encoding of the key.
func (v VerifyKey) Bytes() []byte {
	return append([]byte{AlgEd25519}, v.pub[:]...)
}

// Verify checks sig over msg in the named context.
func (v VerifyKey) Verify(context string, msg, sig []byte) error {
	if v.IsZero() || len(sig) != signatureLen || sig[0] != AlgEd25519 {
		return ErrBadSignature
	}
	d, ok := domain(sigPrefix, context)
	if !ok {
		return ErrBadSignature
	}
	m := append([]byte(d), msg...)
	if !v.verifyRaw(m, sig[1:]) {
		return ErrBadSignature
	}
	return nil
}

func (v VerifyKey) verifyRaw(m, sig []byte) bool {
	return ed25519.Verify(v.pub[:], m, sig)
}

// Equal reports whether both keys are the same.
func (v VerifyKey) Equal(o VerifyKey) bool { return v == o }

// IsZero reports whether v is the zero value.
func (v VerifyKey) IsZero() bool { return v == VerifyKey{} }
