package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// DefaultBlockCacheBytes bounds the local block cache.
const DefaultBlockCacheBytes = 1 << 30

// blockCache keeps blocks this device downloaded or uploaded, so that
// reading a file again costs no download. Entries are the server's
// ciphertexts encrypted once more under a key derived from the device's
// state key: a stolen disk shows nothing without the passphrase. What is
// read from it is checked against the signed manifest like anything from
// the server.
type blockCache struct {
	dir   string
	key   crypto.SecretKey
	limit int64

	mu      sync.Mutex
	written int64 // bytes added since the last trim
}

func newBlockCache(dir string, stateKey crypto.SecretKey, limit int64) *blockCache {
	return &blockCache{dir: dir, key: crypto.DeriveKey(stateKey.Bytes(), "block-cache", nil), limit: limit}
}

func (c *blockCache) path(vaultID, blockID string) (string, bool) {
	if !certificate.ValidID(vaultID) || !certificate.ValidID(blockID) {
		return "", false
	}
	return filepath.Join(c.dir, vaultID, blockID[:2], blockID), true
}

func cacheAAD(vaultID, blockID string) []byte {
	d := crypto.LabeledSum("aad/block-cache", []byte(vaultID), []byte(blockID))
	return d[:]
}

func (c *blockCache) get(vaultID, blockID string) ([]byte, bool) {
	p, ok := c.path(vaultID, blockID)
	if !ok {
		return nil, false
	}
	sealed, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	data, err := c.key.Decrypt(cacheAAD(vaultID, blockID), sealed)
	if err != nil {
		os.Remove(p) // damaged: fetch it again
		return nil, false
	}
	now := time.Now()
	os.Chtimes(p, now, now) // least recently used goes first
	return data, true
}

// remove drops a block.
func (c *blockCache) remove(vaultID, blockID string) {
	if p, ok := c.path(vaultID, blockID); ok {
		os.Remove(p)
	}
}

// put stores a block; a failure only means a later download.
func (c *blockCache) put(vaultID, blockID string, data []byte) {
	p, ok := c.path(vaultID, blockID)
	if !ok || os.MkdirAll(filepath.Dir(p), 0o700) != nil {
		return
	}
	sealed := c.key.Encrypt(cacheAAD(vaultID, blockID), data)
	tmp := p + ".tmp"
	if os.WriteFile(tmp, sealed, 0o600) != nil || os.Rename(tmp, p) != nil {
		os.Remove(tmp)
		return
	}
	c.mu.Lock()
	c.written += int64(len(sealed))
	trim := c.written > c.limit/8
	if trim {
		c.written = 0
	}
	c.mu.Unlock()
	if trim {
		c.trim()
	}
}

// trim deletes the least recently used blocks until the cache is under
// 90% of its limit.
func (c *blockCache) trim() {
	type file struct {
		path string
		size int64
		used time.Time
	}
	var files []file
	var total int64
	filepath.WalkDir(c.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			files = append(files, file{p, info.Size(), info.ModTime()})
			total += info.Size()
		}
		return nil
	})
	if total <= c.limit {
		return
	}
	sort.Slice(files, func(i, j int) bool { return files[i].used.Before(files[j].used) })
	for _, f := range files {
		if total <= c.limit*9/10 {
			break
		}
		if os.Remove(f.path) == nil {
			total -= f.size
		}
	}
}

// retry runs an idempotent call again while the server is unreachable, for
// about half a minute, so that a server restart in the middle of a long
// transfer is only a pause.
func retry(ctx context.Context, call func() error) error {
	delay := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := call()
		if !errors.Is(err, ErrServerUnavailable) || attempt >= 7 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 8*time.Second)
	}
}
