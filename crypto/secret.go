package crypto

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"

	"golang.org/x/crypto/chacha20poly1305"
)

// SecretKey is a 256-bit symmetric key for XChaCha20-Poly1305.
type SecretKey struct {
	private
	key *hidden[[chacha20poly1305.KeySize]byte] // nil for the zero value
}

const (
	secretKeyLen      = 1 + chacha20poly1305.KeySize
	secretHeaderLen   = 2
	secretMinCipherLn = secretHeaderLen + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
)

// NewSecretKey returns a new random key.
func NewSecretKey() SecretKey { return secretKeyFrom(RandomBytes(chacha20poly1305.KeySize)) }

func secretKeyFrom(b []byte) SecretKey {
	return SecretKey{key: hide([chacha20poly1305.KeySize]byte(b))}
}

// ParseSecretKey decodes the output of Bytes: [AlgXChaCha20Poly1305][32 bytes].
func ParseSecretKey(b []byte) (SecretKey, error) {
	if err := checkEncoding("secret key", b, AlgXChaCha20Poly1305, secretKeyLen); err != nil {
		return SecretKey{}, err
	}
	return secretKeyFrom(b[1:]), nil
}

// Bytes encodes the key as [AlgXChaCha20Poly1305][32 bytes].
func (k SecretKey) Bytes() []byte {
	k.mustBeSet()
	return append([]byte{AlgXChaCha20Poly1305}, k.key.p[:]...)
}

// String returns "{private}".
func (k SecretKey) String() string { return "{private}" }

// Encrypt seals plaintext with a random nonce.
// Output: [FormatVersion][AlgXChaCha20Poly1305][24-byte nonce][ciphertext+tag].
// The version and algorithm bytes are also authenticated (prepended to aad).
func (k SecretKey) Encrypt(aad, plaintext []byte) []byte {
	return k.encrypt(aad, plaintext, RandomBytes(chacha20poly1305.NonceSizeX))
}

// encrypt is Encrypt with the nonce given, for known-answer tests.
func (k SecretKey) encrypt(aad, plaintext, nonce []byte) []byte {
	k.mustBeSet()
	out := make([]byte, 0, secretMinCipherLn+len(plaintext))
	out = append(out, FormatVersion, AlgXChaCha20Poly1305)
	out = append(out, nonce...)
	return newXChaCha(k.key.p[:]).Seal(out, nonce, plaintext, headerAAD(out[:secretHeaderLen], aad))
}

// EncryptPadded is Encrypt of plaintext followed by zeros up to paddedLen
// bytes (at least len(plaintext)), built in the output buffer itself: one
// allocation and one copy per block instead of a padded copy and then the
// ciphertext (the put path, issue 15).
func (k SecretKey) EncryptPadded(aad, plaintext []byte, paddedLen int) []byte {
	k.mustBeSet()
	if paddedLen < len(plaintext) {
		panic("coffre/crypto: internal error: padded length below the plaintext's")
	}
	nonce := RandomBytes(chacha20poly1305.NonceSizeX)
	out := make([]byte, secretMinCipherLn+paddedLen) // zeroed: the padding
	out[0], out[1] = FormatVersion, AlgXChaCha20Poly1305
	copy(out[secretHeaderLen:], nonce)
	body := out[secretHeaderLen+chacha20poly1305.NonceSizeX:]
	copy(body, plaintext)
	// Seal in place: dst and plaintext start at the same byte, which
	// cipher.AEAD allows.
	newXChaCha(k.key.p[:]).Seal(body[:0], nonce, body[:paddedLen], headerAAD(out[:secretHeaderLen], aad))
	return out
}

// EncryptTo is Encrypt appending its output to dst, which must not
// overlap plaintext: a caller that reuses its buffers (the put path,
// issue 15) seals without allocating or zeroing a new one, and with no
// copy of the plaintext (padding included) before it is sealed.
func (k SecretKey) EncryptTo(dst, aad, plaintext []byte) []byte {
	k.mustBeSet()
	nonce := RandomBytes(chacha20poly1305.NonceSizeX)
	dst = append(dst, FormatVersion, AlgXChaCha20Poly1305)
	header := dst[len(dst)-secretHeaderLen:]
	dst = append(dst, nonce...)
	return newXChaCha(k.key.p[:]).Seal(dst, nonce, plaintext, headerAAD(header, aad))
}

// SecretOverhead is how many bytes Encrypt adds to a plaintext.
const SecretOverhead = secretMinCipherLn

// SecretPrefix is how many of SecretOverhead's bytes come before the
// ciphertext of the plaintext (the header and the nonce); the rest follow
// it.
const SecretPrefix = secretHeaderLen + chacha20poly1305.NonceSizeX

