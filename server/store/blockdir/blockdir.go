// Package blockdir is the embedded block store: each block is a plain file,
// so that downloads read at file speed rather than at bbolt's speed for
// large cold values (BENCH.md).
//
// Layout under the store's directory:
//
//	<org id>/<vault id>/<first 2 characters of block id>/<block id>
//
// The two-character level keeps directories small (1,296 of them per vault
// at most). Every id is lowercase letters and digits, 8 to 64 of them, like
// every coffre id, so no id can name anything outside the directory.
// Temporary files start with a dot, which no id can.
package blockdir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/coffre/coffre/server/store"
)

// Store is a store.BlockStore kept as files in one directory.
type Store struct {
	dir string

	// dirSyncs groups the syncs of one directory: puts that linked their
	// block while a sync ran share the next one.
	dirSyncs sync.Map // directory → *dirSync

	// small, if set, keeps the small blocks of batches (smallblocks.go).
	small store.SmallBlocks

	mu sync.Mutex
	// synced holds directories known to be durably recorded in their
	// parent, so that their parent is synced once, not on every put.
	synced map[string]bool
}

var _ store.BlockStore = (*Store)(nil)

// maxSynced bounds Store.synced; forgetting costs one more directory sync.
const maxSynced = 4096

// Open opens the block store in dir, creating the directory if needed.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("opening block store: empty directory name")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening block store %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening block store %s: %w", dir, err)
	}
	return &Store{dir: dir, synced: map[string]bool{}}, nil
}

// Close does nothing: the store holds no open file between calls.
func (s *Store) Close() error { return nil }

// ReleasesData: PutBlock writes a block's bytes before it returns and
// keeps no reference to them (store.DataReleasing).
func (s *Store) ReleasesData() {}

var _ store.DataReleasing = (*Store)(nil)

// PutBlock writes data to a temporary file, syncs it, then links it under
// its name. A link, unlike a rename, never replaces an existing file: of
// two puts racing on one id, exactly one creates it and the other compares
// with what it created.
func (s *Store) PutBlock(ctx context.Context, orgID, vaultID, blockID string, data []byte) error {
	if err := s.putBlock(ctx, orgID, vaultID, blockID, data); err != nil {
		return fmt.Errorf("putting block %q of vault %q of %q: %w", blockID, vaultID, orgID, err)
	}
	return nil
}

func (s *Store) putBlock(ctx context.Context, orgID, vaultID, blockID string, data []byte) error {
	dir, err := s.putFile(ctx, orgID, vaultID, blockID, data, nil)
	if err != nil || dir == "" {
		return err
	}
	return s.syncDir(dir)
}

var _ store.GatedPutter = (*Store)(nil)

// PutBlockGated is PutBlock with the storage reservation run beside the
// write and fsync of the block's unnamed file, and the file linked only
// once the reservation succeeded (store.GatedPutter): a refused block's
// file is closed unnamed and the file system drops it. A put waited for
// the reservation's bbolt commit, then for its own fsyncs; that wait was
// the largest part of a 1 GiB put's server time (issue 15).
func (s *Store) PutBlockGated(ctx context.Context, orgID, vaultID, blockID string, data []byte, reserve func() error) error {
	result := make(chan error, 1)
	go func() { result <- reserve() }()
	var (
		once     sync.Once
		reserved error
	)
	gate := func() error {
		once.Do(func() { reserved = <-result })
		return reserved
	}
	dir, err := s.putFile(ctx, orgID, vaultID, blockID, data, gate)
	if rerr := gate(); rerr != nil {
		return rerr // nothing named by this call
	}
	if err == nil && dir != "" {
		err = s.syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("putting block %q of vault %q of %q: %w", blockID, vaultID, orgID, err)
	}
	return nil
}

