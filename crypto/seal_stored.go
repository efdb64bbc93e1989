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
