package workspace

import (
	"github.com/coffre/coffre/crypto"
)

// sealChunk is sealBlock for the put path, where plain is a chunk the
// caller owns whole (its capacity included): the padding is written in
// the chunk's own buffer and the block sealed from there, so that its
// plaintext is not copied into a padded buffer first (issue 15). The
// sealed buffer is a new one of the block's size: a pool of them kept
// MiBs alive across collections and raised the peak of a 10 GiB put from
// 93 to 123 MB.
func sealChunk(orgID, vaultID string, b Block, plain []byte) []byte {
	padded := int(PaddedSize(uint64(len(plain))))
	if cap(plain) < padded {
		return sealBlock(orgID, vaultID, b, plain)
	}
	in := plain[:padded]
	clear(in[len(plain):])
	return b.Key.EncryptTo(make([]byte, 0, padded+crypto.SecretOverhead), blockAAD(orgID, vaultID, b.ID), in)
}
