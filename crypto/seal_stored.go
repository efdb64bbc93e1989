package crypto

// SealPublicKeyFromVerified decodes b, the output of SealPublicKey.Bytes
// of a key that ParseSealPublicKey accepted before, without checking its
// ML-KEM part again: that check expands the key's matrix (30 to 150 µs
// here, seconds for the members of a large organisation). It is only for
// bytes this device verified and then stored authenticated under its own
// key (the organisation snapshot of its local state, SPEC.md §9); never for
// bytes that come from the server or another person, which go through
// ParseSealPublicKey. b is kept, not copied: the caller must not change it.
func SealPublicKeyFromVerified(b []byte) (SealPublicKey, error) {
	if err := checkEncoding("seal public key", b, AlgXWing, sealPubLen); err != nil {
		return SealPublicKey{}, err
	}
	return SealPublicKey{packed: b[1:len(b):len(b)]}, nil
}

// mlkemKeyValid is FIPS 203 §7.2's encapsulation key check 2 (the
// "modulus check") on the ML-KEM-768 part of an X-Wing public key, which
// comes first: each of the 768 12-bit coefficients of t̂ (ByteDecode₁₂ of
// the first 1152 bytes, little-endian pairs in three bytes) is below
// q = 3329, so that decoding and encoding again gives the same bytes. It
// is the check circl's Unpack makes, without expanding the key's matrix
// from ρ (most of Unpack's time, and needed only to encapsulate): parsing
// the seal keys of a large organisation's log costs microseconds each,
// not tens of them (TestSealKeyCheckIsCirclsUnpack).
func mlkemKeyValid(ek []byte) bool {
	const q, polyBytes = 3329, 3 * 384
	if len(ek) < polyBytes {
		return false
	}
	for i := 0; i < polyBytes; i += 3 {
		a := uint16(ek[i]) | uint16(ek[i+1]&0x0f)<<8
		b := uint16(ek[i+1]>>4) | uint16(ek[i+2])<<4
		if a >= q || b >= q {
			return false
		}
	}
	return true
}
