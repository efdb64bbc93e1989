package blockdir

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/wire"
)

// TestGetBlockIntoReadsColdAndCached: GetBlockInto returns every block
// as put, in a buffer of the caller's pool, whether the page cache holds
// the block file (copied from it) or not (read around it), whatever the
// size against the page.
func TestGetBlockIntoReadsColdAndCached(t *testing.T) {
	s := mustOpen(t)
	ctx := context.Background()
	org, vault := certificate.NewID(), certificate.NewID()
	pool := wire.NewBufferPool()
	for _, size := range []int{1, 4095, 4096, 4097, 1<<20 - 1, 1 << 20, 1<<20 + 4097} {
		id, data := certificate.NewID(), crypto.RandomBytes(size)
		if err := s.PutBlock(ctx, org, vault, id, data); err != nil {
			t.Fatal(err)
		}
		_, path, _ := s.path(org, vault, id)
		for _, cold := range []bool{true, false} {
			if cold {
				dropFromCache(t, path)
			} else {
				os.ReadFile(path) // now in the page cache
			}
			got, buf, err := s.GetBlockInto(ctx, org, vault, id, pool.Get)
			if err != nil {
				t.Fatalf("%d bytes, cold %v: %v", size, cold, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("%d bytes, cold %v: read back as %d other bytes", size, cold, len(got))
			}
			if buf == nil || &(*buf)[0] != &got[0] {
				t.Fatalf("%d bytes, cold %v: not read into the pool's buffer", size, cold)
			}
			pool.Put(buf)
			if n := cachedPages(t, path); cold && n > 0 {
				t.Fatalf("%d bytes: a cold read left %d pages in the page cache, want it read around it", size, n)
			}
		}
	}
	if _, _, err := s.GetBlockInto(ctx, org, vault, certificate.NewID(), pool.Get); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a block that was never put: %v, want %v", err, store.ErrNotFound)
	}
}

// dropFromCache asks the kernel to drop path's pages from the page cache.
func dropFromCache(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// cachedPages is how many pages of path the page cache holds.
func cachedPages(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Cachestat_t
	if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &st, 0); err != nil {
		t.Skipf("no cachestat here: %v", err)
	}
	return st.Cache
}
