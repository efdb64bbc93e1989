package workspace

import (
	"bytes"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// A chunk sealed in its own buffer opens to exactly its bytes, whatever
// its buffer held past them (a previous, longer chunk), and is sealed in
// that buffer when it has room, in a new one when it has not.
func TestSealChunkPadsInItsBuffer(t *testing.T) {
	for _, size := range []int{1, 4 << 10, 300 << 10, AvgChunk + 12345, bigBuf - chunkRoom - crypto.SecretOverhead, bigBuf - chunkRoom - 1} {
		whole := bytes.Repeat([]byte{0xa5}, bigBuf) // an old chunk's bytes past the new one
		plain := whole[chunkRoom : chunkRoom+size]
		copy(plain, crypto.RandomBytes(size))
		want := bytes.Clone(plain)
		b := Block{ID: certificate.NewID(), Key: crypto.NewSecretKey(), Digest: crypto.Sum(plain), Size: uint64(size)}
		ct := sealChunk("org", "vault", b, plain, whole)
		if got := len(ct); got != int(PaddedSize(uint64(size)))+crypto.SecretOverhead {
			t.Fatalf("%d bytes: sealed to %d bytes, want the padded size and the overhead", size, got)
		}
		inPlace := &ct[0] == &whole[0]
		if room := crypto.SecretOverhead+int(PaddedSize(uint64(size))) <= bigBuf; inPlace != room {
			t.Errorf("%d bytes: sealed in its buffer %v, want %v (room for it: %v)", size, inPlace, room, room)
		}
		got, err := openBlock("org", "vault", b, ct)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: the sealed chunk opens to %d bytes, %v", size, len(got), err)
		}
	}
}

// The chunker leaves chunkRoom bytes before every chunk in its buffer,
// small inputs and large ones, so that each is sealed where it lies.
func TestChunksHaveRoomToSeal(t *testing.T) {
	for _, size := range []int{1000, MinChunk + 1, 5 * AvgChunk} {
		c := NewChunker([]byte("vault secret"), bytes.NewReader(crypto.RandomBytes(size)))
		for {
			chunk, whole, err := c.nextWhole()
			if err != nil {
				break
			}
			if &whole[chunkRoom] != &chunk[0] {
				t.Fatalf("%d bytes: a chunk of %d bytes does not start chunkRoom bytes into its buffer", size, len(chunk))
			}
			ReleaseChunk(whole)
		}
	}
}
