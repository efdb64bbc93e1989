package workspace

import (
	"bytes"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// A chunk sealed in its own buffer opens to exactly its bytes, whatever
// its buffer held past them (a previous, longer chunk).
func TestSealChunkPadsInItsBuffer(t *testing.T) {
	for _, size := range []int{1, 4 << 10, 300 << 10, AvgChunk + 12345, bigBuf - 1} {
		buf := bytes.Repeat([]byte{0xa5}, bigBuf) // an old chunk's bytes past the new one
		plain := buf[:size]
		copy(plain, crypto.RandomBytes(size))
		want := bytes.Clone(plain)
		b := Block{ID: certificate.NewID(), Key: crypto.NewSecretKey(), Digest: crypto.Sum(plain), Size: uint64(size)}
		ct := sealChunk("org", "vault", b, plain)
		if got := len(ct); got != int(PaddedSize(uint64(size)))+crypto.SecretOverhead {
			t.Fatalf("%d bytes: sealed to %d bytes, want the padded size and the overhead", size, got)
		}
		got, err := openBlock("org", "vault", b, ct)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: the sealed chunk opens to %d bytes, %v", size, len(got), err)
		}
	}
}
