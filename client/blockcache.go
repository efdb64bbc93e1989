package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// DefaultBlockCacheBytes bounds the local block cache unless the data
// directory's settings say otherwise (SetBlockCacheBytes).
const DefaultBlockCacheBytes = 1 << 30

// settingsFile holds a data directory's settings: nothing secret or
// identifying (no name, no id), so it is plain JSON.
const settingsFile = "settings.json"

type settings struct {
	BlockCacheBytes *int64 `json:"block_cache_bytes,omitempty"`
}

// ErrBadSetting: a setting's value is out of range.
var ErrBadSetting = errors.New("bad setting")

// BlockCacheBytes returns the block cache limit of the data directory dir,
// and whether it was set (false: DefaultBlockCacheBytes).
func BlockCacheBytes(dir string) (int64, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, settingsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultBlockCacheBytes, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var st settings
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, false, fmt.Errorf("%w: %s: %v", ErrCorruptState, settingsFile, err)
	}
	if st.BlockCacheBytes == nil {
		return DefaultBlockCacheBytes, false, nil
	}
	return *st.BlockCacheBytes, true, nil
}

// SetBlockCacheBytes sets the block cache limit of the data directory dir
// for the sessions opened after it; 0 keeps no block. The cache is trimmed
// to it as blocks are added.
func SetBlockCacheBytes(dir string, n int64) error {
	if n < 0 {
		return fmt.Errorf("%w: the block cache size can't be negative", ErrBadSetting)
	}
	b, err := json.Marshal(settings{BlockCacheBytes: &n})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(dir, settingsFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, settingsFile))
}

// BlockCacheLimit is the size this session's block cache is kept under.
func (s *Session) BlockCacheLimit() int64 { return s.cache.limit }

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