// putFile writes and syncs a block's file and links it under its name. It
// returns the directory whose sync makes the name durable, or "" if the
// block was already there (durably: compare syncs). gate, if not nil, is
// called once the bytes are durable and before the link: its error drops
// the file unnamed and is returned.
func (s *Store) putFile(ctx context.Context, orgID, vaultID, blockID string, data []byte, gate func() error) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if len(data) > store.MaxBlockSize {
		return "", fmt.Errorf("%d bytes: %w", len(data), store.ErrBlockTooLarge)
	}
	dir, path, err := s.path(orgID, vaultID, blockID)
	if err != nil {
		return "", err
	}
	// A block already there is not written again (a retried upload).
	if err := s.compare(dir, path, data); !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := s.compareSmall(ctx, orgID, vaultID, blockID, data); !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := s.mkdirs(orgID, vaultID, blockID[:2]); err != nil {
		return "", err
	}
	err = writeLinked(dir, path, data, gate)
	if errors.Is(err, errNoTmpfile) {
		var tmp string
		if tmp, err = writeTemp(dir, data); err != nil {
			return "", err
		}
		if gate != nil {
			if err := gate(); err != nil {
				os.Remove(tmp)
				return "", err
			}
		}
		err = os.Link(tmp, path)
		if rmErr := os.Remove(tmp); rmErr != nil && err == nil {
			err = rmErr
		}
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		return "", s.compare(dir, path, data)
	case err != nil:
		return "", err
	}
	return dir, nil
}

// batchWriters is how many files of one PutBlocks are written and synced
// at once: concurrent fsyncs share the file system's journal commits.
const batchWriters = 8

// PutBlocks stores several blocks of one vault with one group commit
// (store.BlockBatcher): the small ones, if the store keeps them apart, in
// one transaction (putSmall); the others as files.
func (s *Store) PutBlocks(ctx context.Context, orgID, vaultID string, blocks []store.BlockData) error {
	small, files := s.splitSmall(blocks)
	err := s.putSmall(ctx, orgID, vaultID, small, 0)
	if len(files) > 0 {
		if ferr := s.putFiles(ctx, orgID, vaultID, files); err == nil {
			err = ferr
		}
	}
	return err
}

// putFiles stores blocks as files: every file is written and synced
// (batchWriters at a time) and linked, then each directory that got a new
// name is synced once, however many blocks it got.
func (s *Store) putFiles(ctx context.Context, orgID, vaultID string, blocks []store.BlockData) error {
	var (
		mu    sync.Mutex
		dirs  = map[string]bool{}
		first error
		wg    sync.WaitGroup
		next  = make(chan store.BlockData)
	)
	for range min(batchWriters, len(blocks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				dir, err := s.putFile(ctx, orgID, vaultID, b.ID, b.Data, nil)
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("putting block %q of vault %q of %q: %w", b.ID, vaultID, orgID, err)
				}
				if dir != "" {
					dirs[dir] = true
				}
				mu.Unlock()
			}
		}()
	}
	for _, b := range blocks {
		next <- b
	}
	close(next)
	wg.Wait()
	// The names linked are made durable even if another block failed:
	// whatever this call reports, a name it made is not lost to a crash.
	for dir := range dirs {
		if err := s.syncDir(dir); err != nil && first == nil {
			first = fmt.Errorf("putting blocks of vault %q of %q: %w", vaultID, orgID, err)
		}
	}
	return first
}

var _ store.BlockBatcher = (*Store)(nil)

// errNoTmpfile: the file system can't make unnamed files (writeLinked).
var errNoTmpfile = errors.New("no unnamed temporary files here")

// compare returns nil if the block at path holds data (and its name is
// durable), store.ErrExists if it holds other bytes, or the error reading
// it, fs.ErrNotExist if there is none.
func (s *Store) compare(dir, path string, data []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	same, err := sameContent(f, data)
	switch {
	case err != nil:
		return err
	case !same:
		return store.ErrExists
	}
	// The put that created the file may not have synced its directory yet.
	return s.syncDir(dir)
}

