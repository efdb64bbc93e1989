package crypto

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

// BoxKey is an ephemeral X25519 key for the enrolment channel (nacl/box).
type BoxKey struct {
	private
	priv *hidden[[32]byte]
	pub  [32]byte
}

// GenerateBoxKey returns a new random ephemeral key.
func GenerateBoxKey() (*BoxKey, error) { return boxKeyFrom(RandomBytes(32)) }

func boxKeyFrom(priv []byte) (*BoxKey, error) {
	pub, err := curve25519.X25519(priv, curve25519.Basepoint)
	if err != nil {
		return nil, fmt.Errorf("box key: %w", err)
	}
	return &BoxKey{priv: hide([32]byte(priv)), pub: [32]byte(pub)}, nil
}

// Public returns the key to send to the peer.
func (k *BoxKey) Public() [32]byte { return k.pub }

// String returns "{private}".
func (k *BoxKey) String() string { return "{private}" }

// Channel is an established enrolment channel between greeter and claimer.
//
// Each direction has its own key, derived from the box shared key and the
// ordered pair of public keys, so a message cannot be reflected back to its
// sender and accepted as the peer's.
type Channel struct {
	private
	keys       *hidden[channelKeys]
	lo, hi     [32]byte // both public keys, sorted so both sides agree
	transcript []byte
}

type channelKeys struct {
	shared     [32]byte // nacl/box precomputed key, input to the SAS
	send, recv [32]byte
}

const (
	boxHeaderLen = 2
	boxNonceLen  = 24
	boxOverhead  = boxHeaderLen + boxNonceLen + box.Overhead
	// sasAlphabet has 32 symbols without 0/O, 1/I: 5 bits per character.
	sasAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	sasChars    = 4
)

// NewChannel precomputes the shared key with the peer's ephemeral public key.
// transcript is bound into the SAS codes (both sides pass identical bytes).
func (k *BoxKey) NewChannel(peer [32]byte, transcript []byte) (*Channel, error) {
	// X25519 fails when the result is all zeroes, which is what a zero or
	// low-order peer key gives: the "shared" key would be known to everyone.
	if _, err := curve25519.X25519(k.priv.p[:], peer[:]); err != nil {
		return nil, fmt.Errorf("enrolment channel: peer key: %w", ErrMalformed)
	}
	c := &Channel{keys: hide(channelKeys{}), transcript: bytes.Clone(transcript)}
	box.Precompute(&c.keys.p.shared, &peer, k.priv.p)
	c.keys.p.send = directionKey(&c.keys.p.shared, k.pub, peer)
	c.keys.p.recv = directionKey(&c.keys.p.shared, peer, k.pub)
	c.lo, c.hi = k.pub, peer
	if bytes.Compare(c.lo[:], c.hi[:]) > 0 {
		c.lo, c.hi = c.hi, c.lo
	}
	return c, nil
}

func directionKey(shared *[32]byte, from, to [32]byte) [32]byte {
	info := boxLabel + "\x00" + string(from[:]) + string(to[:])
	key, err := hkdf.Key(sha256.New, shared[:], nil, info, 32)
	if err != nil {
		panic("coffre/crypto: internal error: " + err.Error())
	}
	return [32]byte(key)
}

// Seal encrypts msg with a random nonce: [FormatVersion][AlgBox][24-byte nonce][box].
func (c *Channel) Seal(msg []byte) []byte {
	return c.seal(msg, [boxNonceLen]byte(RandomBytes(boxNonceLen)))
}

// seal is Seal with the nonce given, for known-answer tests.
func (c *Channel) seal(msg []byte, nonce [boxNonceLen]byte) []byte {
	out := make([]byte, 0, boxOverhead+len(msg))
	out = append(out, FormatVersion, AlgBox)
	out = append(out, nonce[:]...)
	return box.SealAfterPrecomputation(out, msg, &nonce, &c.keys.p.send)
}

// Open decrypts the output of the peer's Seal. Any failure is ErrDecrypt.
func (c *Channel) Open(b []byte) ([]byte, error) {
	// nacl/box has no associated data; the header is checked exactly instead,
	// and there is a single algorithm to accept.
	if len(b) < boxOverhead || b[0] != FormatVersion || b[1] != AlgBox {
		return nil, ErrDecrypt
	}
	nonce := [boxNonceLen]byte(b[boxHeaderLen : boxHeaderLen+boxNonceLen])
	msg, ok := box.OpenAfterPrecomputation(nil, b[boxHeaderLen+boxNonceLen:], &nonce, &c.keys.p.recv)
	if !ok {
		return nil, ErrDecrypt
	}
	return msg, nil
}

// Codes returns the two short authentication strings derived from the shared
// key and the transcript: the greeter's code and the claimer's code. Each is
// 4 characters from an unambiguous 32-letter alphabet (20 bits).
//
// The 40 bits are HKDF-SHA-256(shared key, info = "coffre/v1/sas" + 0x00 +
// both public keys in byte order + transcript): the first 20 bits give the
// greeter's code, the next 20 the claimer's.
func (c *Channel) Codes() (greeter, claimer string) {
	info := sasLabel + "\x00" + string(c.lo[:]) + string(c.hi[:]) + string(c.transcript)
	b, err := hkdf.Key(sha256.New, c.keys.p.shared[:], nil, info, 5)
	if err != nil {
		panic("coffre/crypto: internal error: " + err.Error())
	}
	var v [8]byte
	copy(v[3:], b)
	bits := binary.BigEndian.Uint64(v[:])
	return sasCode(bits >> 20), sasCode(bits)
}

// sasCode writes the low 20 bits of v as 4 characters, most significant first.
func sasCode(v uint64) string {
	var s [sasChars]byte
	for i := range s {
		s[i] = sasAlphabet[(v>>(5*(sasChars-1-i)))&31]
	}
	return string(s[:])
}
