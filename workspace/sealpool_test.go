package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// A chunk sealed in its own buffer opens to exactly its bytes, whatever
// its buffer held past them (a previous, longer chunk), and is sealed in
// that buffer when it has room, in a new one when it has not.
func TestSealChunkPadsInItsBuffer(t *testing.T) {
	bufCap := sealedCap(2 << 20)
	for _, size := range []int{1, 4 << 10, 300 << 10, AvgChunk + 12345, 2 << 20, bufCap - chunkRoom - crypto.SecretOverhead, bufCap - chunkRoom - 1} {
		whole := bytes.Repeat([]byte{0xa5}, bufCap) // an old chunk's bytes past the new one
		plain := whole[chunkRoom : chunkRoom+size]
		copy(plain, crypto.RandomBytes(size))
		want := bytes.Clone(plain)
		b := Block{ID: certificate.NewID(), Key: crypto.NewSecretKey(), Digest: crypto.Sum(plain), Size: uint64(size)}
		ct := sealChunk("org", "vault", b, plain, whole)
		if got := len(ct); got != int(PaddedSize(uint64(size)))+crypto.SecretOverhead {
			t.Fatalf("%d bytes: sealed to %d bytes, want the padded size and the overhead", size, got)
		}
		inPlace := &ct[0] == &whole[0]
		if room := crypto.SecretOverhead+int(PaddedSize(uint64(size))) <= bufCap; inPlace != room {
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

// holdingServer is server, except that while failing is set its PutBlock
// fails and keeps the block it was given, as a gRPC call that failed may
// still be sending from the caller's buffer.
type holdingServer struct {
	*server
	mu         sync.Mutex
	failing    bool
	held, want [][]byte
}

var errHolding = errors.New("the call failed while sending")

func (s *holdingServer) PutBlock(ctx context.Context, vault, id string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		s.held, s.want = append(s.held, data), append(s.want, bytes.Clone(data))
		return errHolding
	}
	return s.server.PutBlock(ctx, vault, id, data)
}

// A block whose PutBlock failed keeps its buffer out of the chunker's pool
// for good: the next put's plaintext is never read into a buffer a failed
// call may still be sending from.
func TestFailedPutKeepsItsBuffer(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	srv := &holdingServer{server: &server{}, failing: true}
	keys, err := OpenKeys(m.org, m.vault, m.user, m.seal)
	if err != nil {
		t.Fatal(err)
	}
	v := Open(Deps{Org: m.org, Vault: m.vault, Keys: keys, Log: NewLog(m.org.ID, m.vault.ID), Remote: srv.server, Blocks: srv, Writer: m.writer,
		Persist: func(string, []RemoteEntry, certificate.Head) error { return nil }})
	if _, err := v.Put(ctx, "/a", bytes.NewReader(crypto.RandomBytes(8<<20)), nil); !errors.Is(err, errHolding) {
		t.Fatalf("the put with failing calls: %v", err)
	}
	if len(srv.held) == 0 {
		t.Fatal("no call was made")
	}
	srv.mu.Lock()
	srv.failing = false
	srv.mu.Unlock()
	for i := range 3 {
		if _, err := v.Put(ctx, fmt.Sprintf("/b%d", i), bytes.NewReader(crypto.RandomBytes(8<<20)), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range srv.held {
		if !bytes.Equal(srv.held[i], srv.want[i]) {
			t.Fatalf("the block of failed call %d of %d changed after it failed: its buffer was reused", i+1, len(srv.held))
		}
	}
}
