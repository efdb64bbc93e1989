// Package crypto holds every cryptographic primitive coffre uses, behind
// small functions with fixed parameters. Nothing else in the tree imports
// golang.org/x/crypto, circl or age directly.
//
// Every encoded key, signature and ciphertext starts with an algorithm
// identifier byte (and ciphertexts with a format version byte before it), so
// that the algorithm is part of what is signed or authenticated and a
// downgrade cannot pass unnoticed (SPEC.md §2, SECURITY.md A17).
package crypto

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Format version and algorithm identifiers (SPEC.md §2.1). They are written
// in the first bytes of every encoding this package produces.
const (
	FormatVersion byte = 1

	AlgEd25519           byte = 0x01 // signatures
	AlgXWing             byte = 0x02 // X25519 + ML-KEM-768 hybrid KEM (sealing to a user)
	AlgXChaCha20Poly1305 byte = 0x03 // symmetric AEAD
	AlgBox               byte = 0x04 // nacl/box ephemeral channel (enrolment)
)

var (
	// ErrBadSignature is returned when a signature does not verify.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrDecrypt is the one uniform error for any failure to open a
	// ciphertext: wrong key, tampered bytes, wrong associated data, bad
	// format. Callers never learn which (SECURITY.md A2, A22).
	ErrDecrypt = errors.New("cannot decrypt")
	// ErrWrongPassphrase is returned when a passphrase does not open a key file.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrMalformed is returned when encoded key bytes are not well formed or
	// name an algorithm this version does not accept.
	ErrMalformed = errors.New("malformed key or signature encoding")
	// ErrUnsupportedAlgorithm is returned when an encoding names an
	// algorithm or format version this version does not accept.
	ErrUnsupportedAlgorithm = errors.New("unsupported algorithm or format version")
)

// Domain-separation prefixes (SPEC.md §2.2). A caller's context or label is
// appended after the prefix and terminated by 0x00, so no two names can
// produce the same bytes.
const (
	sigPrefix    = "coffre/v1/sig/"
	sealPrefix   = "coffre/v1/seal/"
	kdfPrefix    = "coffre/v1/kdf/"
	macPrefix    = "coffre/v1/mac/"
	digestPrefix = "coffre/v1/"
	sasLabel     = "coffre/v1/sas"
	boxLabel     = "coffre/v1/box"
)

// domain returns prefix + name + 0x00. Names are constants in the calling
// code, so a NUL inside one is a programming error that would make the
// separation ambiguous; callers without an error return panic on it.
func domain(prefix, name string) (string, bool) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", false
	}
	return prefix + name + "\x00", true
}

// mustDomain is domain for callers that cannot return an error.
func mustDomain(prefix, name string) string {
	d, ok := domain(prefix, name)
	if !ok {
		panic("coffre/crypto: internal error: NUL byte in context or label " + strconv.Quote(name))
	}
	return d
}

// checkEncoding checks that b is an n-byte encoding starting with alg. An
// unknown algorithm byte wraps both ErrMalformed and ErrUnsupportedAlgorithm,
// so that callers may test for either.
func checkEncoding(what string, b []byte, alg byte, n int) error {
	switch {
	case len(b) == 0:
		return fmt.Errorf("%s: empty: %w", what, ErrMalformed)
	case b[0] != alg:
		return fmt.Errorf("%s: algorithm %#x: %w: %w", what, b[0], ErrMalformed, ErrUnsupportedAlgorithm)
	case len(b) != n:
		return fmt.Errorf("%s: %d bytes, want %d: %w", what, len(b), n, ErrMalformed)
	}
	return nil
}

// errPrivate is what every secret type returns from text marshalling.
var errPrivate = errors.New("refusing to marshal a private key")

// private is embedded in every type that holds secret bytes so that fmt (any
// verb, including %#v and on a non-pointer copy), encoding/json and
// encoding/text refuse to show them (STYLE.md, keybase kbfs).
//
// fmt does not call methods on a value held in another struct's unexported
// field; it prints the fields by reflection. So secret bytes are only held
// through hidden, below.
type private struct{}

// Format prints {private} for every verb.
func (private) Format(f fmt.State, _ rune) { io.WriteString(f, "{private}") }

// GoString returns "{private}".
func (private) GoString() string { return "{private}" }

// MarshalText refuses, so that secrets never reach text encodings.
func (private) MarshalText() ([]byte, error) { return nil, errPrivate }

// MarshalJSON refuses, so that secrets never reach JSON.
func (private) MarshalJSON() ([]byte, error) { return nil, errPrivate }

// hidden keeps secret bytes two pointer hops away from the struct holding a
// *hidden. fmt prints a nested pointer as an address, except that for a verb
// such as %s it reports the bad verb by printing the pointed-to value once;
// the second hop keeps the bytes out of that too (TestSecretsDoNotPrint).
type hidden[T any] struct{ p *T }

func hide[T any](v T) *hidden[T] { return &hidden[T]{p: &v} }
