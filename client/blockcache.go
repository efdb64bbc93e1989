package client

import (
	"container/list"
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

// blockCache keeps blocks this device downloaded, so that reading a file
// again costs no download and an interrupted download resumes. Entries
// are the server's ciphertexts encrypted once more under a key derived
// from the device's state key: a stolen disk shows nothing without the
// passphrase. What is read from it is checked against the signed manifest
// like anything from the server.
//
// What the device uploads is not kept (it has the file), nor the blocks of
// a file larger than a quarter of the limit (keepsFile): a large
// sequential read would only push out everything else. The sizes and
// order of use are kept in memory, read from the directory once per
// session (in the background, at the first block added), and the least
// recently used blocks are removed in the background once the cache is
// over its limit: adding a block never walks the directory.
type blockCache struct {
	dir   string
	key   crypto.SecretKey
	limit int64

	mu       sync.Mutex
	index    map[string]*list.Element // path → its entry in lru
	lru      *list.List               // of *cacheEntry, most recently used first
	total    int64                    // bytes of the entries in index
	loading  bool                     // the directory is being read
	loaded   bool                     // index holds every file of the directory
	dropped  map[string]bool          // paths removed while loading
	evicting bool
	bg       sync.WaitGroup
}

type cacheEntry struct {
	path string
	size int64
}

func newBlockCache(dir string, stateKey crypto.SecretKey, limit int64) *blockCache {
	return &blockCache{dir: dir, key: crypto.DeriveKey(stateKey.Bytes(), "block-cache", nil), limit: limit,
		index: map[string]*list.Element{}, lru: list.New(), dropped: map[string]bool{}}
}

// close waits for the background work (reading the directory, evicting).
func (c *blockCache) close() { c.bg.Wait() }

// keepsFile reports whether the blocks of a file of size bytes are kept.
func (c *blockCache) keepsFile(size uint64) bool { return size <= uint64(c.limit/4) }

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
	data, err := c.key.DecryptInPlace(cacheAAD(vaultID, blockID), sealed) // sealed is ours: read just now
	if err != nil {
		c.drop(p) // damaged: fetch it again
		return nil, false
	}
	now := time.Now()
	os.Chtimes(p, now, now) // least recently used goes first, in the next sessions too
	c.mu.Lock()
	if e, ok := c.index[p]; ok {
		c.lru.MoveToFront(e)
	}
	c.mu.Unlock()
	return data, true
}

// remove drops a block.
func (c *blockCache) remove(vaultID, blockID string) {
	if p, ok := c.path(vaultID, blockID); ok {
		c.drop(p)
	}
}

func (c *blockCache) drop(p string) {
	os.Remove(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.index[p]; ok {
		c.total -= e.Value.(*cacheEntry).size
		c.lru.Remove(e)
		delete(c.index, p)
	}
	if c.loading {
		c.dropped[p] = true
	}
}

// put stores a block; a failure only means a later download.
func (c *blockCache) put(vaultID, blockID string, data []byte) {
	if c.limit <= 0 {
		return
	}
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
	defer c.mu.Unlock()
	if e, ok := c.index[p]; ok {
		c.total -= e.Value.(*cacheEntry).size
		c.lru.Remove(e)
	}
	c.index[p] = c.lru.PushFront(&cacheEntry{path: p, size: int64(len(sealed))})
	c.total += int64(len(sealed))
	delete(c.dropped, p)
	switch {
	case !c.loaded && !c.loading:
		c.loading = true
		c.bg.Add(1)
		go c.load()
	case c.loaded:
		c.evictLocked()
	}
}

// load reads the sizes and times of the files already in the directory,
// from earlier sessions, into the index, older than anything this session
// added.
func (c *blockCache) load() {
	defer c.bg.Done()
	type file struct {
		path string
		size int64
		used time.Time
	}
	var files []file
	filepath.WalkDir(c.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !certificate.ValidID(d.Name()) {
			return nil // .tmp files are a put in progress or a crash's leftover
		}
		if info, err := d.Info(); err == nil {
			files = append(files, file{p, info.Size(), info.ModTime()})
		}
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].used.After(files[j].used) })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range files {
		if _, ok := c.index[f.path]; ok || c.dropped[f.path] {
			continue
		}
		c.index[f.path] = c.lru.PushBack(&cacheEntry{path: f.path, size: f.size})
		c.total += f.size
	}
	c.loading, c.loaded = false, true
	c.dropped = map[string]bool{}
	c.evictLocked()
}

// evictLocked starts removing the least recently used blocks, in the
// background, if the cache is over its limit: down to 90% of it.
func (c *blockCache) evictLocked() {
	if c.total <= c.limit || c.evicting {
		return
	}
	var paths []string
	for c.total > c.limit*9/10 {
		e := c.lru.Back()
		if e == nil {
			break
		}
		ce := e.Value.(*cacheEntry)
		c.lru.Remove(e)
		delete(c.index, ce.path)
		c.total -= ce.size
		paths = append(paths, ce.path)
	}
	c.evicting = true
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		for _, p := range paths {
			os.Remove(p)
		}
		c.mu.Lock()
		c.evicting = false
		c.evictLocked() // what was added meanwhile
		c.mu.Unlock()
	}()
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
