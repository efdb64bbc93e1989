package crypto

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"sync"
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
	// The all-zero key is also the zero value (IsZero), and one of them.
	if smallOrder(v.pub) {
		return VerifyKey{}, fmt.Errorf("verify key: a point of small order: %w", ErrMalformed)
	}
	return v, nil
}

// smallOrderY are the y coordinates, little-endian with the sign bit
// cleared, of Ed25519's eight points of small order (orders 1, 2, 4 and 8),
// with the non-canonical encodings y+p of those below 19 — libsodium's
// list. A signature by such a key can be made without any private key,
// and verifies for many messages.
var smallOrderY = [][32]byte{
	{0x00}, // y = 0: the two points of order 4
	{0x01}, // y = 1: the identity, order 1
	decodeY("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), // two points of order 8
	decodeY("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), // two points of order 8
	decodeY("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = p−1: order 2
	decodeY("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = p ≡ 0, non-canonical
	decodeY("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = p+1 ≡ 1, non-canonical
}

func decodeY(h string) [32]byte {
	var y [32]byte
	if n, err := hex.Decode(y[:], []byte(h)); err != nil || n != 32 {
		panic("crypto: internal error: bad small-order point")
	}
	return y
}

// smallOrder reports whether an encoded public key is a point of small
// order, whatever the sign bit of x (SECURITY.md A26).
func smallOrder(pub [32]byte) bool {
	pub[31] &= 0x7f
	for _, y := range smallOrderY {
		if pub == y {
			return true
		}
	}
	return false
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
	buf := verifyBufs.Get().(*[]byte)
	m := append(append((*buf)[:0], d...), msg...)
	ok = v.verifyRaw(m, sig[1:])
	if cap(m) <= verifyBufMax {
		*buf = m
		verifyBufs.Put(buf)
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

// verifyBufs holds the buffers Verify builds the signed message in (domain
// then msg, which Ed25519 hashes in one piece): a first sync verifies tens
// of thousands of log entries, and a fresh buffer for each was a tenth of
// its non-signature CPU (allocation, zeroing, GC). A message beyond
// verifyBufMax (a 1 MB rotation) gets its own buffer, not kept.
var verifyBufs = sync.Pool{New: func() any { return new([]byte) }}

const verifyBufMax = 64 << 10

func (v VerifyKey) verifyRaw(m, sig []byte) bool {
	return ed25519.Verify(v.pub[:], m, sig)
}

// Equal reports whether both keys are the same.
func (v VerifyKey) Equal(o VerifyKey) bool { return v == o }

// IsZero reports whether v is the zero value.
func (v VerifyKey) IsZero() bool { return v == VerifyKey{} }
