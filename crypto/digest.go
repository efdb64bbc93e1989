package crypto

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"hash"
)

// Digest is a SHA-256 digest.
type Digest [32]byte

// Sum returns the SHA-256 digest of b.
func Sum(b []byte) Digest { return sha256.Sum256(b) }

// NewHash returns a streaming SHA-256.
func NewHash() hash.Hash { return sha256.New() }

// LabeledSum is SHA-256 over label + 0x00 + each part prefixed by its
// 8-byte big-endian length; used for hash chains and commitments so that
// distinct inputs can never collide by concatenation.
// The label is itself prefixed with "coffre/v1/".
func LabeledSum(label string, parts ...[]byte) Digest {
	return labeledHash(sha256.New(), mustDomain(digestPrefix, label), parts)
}

// labeledHash writes the domain, then each part prefixed by its 8-byte
// big-endian length, to h and returns the sum.
func labeledHash(h hash.Hash, domain string, parts [][]byte) Digest {
	h.Write([]byte(domain))
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var d Digest
	h.Sum(d[:0])
	return d
}

// RandomBytes returns n bytes from the system CSPRNG.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	// Since Go 1.24 crypto/rand.Read never returns an error (it crashes the
	// program instead); the check stays in case Reader is ever replaced.
	if _, err := rand.Read(b); err != nil {
		panic("coffre/crypto: internal error: reading random bytes: " + err.Error())
	}
	return b
}

// Equal compares two byte slices in constant time.
// Only the contents are secret: slices of different lengths return early.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
