// Package shamir splits a secret into n shares of which any k rebuild it and
// k−1 give no information about it: Shamir's secret sharing over GF(2^8)
// (SPEC §15.6), byte by byte, with the AES field polynomial x^8+x^4+x^3+x+1.
//
// Share i (x = i, 1 ≤ i ≤ n) of each secret byte is the value at x of a
// random polynomial of degree k−1 whose constant term is that byte. Field
// arithmetic is written without tables or secret-dependent branches.
//
// Shares carry no authentication: a crafted share rebuilds a wrong secret
// silently. Callers check the rebuilt secret (the recovery secret's check
// character and the file it opens do, §15.5).
package shamir

import (
	"errors"
	"fmt"
	"io"
)

// MaxShares is the largest number of shares: x ranges over the non-zero
// field elements.
const MaxShares = 255

var (
	// ErrBadParameters is returned by Split when not 1 ≤ k ≤ n ≤ MaxShares or
	// the secret is empty.
	ErrBadParameters = errors.New("shamir: need 1 ≤ threshold ≤ shares ≤ 255 and a non-empty secret")
	// ErrBadShares is returned by Combine for no shares, shares of different
	// lengths, an x of 0 or the same x twice.
	ErrBadShares = errors.New("shamir: shares are empty, of different lengths, or repeat an x")
)

// Share is one share: its x coordinate (1..255) and one y per secret byte.
type Share struct {
	X byte
	Y []byte
}

// String hides the share's bytes.
func (Share) String() string { return "{share}" }

// GoString hides the share's bytes.
func (Share) GoString() string { return "{share}" }

// Split returns n shares of secret, any k of which rebuild it. Coefficients
// are read from random (crypto/rand.Reader in production).
func Split(secret []byte, n, k int, random io.Reader) ([]Share, error) {
	if len(secret) == 0 || k < 1 || k > n || n > MaxShares {
		return nil, ErrBadParameters
	}
	shares := make([]Share, n)
	for i := range shares {
		shares[i] = Share{X: byte(i + 1), Y: make([]byte, len(secret))}
	}
	coeffs := make([]byte, k)
	defer clear(coeffs)
	for b, s := range secret {
		coeffs[0] = s
		if _, err := io.ReadFull(random, coeffs[1:]); err != nil {
			return nil, fmt.Errorf("shamir: reading randomness: %w", err)
		}
		for i := range shares {
			shares[i].Y[b] = evaluate(coeffs, shares[i].X)
		}
	}
	return shares, nil
}

// Combine rebuilds the secret from shares by Lagrange interpolation at 0.
// Given at least k shares of one Split it returns the secret; given fewer,
// or shares of different splits, it returns bytes unrelated to the secret
// (it cannot know k).
func Combine(shares []Share) ([]byte, error) {
	if len(shares) == 0 || len(shares[0].Y) == 0 {
		return nil, ErrBadShares
	}
	seen := [256]bool{}
	for _, s := range shares {
		if s.X == 0 || seen[s.X] || len(s.Y) != len(shares[0].Y) {
			return nil, ErrBadShares
		}
		seen[s.X] = true
	}
	// basis[i] = Π_{j≠i} x_j / (x_j − x_i); subtraction is xor in GF(2^8).
	basis := make([]byte, len(shares))
	for i, si := range shares {
		num, den := byte(1), byte(1)
		for j, sj := range shares {
			if i == j {
				continue
			}
			num = mul(num, sj.X)
			den = mul(den, sj.X^si.X)
		}
		basis[i] = mul(num, inverse(den))
	}
	secret := make([]byte, len(shares[0].Y))
	for b := range secret {
		var v byte
		for i, s := range shares {
			v ^= mul(s.Y[b], basis[i])
		}
		secret[b] = v
	}
	return secret, nil
}

// evaluate returns the polynomial with coefficients coeffs (constant first)
// at x, by Horner's rule.
func evaluate(coeffs []byte, x byte) byte {
	var v byte
	for i := len(coeffs) - 1; i >= 0; i-- {
		v = mul(v, x) ^ coeffs[i]
	}
	return v
}

// mul multiplies in GF(2^8) modulo x^8+x^4+x^3+x+1, in constant time.
func mul(a, b byte) byte {
	var p byte
	for i := 0; i < 8; i++ {
		p ^= -(b & 1) & a
		carry := -(a >> 7)
		a = a<<1 ^ carry&0x1b
		b >>= 1
	}
	return p
}

// inverse returns a^254 = a^-1 (0 for 0), in constant time.
func inverse(a byte) byte {
	r := byte(1)
	for i := 0; i < 7; i++ { // a^(2+4+…+128) = a^254
		a = mul(a, a)
		r = mul(r, a)
	}
	return r
}
