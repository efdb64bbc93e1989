package workspace

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// reusingServer is a server whose Blocks takes back the blocks it
// returned (BlockReuser) and at once writes over them, as the next block
// received into that memory would.
type reusingServer struct {
	*server
	mu    sync.Mutex
	given int
}

func (s *reusingServer) ReuseBlock(data []byte) {
	data = data[:cap(data)]
	for i := range data {
		data[i] = 0xee
	}
	s.mu.Lock()
	s.given++
	s.mu.Unlock()
}

// keepingCache keeps the ciphertext it is given, as the block cache does.
type keepingCache struct {
	mu   sync.Mutex
	kept map[string][]byte
}

func (c *keepingCache) BlockVerified(_, id string, ct []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kept[id] = ct
}

func (c *keepingCache) BlockRejected(string, string) {}

// A download gives each block's buffer back to a BlockReuser only once its
// plaintext is written, and never the ciphertext the block cache keeps:
// the file read back is whole though each buffer given back is written
// over at once, and so are the blocks kept (issue 15: the client receives
// each block in the memory of an earlier one).
func TestDownloadGivesBlocksBackOnceWritten(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	srv := &reusingServer{server: &server{}}
	kept := &keepingCache{kept: map[string][]byte{}}
	keys, err := OpenKeys(m.org, m.vault, m.user, m.seal)
	if err != nil {
		t.Fatal(err)
	}
	v := Open(Deps{Org: m.org, Vault: m.vault, Keys: keys, Log: NewLog(m.org.ID, m.vault.ID),
		Remote: srv, Blocks: srv, Cache: kept, Writer: m.writer, Parallel: 2,
		Persist: func(string, []RemoteEntry, certificate.Head) error { return nil }})
	if err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	data := crypto.RandomBytes(MaxChunk + 1<<20) // several blocks whatever the chunking secret
	ver, err := v.Put(ctx, "/f", bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	blocks := len(ver.Manifest.Blocks)
	if blocks < 2 {
		t.Fatalf("%d block: the test wants several", blocks)
	}

	var out bytes.Buffer
	if _, err := v.WriteTo(ctx, "/f", time.Time{}, &out, nil); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("read back %d bytes (want %d, equal: %v), %v", out.Len(), len(data), bytes.Equal(out.Bytes(), data), err)
	}
	dest := filepath.Join(t.TempDir(), "f")
	if _, err := v.Get(ctx, "/f", time.Time{}, dest, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes (equal: %v), %v", len(got), bytes.Equal(got, data), err)
	}
	if srv.given != 2*blocks {
		t.Errorf("%d buffers given back for two reads of %d blocks", srv.given, blocks)
	}
	// Both reads kept the file's blocks (a small file): what the cache
	// holds is each block as the server sent it.
	if len(kept.kept) != blocks {
		t.Fatalf("the cache kept %d blocks of %d", len(kept.kept), blocks)
	}
	for id, ct := range kept.kept {
		if !bytes.Equal(ct, srv.blocks[id]) {
			t.Fatalf("block %s kept in the cache was written over after it was given back", id)
		}
	}
}