// EncryptInPlace is Encrypt of buf[SecretPrefix:SecretPrefix+n], written
// over buf itself: it returns buf[:SecretOverhead+n], the header and
// nonce before the ciphertext, which takes the plaintext's place, and
// the tag after it. A caller that reads its plaintext into a buffer with
// that room seals it without a second buffer (the put path, issue 15).
// It panics if buf's capacity is below SecretOverhead+n.
func (k SecretKey) EncryptInPlace(aad, buf []byte, n int) []byte {
	k.mustBeSet()
	if n < 0 || cap(buf) < secretMinCipherLn+n {
		panic("coffre/crypto: internal error: no room to encrypt in place")
	}
	buf = buf[:SecretPrefix+n]
	buf[0], buf[1] = FormatVersion, AlgXChaCha20Poly1305
	nonce := buf[secretHeaderLen:SecretPrefix]
	copy(nonce, RandomBytes(len(nonce)))
	body := buf[SecretPrefix:]
	// Seal in place: dst and plaintext start at the same byte, which
	// cipher.AEAD allows.
	sealed := newXChaCha(k.key.p[:]).Seal(body[:0], nonce, body, headerAAD(buf[:secretHeaderLen], aad))
	return buf[:SecretPrefix+len(sealed)]
}

// DecryptInPlace is Decrypt writing the plaintext over the ciphertext's own
// bytes: no allocation for the block being read (the get path). The
// plaintext returned shares ciphertext's memory, and ciphertext is
// overwritten whether or not it opens; a caller that keeps the ciphertext
// (the block cache) uses Decrypt.
func (k SecretKey) DecryptInPlace(aad, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < secretMinCipherLn {
		return nil, ErrDecrypt
	}
	return k.open(aad, ciphertext, ciphertext[secretHeaderLen+chacha20poly1305.NonceSizeX:][:0])
}

// Decrypt opens the output of Encrypt. Any failure is ErrDecrypt; nothing is
// returned before the tag is checked.
func (k SecretKey) Decrypt(aad, ciphertext []byte) ([]byte, error) {
	return k.open(aad, ciphertext, nil)
}

// open checks ciphertext's header and opens it, appending the plaintext
// to dst.
func (k SecretKey) open(aad, ciphertext, dst []byte) ([]byte, error) {
	if k.key == nil || len(ciphertext) < secretMinCipherLn ||
		ciphertext[0] != FormatVersion || ciphertext[1] != AlgXChaCha20Poly1305 {
		return nil, ErrDecrypt
	}
	header := ciphertext[:secretHeaderLen]
	nonce := ciphertext[secretHeaderLen : secretHeaderLen+chacha20poly1305.NonceSizeX]
	body := ciphertext[secretHeaderLen+chacha20poly1305.NonceSizeX:]
	pt, err := newXChaCha(k.key.p[:]).Open(dst, nonce, body, headerAAD(header, aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// mustBeSet panics on the zero SecretKey: encrypting under an all-zero key
// would silently publish the plaintext.
func (k SecretKey) mustBeSet() {
	if k.key == nil {
		panic("coffre/crypto: internal error: use of zero SecretKey")
	}
}

// DeriveKey derives a key with HKDF-SHA-256 from secret, with a named label
// (domain separation) and optional info.
// The HKDF info is "coffre/v1/kdf/" + label + 0x00 + info.
func DeriveKey(secret []byte, label string, info []byte) SecretKey {
	key, err := hkdf.Key(sha256.New, secret, nil, mustDomain(kdfPrefix, label)+string(info), chacha20poly1305.KeySize)
	if err != nil {
		panic("coffre/crypto: internal error: " + err.Error())
	}
	return secretKeyFrom(key)
}

// MAC is HMAC-SHA-256 keyed with k over label + 0x00 + each part prefixed
// by its 8-byte big-endian length (the label prefixed with
// "coffre/v1/mac/"). It names things in local state without showing them:
// equal inputs give equal keys for lookups, and without k a guess can't be
// checked (SPEC.md §9).
func (k SecretKey) MAC(label string, parts ...[]byte) Digest {
	k.mustBeSet()
	return labeledHash(hmac.New(sha256.New, k.key.p[:]), mustDomain(macPrefix, label), parts)
}

// headerAAD authenticates the version and algorithm bytes with the caller's
// associated data, so that they cannot be swapped (SECURITY.md A17).
func headerAAD(header, aad []byte) []byte {
	return append(append(make([]byte, 0, len(header)+len(aad)), header...), aad...)
}

func newXChaCha(key []byte) cipher.AEAD {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		panic("coffre/crypto: internal error: " + err.Error())
	}
	return aead
}