// sameContent reports whether f holds exactly data: sizes first, then
// bytes, a chunk at a time.
func sameContent(f *os.File, data []byte) (bool, error) {
	info, err := f.Stat()
	if err != nil {
		return false, err
	}
	if info.Size() != int64(len(data)) {
		return false, nil
	}
	buf := make([]byte, min(len(data), 64<<10))
	for off := 0; off < len(data); {
		n, err := io.ReadFull(f, buf[:min(len(buf), len(data)-off)])
		if err != nil {
			return false, err // the file shrank under us: not what we expect
		}
		if !bytes.Equal(buf[:n], data[off:off+n]) {
			return false, nil
		}
		off += n
	}
	return true, nil
}

// writeTemp writes data to a new file in dir, syncs it and returns its
// name.
func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".put-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// GetBlock reads one block.
func (s *Store) GetBlock(ctx context.Context, orgID, vaultID, blockID string) ([]byte, error) {
	data, err := s.getBlock(ctx, orgID, vaultID, blockID)
	if err != nil {
		return nil, fmt.Errorf("getting block %q of vault %q of %q: %w", blockID, vaultID, orgID, err)
	}
	return data, nil
}

func (s *Store) getBlock(ctx context.Context, orgID, vaultID, blockID string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if data, err := s.getSmall(ctx, orgID, vaultID, blockID); !errors.Is(err, store.ErrNotFound) {
		return data, err
	}
	_, path, err := s.path(orgID, vaultID, blockID)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, store.ErrNotFound
	}
	return data, err
}

// path returns the directory and the file of a block, after checking
// every id.
func (s *Store) path(orgID, vaultID, blockID string) (dir, path string, err error) {
	if err := store.CheckBlockIDs(orgID, vaultID, blockID); err != nil {
		return "", "", err
	}
	dir = filepath.Join(s.dir, orgID, vaultID, blockID[:2])
	return dir, filepath.Join(dir, blockID), nil
}

// mkdirs makes the directories names under s.dir, each after the other,
// and syncs the parent of each one not known to be durable: a block whose
// directory is lost in a power cut is lost with it.
func (s *Store) mkdirs(names ...string) error {
	parent := s.dir
	for _, name := range names {
		dir := filepath.Join(parent, name)
		s.mu.Lock()
		known := s.synced[dir]
		s.mu.Unlock()
		if !known {
			// Made now or by another put that may not have synced the
			// parent yet: sync it either way.
			if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			if err := syncDir(parent); err != nil {
				return err
			}
			s.mu.Lock()
			if len(s.synced) >= maxSynced {
				clear(s.synced)
			}
			s.synced[dir] = true
			s.mu.Unlock()
		}
		parent = dir
	}
	return nil
}

// dirSync is the group commit of one directory's syncs.
type dirSync struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	waiters int              // calls in syncDir
	started uint64           // syncs started
	done    uint64           // the newest sync finished
	failed  map[uint64]error // syncs that failed, by number
}

// syncDir makes what was linked in dir before the call durable: by a sync
// that starts after the call, shared by every put waiting for one.
func (s *Store) syncDir(dir string) error {
	v, _ := s.dirSyncs.LoadOrStore(dir, &dirSync{})
	d := v.(*dirSync)
	d.mu.Lock()
	d.waiters++
	defer func() {
		// Forgotten when idle, so that the map holds only directories
		// being written (one that loaded d meanwhile still syncs
		// correctly, only without company).
		if d.waiters--; d.waiters == 0 && !d.running {
			s.dirSyncs.CompareAndDelete(dir, d)
		}
		d.mu.Unlock()
	}()
	if d.cond == nil {
		d.cond = sync.NewCond(&d.mu)
		d.failed = map[uint64]error{}
	}
	ticket := d.started + 1 // the next sync to start covers this call
	for d.done < ticket {
		if d.running {
			d.cond.Wait()
			continue
		}
		d.running = true
		d.started++
		n := d.started
		d.mu.Unlock()
		err := syncDir(dir)
		d.mu.Lock()
		d.running, d.done = false, n
		if err != nil {
			d.failed[n] = err
		}
		d.cond.Broadcast()
	}
	return d.failed[ticket] // d is forgotten, failures with it, once no call waits
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if closeErr := d.Close(); err == nil {
		err = closeErr
	}
	return err
}
