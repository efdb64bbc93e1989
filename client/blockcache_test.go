package client

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// cacheFiles counts the block files in a cache directory and their bytes.
func cacheFiles(t *testing.T, dir string) (n int, bytes int64) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			info, _ := d.Info()
			n++
			bytes += info.Size()
		}
		return nil
	})
	return n, bytes
}

// TestBlockCacheEvictsLeastRecentlyUsed: the cache stays under its limit
// without walking its directory at each block, evicts the least recently
// used blocks first (a block read again stays), and a new session knows
// the blocks of the previous ones.
func TestBlockCacheEvictsLeastRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	key := crypto.NewSecretKey()
	const block = 64 << 10
	const limit = 20 * block // about 19 sealed blocks
	vault := certificate.NewID()
	data := bytes.Repeat([]byte{7}, block)

	c := newBlockCache(dir, key, limit)
	var ids []string
	for range 10 {
		id := certificate.NewID()
		ids = append(ids, id)
		c.put(vault, id, data)
	}
	c.close()
	// A second session: reads the first block (now the most recently
	// used), then adds 20 more.
	time.Sleep(10 * time.Millisecond) // distinct modification times
	c = newBlockCache(dir, key, limit)
	if got, ok := c.get(vault, ids[0]); !ok || !bytes.Equal(got, data) {
		t.Fatalf("block 0 not read back from an earlier session's cache")
	}
	for range 20 {
		id := certificate.NewID()
		ids = append(ids, id)
		c.put(vault, id, data)
		c.get(vault, ids[0]) // keep using block 0
	}
	c.close()
	n, size := cacheFiles(t, dir)
	if size > limit {
		t.Errorf("cache holds %d bytes in %d files, over its limit of %d", size, n, limit)
	}
	if _, ok := c.get(vault, ids[0]); !ok {
		t.Errorf("the block used all along was evicted")
	}
	if _, ok := c.get(vault, ids[1]); ok {
		t.Errorf("the least recently used block is still there")
	}
	if _, ok := c.get(vault, ids[len(ids)-1]); !ok {
		t.Errorf("the newest block was evicted")
	}
	c.close()
}

// TestBlockCacheKeepsSmallFilesOnly: blocks of a file larger than a quarter
// of the limit are not kept; a limit of 0 keeps nothing.
func TestBlockCacheKeepsSmallFilesOnly(t *testing.T) {
	c := newBlockCache(t.TempDir(), crypto.NewSecretKey(), 1<<30)
	if !c.keepsFile(256<<20) || c.keepsFile(256<<20+1) {
		t.Errorf("keepsFile: the bound is not a quarter of the limit")
	}
	dir := t.TempDir()
	c = newBlockCache(dir, crypto.NewSecretKey(), 0)
	c.put(certificate.NewID(), certificate.NewID(), []byte("x"))
	c.close()
	if n, _ := cacheFiles(t, dir); n != 0 || c.keepsFile(1) {
		t.Errorf("a cache of limit 0 keeps %d files", n)
	}
}
