package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"

	"github.com/coffre/coffre/crypto"
)

// batchingServer is server with PutBlocks: it records each batch's size
// and fails every batch once failing is set.
type batchingServer struct {
	*server
	mu      sync.Mutex
	batches []int
	failing error
}

func (s *batchingServer) PutBlocks(ctx context.Context, vault string, blocks []BlockData) error {
	s.mu.Lock()
	s.batches = append(s.batches, len(blocks))
	err := s.failing
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for _, b := range blocks {
		if err := s.PutBlock(ctx, vault, b.ID, b.Data); err != nil {
			return err
		}
	}
	return nil
}

func smallItems(prefix string, n int) ([]PutItem, map[string][]byte) {
	items, want := make([]PutItem, n), map[string][]byte{}
	for i := range items {
		p := fmt.Sprintf("/%s%03d", prefix, i)
		data := crypto.RandomBytes(4096)
		want[p] = data
		items[i] = PutItem{Path: p, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
	}
	return items, want
}

// TestPutFilesBatchesSmallBlocks: the blocks of small files go through
// PutBlocks in batches within the limits, every file reads back, and a
// large file beside them goes block by block; a failed batch fails the
// call and commits nothing (no manifest names a block not stored).
func TestPutFilesBatchesSmallBlocks(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	srv := &batchingServer{server: &server{}}
	d := Deps{}
	keys, err := OpenKeys(m.org, m.vault, m.user, m.seal)
	if err != nil {
		t.Fatal(err)
	}
	d.Org, d.Vault, d.Keys, d.Log = m.org, m.vault, keys, NewLog(m.org.ID, m.vault.ID)
	d.Remote, d.Blocks, d.Writer = srv.server, srv, m.writer
	d.Persist = func(string, []RemoteEntry, certificate.Head) error { return nil }
	v := Open(d)

	items, want := smallItems("f", 300)
	large := crypto.RandomBytes(12 << 20)
	want["/large"] = large
	items = append(items, PutItem{Path: "/large", Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(large)), nil }})
	if _, err := v.PutFiles(ctx, items); err != nil {
		t.Fatal(err)
	}
	batched := 0
	for _, n := range srv.batches {
		if n < 2 || n > batchBlocks {
			t.Errorf("a batch of %d blocks, want 2 to %d", n, batchBlocks)
		}
		batched += n
	}
	if batched < 290 || batched > 300 {
		t.Errorf("%d blocks went in %d batches, want the 300 small files' (a last one alone may go as PutBlock)", batched, len(srv.batches))
	}
	for p, data := range want {
		var out bytes.Buffer
		if _, err := v.WriteTo(ctx, p, time.Time{}, &out, nil); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("%s read back %d bytes, %v", p, out.Len(), err)
		}
	}

	head := v.Log().Head
	refused := errors.New("refused")
	srv.failing = refused
	items, _ = smallItems("g", 20)
	if _, err := v.PutFiles(ctx, items); !errors.Is(err, refused) {
		t.Fatalf("PutFiles with its batch refused: %v, want the refusal", err)
	}
	if v.Log().Head.Position != head.Position {
		t.Fatal("PutFiles committed although its batch of blocks was refused")
	}
}
